//! TLS for listeners and cascades: the server certificate, rustls
//! configurations for both sides.
//!
//! SoftEther presents one RSA certificate on every listener and every
//! connection of a session must see the same certificate
//! (docs/protocol-sslvpn.md §2.2, §2.4). Session tickets are off, as SoftEther
//! sets OpenSSL's `NO_TICKET`.

use std::sync::Arc;

use anyhow::{anyhow, Context};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer};

/// A certificate and its private key, both DER, as stored in the
/// configuration (`ServerCert` / `ServerKey`).
#[derive(Clone)]
pub struct CertifiedKey {
    /// DER X.509 certificate.
    pub cert_der: Vec<u8>,
    /// DER private key: PKCS#1 `RSAPrivateKey` (what SoftEther writes) or PKCS#8.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert_der_len", &self.cert_der.len())
            .finish_non_exhaustive()
    }
}

/// Generates a self-signed RSA-2048 certificate like SoftEther's default
/// (subject CN/O/OU = `common_name`, C = US; SoftEther `src/Cedar/Server.c`
/// `SiGenerateDefaultCert`). The key is returned as PKCS#1 DER so the
/// configuration file stays readable by SoftEther itself.
///
/// Errors: key generation failure in the crypto backend.
pub fn generate_self_signed(common_name: &str) -> anyhow::Result<CertifiedKey> {
    use rcgen::{CertificateParams, DnType, KeyPair, PKCS_RSA_SHA256};
    let key = KeyPair::generate_for(&PKCS_RSA_SHA256).context("generating RSA-2048 key")?;
    let mut params =
        CertificateParams::new(vec![common_name.to_string()]).context("certificate parameters")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, common_name);
    params.distinguished_name.push(DnType::CountryName, "US");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2037, 12, 31);
    let cert = params.self_signed(&key).context("self-signing")?;
    let pkcs8 = key.serialize_der();
    let key_der = pkcs8_rsa_to_pkcs1(&pkcs8).unwrap_or(pkcs8);
    Ok(CertifiedKey {
        cert_der: cert.der().to_vec(),
        key_der,
    })
}

/// Interprets configuration key bytes: PKCS#1 first (SoftEther), then PKCS#8.
fn private_key(der: &[u8]) -> PrivateKeyDer<'static> {
    // PKCS#8 starts SEQUENCE { INTEGER 0, SEQUENCE { OID ... } }; PKCS#1 has
    // INTEGER 0 followed by another INTEGER (the modulus).
    if looks_like_pkcs8(der) {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()))
    } else {
        PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.to_vec()))
    }
}

/// SoftEther's default `CipherName` (`ServerConfiguration`): every suite.
pub const DEFAULT_CIPHER: &str = "~DEFAULT~";

/// SoftEther's cipher names (OpenSSL's, as vpncmd `ServerCipherGet` lists
/// them on SoftEther 5.01) that have a rustls suite, in SoftEther's order.
/// The other names SoftEther lists (DHE-*, CBC and plain-RSA suites) have
/// none and are refused; ECDSA suites never negotiate with the RSA
/// certificate SoftEther and RustEther use (docs/administration.md).
pub const CIPHER_NAMES: &[(&str, rustls::CipherSuite)] = {
    use rustls::CipherSuite as C;
    &[
        ("TLS_AES_256_GCM_SHA384", C::TLS13_AES_256_GCM_SHA384),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            C::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        ("TLS_AES_128_GCM_SHA256", C::TLS13_AES_128_GCM_SHA256),
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-RSA-AES256-GCM-SHA384",
            C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-RSA-CHACHA20-POLY1305",
            C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
    ]
};

/// The rustls suites selected by a SoftEther `CipherName` value: names
/// separated by `;`, `:`, `,` or spaces, case-insensitive, looked up in
/// [`CIPHER_NAMES`]; names without a rustls suite are ignored.
/// [`DEFAULT_CIPHER`] or an empty value selects every suite.
///
/// Errors: no name selects a suite (the message lists the names).
pub fn cipher_suites(names: &str) -> Result<Vec<rustls::SupportedCipherSuite>, String> {
    let all = rustls::crypto::aws_lc_rs::default_provider().cipher_suites;
    let trimmed = names.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case(DEFAULT_CIPHER) {
        return Ok(all);
    }
    let mut out = Vec::new();
    for n in trimmed
        .split([';', ':', ',', ' '])
        .filter(|n| !n.is_empty())
    {
        let Some((_, id)) = CIPHER_NAMES.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)) else {
            continue;
        };
        if let Some(s) = all.iter().find(|s| s.suite() == *id) {
            if !out.contains(s) {
                out.push(*s);
            }
        }
    }
    if out.is_empty() {
        return Err(format!("no usable TLS cipher suite in \"{trimmed}\""));
    }
    Ok(out)
}

/// Builds the rustls server configuration for all listeners with every
/// cipher suite ([`DEFAULT_CIPHER`]).
///
/// Errors: the certificate or key do not parse or do not match.
pub fn server_config(ck: &CertifiedKey) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    server_config_with_ciphers(ck, DEFAULT_CIPHER)
}

/// Builds the rustls server configuration for all listeners with the
/// suites `cipher_names` selects ([`cipher_suites`]); a TLS version none of
/// them belongs to is switched off.
///
/// Errors: the certificate or key do not parse or do not match; no usable
/// suite in `cipher_names`.
pub fn server_config_with_ciphers(
    ck: &CertifiedKey,
    cipher_names: &str,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let suites = cipher_suites(cipher_names).map_err(|e| anyhow!(e))?;
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if suites
        .iter()
        .any(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_)))
    {
        versions.push(&rustls::version::TLS13);
    }
    if suites
        .iter()
        .any(|s| matches!(s, rustls::SupportedCipherSuite::Tls12(_)))
    {
        versions.push(&rustls::version::TLS12);
    }
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: suites,
        ..rustls::crypto::aws_lc_rs::default_provider()
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| anyhow!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(ck.cert_der.clone())],
            private_key(&ck.key_der),
        )
        .map_err(|e| anyhow!("server certificate/key rejected: {e}"))?;
    cfg.send_tls13_tickets = 0;
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(Arc::new(cfg))
}

/// Builds a rustls client configuration for cascade connections that does
/// not verify the server certificate (SoftEther's default, `CheckServerCert`
/// off; docs/protocol-sslvpn.md §2.4). Certificate pinning is done by the caller
/// comparing the presented certificate.
pub fn client_config_no_verify() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("aws-lc-rs supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth();
    Arc::new(cfg)
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// --- minimal DER walking, enough to tell PKCS#8 from PKCS#1 and unwrap RSA keys ---

/// Reads one DER TLV at the start of `b`: (tag, content, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&l0, mut rest) = rest.split_first()?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &d in &rest[..n] {
            len = (len << 8) | usize::from(d);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn looks_like_pkcs8(der: &[u8]) -> bool {
    let Some((0x30, body, _)) = der_tlv(der) else {
        return false;
    };
    let Some((0x02, _, rest)) = der_tlv(body) else {
        return false;
    };
    matches!(der_tlv(rest), Some((0x30, _, _)))
}

/// Extracts the PKCS#1 `RSAPrivateKey` from a PKCS#8 `PrivateKeyInfo`.
fn pkcs8_rsa_to_pkcs1(der: &[u8]) -> Option<Vec<u8>> {
    const RSA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let (0x30, body, _) = der_tlv(der)? else {
        return None;
    };
    let (0x02, _, rest) = der_tlv(body)? else {
        return None;
    };
    let (0x30, alg, rest) = der_tlv(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der_tlv(alg)? else {
        return None;
    };
    if oid != RSA_OID {
        return None;
    }
    let (0x04, key, _) = der_tlv(rest)? else {
        return None;
    };
    Some(key.to_vec())
}

/// Installs the process-wide default crypto provider once (rustls requires
/// one when builders are used without an explicit provider elsewhere).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_is_pkcs1_and_loads() {
        let ck = generate_self_signed("rustether-test").unwrap();
        assert!(!looks_like_pkcs8(&ck.key_der), "stored as PKCS#1");
        assert!(matches!(der_tlv(&ck.key_der), Some((0x30, _, _))));
        server_config(&ck).expect("rustls accepts the pair");
        client_config_no_verify();
    }

    #[test]
    fn mismatched_key_is_rejected() {
        let a = generate_self_signed("a").unwrap();
        let b = generate_self_signed("b").unwrap();
        let mixed = CertifiedKey {
            cert_der: a.cert_der,
            key_der: b.key_der,
        };
        // rustls checks the key against the certificate's public key.
        assert!(server_config(&mixed).is_err());
    }

    #[test]
    fn der_walker_rejects_garbage() {
        assert!(der_tlv(&[]).is_none());
        assert!(der_tlv(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_none());
        assert!(der_tlv(&[0x30, 0x05, 1]).is_none());
        assert!(!looks_like_pkcs8(b"not der at all"));
        assert!(pkcs8_rsa_to_pkcs1(b"\x30\x03\x02\x01\x00").is_none());
    }
}
