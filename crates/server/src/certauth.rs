//! Certificate authentication of VPN users: the checks of SoftEther's
//! `ServerAccept` for `authtype` 3 (`src/Cedar/Protocol.c`) and
//! `SamAuthUserByCert` / `GetIssuerFromList` (`src/Cedar/Sam.c`), as pure
//! functions over DER bytes (no I/O; the caller supplies the time).
//!
//! The SoftEther client does not present its certificate in TLS (the server
//! never asks for one on the SoftEther protocol): it sends the DER
//! certificate in the login PACK (`cert`) together with `sign`, an
//! RSASSA-PKCS1-v1_5 signature with SHA-1 of the connection's 20-byte
//! hello random (`RsaSignEx` in `src/Mayaqua/Encrypt.c`), which proves that
//! it holds the private key. Then, as SoftEther:
//!
//! 1. the certificate must carry an RSA key whose size in bytes equals the
//!    signature's length, and the signature must verify;
//! 2. the certificate must be valid now (`CheckXDateNow`);
//! 3. the certificate must not be revoked by the hub's CRL entries
//!    (`IsValidCertInHub`: serial number, optionally with the issuer's
//!    name);
//! 4. a user with an individual certificate (`UserCertSet`, `AuthType` 2)
//!    matches when the DER bytes are identical (`CompareX`); a user
//!    "signed by a trusted CA" (`UserSignedSet`, `AuthType` 3) matches when
//!    one of the hub's trusted certificates (`CertList`) that is valid now
//!    has the certificate's issuer as subject and a key that verifies the
//!    certificate's signature, or is the certificate itself; then the
//!    user's common name (case-insensitive) and serial number, when set,
//!    must match too.
//!
//! Every refusal is answered with `ERR_AUTH_FAILED` (9), as SoftEther does;
//! [`CertRefusal`] says why, for the log.

use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY};
use x509_parser::prelude::*;

/// Largest `cert` SoftEther accepts in a login, bytes (`ServerAccept`).
pub const MAX_CERT_BYTES: usize = 100_000;
/// Largest `sign` SoftEther accepts, bytes (a 4096-bit RSA signature).
pub const MAX_SIGN_BYTES: usize = 4096 / 8;

/// What a user's account says about certificates (the user side of
/// `SamAuthUserByCert`).
#[derive(Clone, Copy, Debug)]
pub enum CertUser<'a> {
    /// `AuthType` 2: exactly this DER certificate.
    Individual(&'a [u8]),
    /// `AuthType` 3: any certificate signed by a trusted CA of the hub,
    /// with these common name and serial number when given.
    SignedByTrustedCa {
        /// `AuthCommonName`: compared case-insensitively.
        common_name: Option<&'a str>,
        /// `AuthSerial`: big-endian bytes, compared without leading zeros.
        serial: Option<&'a [u8]>,
    },
}

/// One revocation entry of a hub (`CrlList`, `CRL` in SoftEther
/// `src/Cedar/Hub.h`): a certificate matches when every field that is set
/// matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevokedCert {
    /// Serial number, big-endian bytes (compared without leading zeros).
    pub serial: Option<Vec<u8>>,
    /// Subject common name, compared case-insensitively.
    pub common_name: Option<String>,
    /// Subject organization (`O`), compared case-insensitively.
    pub organization: Option<String>,
    /// Subject organizational unit (`OU`).
    pub unit: Option<String>,
    /// Subject country (`C`).
    pub country: Option<String>,
    /// Subject state or province (`ST`).
    pub state: Option<String>,
    /// Subject locality (`L`).
    pub local: Option<String>,
    /// MD5 of the DER certificate.
    pub digest_md5: Option<[u8; 16]>,
    /// SHA-1 of the DER certificate.
    pub digest_sha1: Option<[u8; 20]>,
}

/// Most CRL entries per hub (`MAX_HUB_CRLS`, src/Cedar/Cedar.h).
pub const MAX_HUB_CRLS: usize = 4096;

impl RevokedCert {
    /// The subject fields in SoftEther's order with their short names.
    fn names(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("CN", &self.common_name),
            ("O", &self.organization),
            ("OU", &self.unit),
            ("C", &self.country),
            ("ST", &self.state),
            ("L", &self.local),
        ]
    }

    /// The one-line description `EnumCrl` shows (`GenerateCrlStr`):
    /// `Subject="CN=…, O=…", Serial="12 34", MD5="…", SHA1="…"`.
    pub fn info(&self) -> String {
        let spaced = |b: &[u8]| {
            b.iter()
                .map(|v| format!("{v:02X}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let subject = self
            .names()
            .iter()
            .filter_map(|(k, v)| {
                v.as_deref()
                    .filter(|v| !v.is_empty())
                    .map(|v| format!("{k}={v}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut parts = vec![format!("Subject=\"{subject}\"")];
        if let Some(s) = &self.serial {
            parts.push(format!("Serial=\"{}\"", spaced(s)));
        }
        if let Some(d) = &self.digest_md5 {
            parts.push(format!("MD5=\"{}\"", spaced(d)));
        }
        if let Some(d) = &self.digest_sha1 {
            parts.push(format!("SHA1=\"{}\"", spaced(d)));
        }
        parts.join(", ")
    }

    /// Reads one entry folder of `SecurityAccountDatabase/CrlList`
    /// (`SiLoadCrlList`, src/Cedar/Server.c): names as strings, `Serial`
    /// and the digests as hex strings (digests only at their exact size).
    pub fn from_folder(f: &rustether_config::Folder) -> RevokedCert {
        let text = |k: &str| {
            f.get_str(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let bin = |k: &str| f.get_str(k).and_then(hex_bytes).filter(|b| !b.is_empty());
        RevokedCert {
            serial: bin("Serial"),
            common_name: text("CommonName"),
            organization: text("Organization"),
            unit: text("Unit"),
            country: text("Country"),
            state: text("State"),
            local: text("Local"),
            digest_md5: bin("DigestMD5").and_then(|b| b.try_into().ok()),
            digest_sha1: bin("DigestSHA1").and_then(|b| b.try_into().ok()),
        }
    }

    /// The entry folder `name` as `SiWriteCrlList` writes it (unset fields
    /// left out, binary fields as upper-case hex).
    pub fn to_folder(&self, name: &str) -> rustether_config::Folder {
        let mut f = rustether_config::Folder::new(name);
        let hex = |b: &[u8]| b.iter().map(|v| format!("{v:02X}")).collect::<String>();
        for (k, v) in [
            ("CommonName", &self.common_name),
            ("Organization", &self.organization),
            ("Unit", &self.unit),
            ("Country", &self.country),
            ("State", &self.state),
            ("Local", &self.local),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                f.set_str(k, v);
            }
        }
        if let Some(d) = &self.digest_md5 {
            f.set_str("DigestMD5", &hex(d));
        }
        if let Some(d) = &self.digest_sha1 {
            f.set_str("DigestSHA1", &hex(d));
        }
        if let Some(s) = &self.serial {
            f.set_str("Serial", &hex(s));
        }
        f
    }
}

/// Hex digits (spaces allowed between bytes, as `StrToBin`); `None` if
/// anything else is in the text or it is longer than a certificate
/// field can be.
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) || digits.len() > 2 * 64 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// The CRL of a hub: the entries of `SecurityAccountDatabase/CrlList` in
/// the hub's folder (at most [`MAX_HUB_CRLS`] are read).
pub fn hub_crl(hub: &rustether_config::Folder) -> Vec<RevokedCert> {
    hub.folder("SecurityAccountDatabase")
        .and_then(|db| db.folder("CrlList"))
        .map(|l| {
            l.folders
                .iter()
                .take(MAX_HUB_CRLS)
                .map(RevokedCert::from_folder)
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces the CRL of a hub (folders `Crl0`, `Crl1`, … as SoftEther).
pub fn set_hub_crl(hub: &mut rustether_config::Folder, list: &[RevokedCert]) {
    let l = hub
        .folder_or_insert("SecurityAccountDatabase")
        .folder_or_insert("CrlList");
    l.folders = list
        .iter()
        .enumerate()
        .map(|(i, c)| c.to_folder(&format!("Crl{i}")))
        .collect();
}

/// Why a certificate login was refused (all answered with
/// `ERR_AUTH_FAILED`, 9).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertRefusal {
    /// `cert` or `sign` missing, too large, or not a DER X.509 certificate.
    #[error("the certificate is missing, too large or not a DER X.509 certificate")]
    Malformed,
    /// The key is not RSA, or the signature's length is not the key's size.
    #[error("the certificate's key is not RSA or the signature does not have its size")]
    NotRsa,
    /// The signature of the hello random does not verify.
    #[error("the signature of the login does not verify with the certificate's key")]
    BadSignature,
    /// Outside the certificate's validity period.
    #[error("the certificate is not valid now (expired or not yet valid)")]
    Expired,
    /// Listed in the hub's revocation list.
    #[error("the certificate is revoked")]
    Revoked,
    /// Not the user's registered certificate.
    #[error("the certificate is not the one registered for the user")]
    NotTheUsersCertificate,
    /// Not signed by any trusted CA of the hub.
    #[error("the certificate is not signed by a trusted CA of the hub")]
    NotTrusted,
    /// The common name differs from the user's.
    #[error("the certificate's common name does not match the user's")]
    CommonName,
    /// The serial number differs from the user's.
    #[error("the certificate's serial number does not match the user's")]
    Serial,
}

/// Checks a certificate login (see the module documentation): `cert` and
/// `sign` from the login PACK, `random` the connection's hello random,
/// `trusted` the hub's trusted CA certificates (DER), `revoked` its CRL
/// entries, `now_unix` the time in seconds since 1970.
pub fn verify_cert_login(
    cert: &[u8],
    sign: &[u8],
    random: &[u8; 20],
    user: CertUser<'_>,
    trusted: &[Vec<u8>],
    revoked: &[RevokedCert],
    now_unix: i64,
) -> Result<(), CertRefusal> {
    if cert.is_empty()
        || cert.len() > MAX_CERT_BYTES
        || sign.is_empty()
        || sign.len() > MAX_SIGN_BYTES
    {
        return Err(CertRefusal::Malformed);
    }
    let (_, x) = X509Certificate::from_der(cert).map_err(|_| CertRefusal::Malformed)?;
    let spki = x.public_key();
    let bits = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size(),
        _ => return Err(CertRefusal::NotRsa),
    };
    if bits == 0 || sign.len() != bits / 8 {
        return Err(CertRefusal::NotRsa);
    }
    UnparsedPublicKey::new(
        &RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        &spki.subject_public_key.data,
    )
    .verify(random, sign)
    .map_err(|_| CertRefusal::BadSignature)?;
    if !valid_at(&x, now_unix) {
        return Err(CertRefusal::Expired);
    }
    if revoked.iter().any(|r| is_revoked(&x, cert, r)) {
        return Err(CertRefusal::Revoked);
    }
    match user {
        CertUser::Individual(registered) => {
            if registered != cert {
                return Err(CertRefusal::NotTheUsersCertificate);
            }
        }
        CertUser::SignedByTrustedCa {
            common_name,
            serial,
        } => {
            if !trusted.iter().any(|ca| issued_by(&x, cert, ca, now_unix)) {
                return Err(CertRefusal::NotTrusted);
            }
            if let Some(cn) = common_name.filter(|c| !c.is_empty()) {
                if !common_name_of(&x).is_some_and(|c| c.eq_ignore_ascii_case(cn)) {
                    return Err(CertRefusal::CommonName);
                }
            }
            if let Some(sn) = serial.filter(|s| !s.is_empty()) {
                if strip_zeros(x.raw_serial()) != strip_zeros(sn) {
                    return Err(CertRefusal::Serial);
                }
            }
        }
    }
    Ok(())
}

/// Whether `now_unix` lies within the certificate's validity period.
fn valid_at(x: &X509Certificate<'_>, now_unix: i64) -> bool {
    let v = x.validity();
    v.not_before.timestamp() <= now_unix && now_unix <= v.not_after.timestamp()
}

/// `GetIssuerFromList` for one trusted certificate `ca_der`: valid now,
/// its subject is the certificate's issuer and its key verifies the
/// certificate's signature — or it is the certificate itself.
fn issued_by(x: &X509Certificate<'_>, cert_der: &[u8], ca_der: &[u8], now_unix: i64) -> bool {
    if ca_der == cert_der {
        return true;
    }
    let Ok((_, ca)) = X509Certificate::from_der(ca_der) else {
        return false;
    };
    valid_at(&ca, now_unix)
        && ca.subject().as_raw() == x.issuer().as_raw()
        && x.verify_signature(Some(ca.public_key())).is_ok()
}

/// `IsValidCertInHub` for one CRL entry: every field set must match.
fn is_revoked(x: &X509Certificate<'_>, raw: &[u8], r: &RevokedCert) -> bool {
    // An entry with nothing set would revoke every certificate in
    // SoftEther (`IsCertMatchCrl` starts from "match"); here it revokes
    // none, so that an empty `CrlAdd` cannot lock every user out.
    if *r == RevokedCert::default() {
        return false;
    }
    let serial_ok = r
        .serial
        .as_ref()
        .is_none_or(|s| strip_zeros(s) == strip_zeros(x.raw_serial()));
    let subject = x.subject();
    let firsts: [Option<&str>; 6] = [
        subject
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok()),
        subject
            .iter_organization()
            .next()
            .and_then(|a| a.as_str().ok()),
        subject
            .iter_organizational_unit()
            .next()
            .and_then(|a| a.as_str().ok()),
        subject.iter_country().next().and_then(|a| a.as_str().ok()),
        subject
            .iter_state_or_province()
            .next()
            .and_then(|a| a.as_str().ok()),
        subject.iter_locality().next().and_then(|a| a.as_str().ok()),
    ];
    let names_ok = r.names().iter().zip(firsts).all(|((_, want), have)| {
        match want.as_deref().filter(|w| !w.is_empty()) {
            None => true,
            Some(w) => have.is_some_and(|h| h.trim().eq_ignore_ascii_case(w.trim())),
        }
    });
    let md5_ok = r.digest_md5.is_none_or(|d| {
        use md5::Digest;
        md5::Md5::digest(raw).as_slice() == d
    });
    let sha1_ok = r.digest_sha1.is_none_or(|d| {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, raw).as_ref() == d
    });
    serial_ok && names_ok && md5_ok && sha1_ok
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&v| v != 0).unwrap_or(b.len());
    &b[first..]
}

/// The first common name of the certificate's subject.
fn common_name_of<'a>(x: &'a X509Certificate<'_>) -> Option<&'a str> {
    x.subject().iter_common_name().next()?.as_str().ok()
}

/// What `EnumCa` shows of a trusted certificate (`RPC_HUB_ENUM_CA_ITEM`):
/// subject and issuer as SoftEther's `GetAllNameFromNameEx` writes them
/// (`CN=…, O=…, OU=…, C=…, ST=…, L=…`, empty parts left out) and the end of
/// the validity period in seconds since 1970. `None` if `der` does not
/// parse.
pub fn describe(der: &[u8]) -> Option<(String, String, i64)> {
    let (_, x) = X509Certificate::from_der(der).ok()?;
    Some((
        softether_name(x.subject()),
        softether_name(x.issuer()),
        x.validity().not_after.timestamp(),
    ))
}

fn softether_name(n: &X509Name<'_>) -> String {
    let parts: [(&str, Vec<&str>); 6] = [
        (
            "CN",
            n.iter_common_name()
                .filter_map(|a| a.as_str().ok())
                .collect(),
        ),
        (
            "O",
            n.iter_organization()
                .filter_map(|a| a.as_str().ok())
                .collect(),
        ),
        (
            "OU",
            n.iter_organizational_unit()
                .filter_map(|a| a.as_str().ok())
                .collect(),
        ),
        (
            "C",
            n.iter_country().filter_map(|a| a.as_str().ok()).collect(),
        ),
        (
            "ST",
            n.iter_state_or_province()
                .filter_map(|a| a.as_str().ok())
                .collect(),
        ),
        (
            "L",
            n.iter_locality().filter_map(|a| a.as_str().ok()).collect(),
        ),
    ];
    parts
        .iter()
        .filter_map(|(k, v)| {
            v.first()
                .filter(|s| !s.is_empty())
                .map(|s| format!("{k}={s}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, SerialNumber};

    const NOW: i64 = 1_800_000_000; // 2027-01-15

    struct Made {
        der: Vec<u8>,
        key: KeyPair,
    }

    fn rsa_key() -> KeyPair {
        KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap()
    }

    fn params(cn: &str, serial: u8, years: (i32, i32)) -> CertificateParams {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        dn.push(DnType::OrganizationName, "Lab");
        p.distinguished_name = dn;
        p.serial_number = Some(SerialNumber::from(vec![serial]));
        p.not_before = rcgen::date_time_ymd(years.0, 1, 1);
        p.not_after = rcgen::date_time_ymd(years.1, 1, 1);
        p
    }

    fn ca(cn: &str) -> (Made, rcgen::Certificate) {
        let mut p = params(cn, 1, (2020, 2035));
        p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rsa_key();
        let cert = p.self_signed(&key).unwrap();
        (
            Made {
                der: cert.der().to_vec(),
                key,
            },
            cert,
        )
    }

    fn leaf(
        cn: &str,
        serial: u8,
        years: (i32, i32),
        issuer: Option<(&rcgen::Certificate, &KeyPair)>,
    ) -> Made {
        let key = rsa_key();
        let p = params(cn, serial, years);
        let cert = match issuer {
            Some((c, k)) => p.signed_by(&key, c, k).unwrap(),
            None => p.self_signed(&key).unwrap(),
        };
        Made {
            der: cert.der().to_vec(),
            key,
        }
    }

    /// What the SoftEther client sends (`RsaSignEx`): RSASSA-PKCS1-v1_5
    /// with SHA-1 over the random, computed here with the key's private
    /// exponent (the crypto backend signs with SHA-1 only for verification).
    fn sign(m: &Made, random: &[u8; 20]) -> Vec<u8> {
        use num_bigint::BigUint;
        use sha1::Digest;
        use x509_parser::der_parser::parse_der;
        // PKCS#8 { version, algorithm, OCTET STRING RSAPrivateKey { 0, n, e, d, … } }
        let pkcs8 = m.key.serialize_der();
        let (_, top) = parse_der(&pkcs8).unwrap();
        let inner = top.as_sequence().unwrap()[2].as_slice().unwrap().to_vec();
        let (_, rsa) = parse_der(&inner).unwrap();
        let f = rsa.as_sequence().unwrap();
        let n = BigUint::from_bytes_be(f[1].as_slice().unwrap());
        let d = BigUint::from_bytes_be(f[3].as_slice().unwrap());
        let k = n.bits().div_ceil(8) as usize;
        let mut t = vec![
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ];
        t.extend_from_slice(&sha1::Sha1::digest(random));
        let mut em = vec![0x00, 0x01];
        em.resize(k - t.len() - 1, 0xff);
        em.push(0);
        em.extend_from_slice(&t);
        let s = BigUint::from_bytes_be(&em).modpow(&d, &n).to_bytes_be();
        let mut out = vec![0u8; k - s.len()];
        out.extend_from_slice(&s);
        out
    }

    #[test]
    fn individual_certificate() {
        let alice = leaf("alice", 5, (2020, 2035), None);
        let mallory = leaf("alice", 5, (2020, 2035), None);
        let r = [7u8; 20];
        let user = CertUser::Individual(&alice.der);
        assert_eq!(
            verify_cert_login(&alice.der, &sign(&alice, &r), &r, user, &[], &[], NOW),
            Ok(())
        );
        // Another key with the same names is another certificate.
        assert_eq!(
            verify_cert_login(&mallory.der, &sign(&mallory, &r), &r, user, &[], &[], NOW),
            Err(CertRefusal::NotTheUsersCertificate)
        );
        // Alice's certificate without her key: the signature fails.
        assert_eq!(
            verify_cert_login(&alice.der, &sign(&mallory, &r), &r, user, &[], &[], NOW),
            Err(CertRefusal::BadSignature)
        );
        // A signature of another connection's random is no proof.
        assert_eq!(
            verify_cert_login(&alice.der, &sign(&alice, &[8; 20]), &r, user, &[], &[], NOW),
            Err(CertRefusal::BadSignature)
        );
        assert_eq!(
            verify_cert_login(&alice.der, &sign(&alice, &r)[1..], &r, user, &[], &[], NOW),
            Err(CertRefusal::NotRsa)
        );
        assert_eq!(
            verify_cert_login(b"junk", &sign(&alice, &r), &r, user, &[], &[], NOW),
            Err(CertRefusal::Malformed)
        );
    }

    #[test]
    fn signed_by_a_trusted_ca_with_name_and_serial_checks() {
        let (root, root_cert) = ca("Lab Root");
        let (other, other_cert) = ca("Other Root");
        let bob = leaf("bob", 0x42, (2020, 2035), Some((&root_cert, &root.key)));
        let eve = leaf("bob", 0x42, (2020, 2035), Some((&other_cert, &other.key)));
        let r = [1u8; 20];
        let any = CertUser::SignedByTrustedCa {
            common_name: None,
            serial: None,
        };
        let trusted = vec![root.der.clone()];
        let check = |m: &Made,
                     user: CertUser<'_>,
                     trusted: &[Vec<u8>],
                     revoked: &[RevokedCert],
                     now: i64| {
            verify_cert_login(&m.der, &sign(m, &r), &r, user, trusted, revoked, now)
        };
        assert_eq!(check(&bob, any, &trusted, &[], NOW), Ok(()));
        assert_eq!(
            check(&eve, any, &trusted, &[], NOW),
            Err(CertRefusal::NotTrusted)
        );
        assert_eq!(
            check(&bob, any, &[], &[], NOW),
            Err(CertRefusal::NotTrusted)
        );
        // A trusted CA that is not valid now does not count.
        assert_eq!(
            check(&bob, any, &trusted, &[], rcgen_time(2036)),
            Err(CertRefusal::Expired)
        );
        let cn = |c: &'static str| CertUser::SignedByTrustedCa {
            common_name: Some(c),
            serial: None,
        };
        assert_eq!(check(&bob, cn("BOB"), &trusted, &[], NOW), Ok(()));
        assert_eq!(
            check(&bob, cn("alice"), &trusted, &[], NOW),
            Err(CertRefusal::CommonName)
        );
        let sn = |s: &'static [u8]| CertUser::SignedByTrustedCa {
            common_name: None,
            serial: Some(s),
        };
        assert_eq!(check(&bob, sn(&[0, 0x42]), &trusted, &[], NOW), Ok(()));
        assert_eq!(
            check(&bob, sn(&[0x43]), &trusted, &[], NOW),
            Err(CertRefusal::Serial)
        );
        // The certificate itself in the trusted list is trusted.
        assert_eq!(
            check(&eve, any, std::slice::from_ref(&eve.der), &[], NOW),
            Ok(())
        );
    }

    #[test]
    fn crl_entries_match_by_every_field_and_survive_the_config() {
        let dave = leaf("dave", 9, (2020, 2035), None);
        let r = [4u8; 20];
        let user = CertUser::Individual(&dave.der);
        let s = sign(&dave, &r);
        let login = |crl: &[RevokedCert]| verify_cert_login(&dave.der, &s, &r, user, &[], crl, NOW);
        use sha1::Digest;
        let sha1: [u8; 20] = sha1::Sha1::digest(&dave.der).into();
        let md5: [u8; 16] = {
            use md5::Digest;
            md5::Md5::digest(&dave.der).into()
        };
        let revoked = [
            RevokedCert {
                digest_sha1: Some(sha1),
                ..RevokedCert::default()
            },
            RevokedCert {
                digest_md5: Some(md5),
                ..RevokedCert::default()
            },
            RevokedCert {
                common_name: Some("DAVE".into()),
                serial: Some(vec![0, 9]),
                ..RevokedCert::default()
            },
        ];
        for e in &revoked {
            assert_eq!(
                login(std::slice::from_ref(e)),
                Err(CertRefusal::Revoked),
                "{e:?}"
            );
            // stored as SoftEther writes it, read back the same
            assert_eq!(&RevokedCert::from_folder(&e.to_folder("Crl0")), e);
        }
        let not_matching = [
            RevokedCert::default(),
            RevokedCert {
                digest_sha1: Some([1; 20]),
                ..RevokedCert::default()
            },
            RevokedCert {
                common_name: Some("dave".into()),
                organization: Some("Other".into()),
                ..RevokedCert::default()
            },
        ];
        assert_eq!(login(&not_matching), Ok(()));
        let mut hub = rustether_config::Folder::new("H");
        set_hub_crl(&mut hub, &revoked);
        assert_eq!(hub_crl(&hub), revoked);
        assert_eq!(revoked[2].info(), "Subject=\"CN=DAVE\", Serial=\"00 09\"");
    }

    #[test]
    fn expired_and_revoked_certificates_are_refused() {
        let old = leaf("carol", 9, (2010, 2020), None);
        let r = [3u8; 20];
        let user = CertUser::Individual(&old.der);
        assert_eq!(
            verify_cert_login(&old.der, &sign(&old, &r), &r, user, &[], &[], NOW),
            Err(CertRefusal::Expired)
        );
        let dave = leaf("dave", 9, (2020, 2035), None);
        let user = CertUser::Individual(&dave.der);
        let by_serial = RevokedCert {
            serial: Some(vec![9]),
            ..RevokedCert::default()
        };
        let other_serial = RevokedCert {
            serial: Some(vec![10]),
            ..RevokedCert::default()
        };
        let by_both_wrong_cn = RevokedCert {
            serial: Some(vec![9]),
            common_name: Some("erin".into()),
            ..RevokedCert::default()
        };
        let s = sign(&dave, &r);
        assert_eq!(
            verify_cert_login(&dave.der, &s, &r, user, &[], &[by_serial], NOW),
            Err(CertRefusal::Revoked)
        );
        assert_eq!(
            verify_cert_login(
                &dave.der,
                &s,
                &r,
                user,
                &[],
                &[other_serial, by_both_wrong_cn],
                NOW
            ),
            Ok(())
        );
    }

    #[test]
    fn description_as_softether_shows_it() {
        let (root, _) = ca("Lab Root");
        let (subject, issuer, expires) = describe(&root.der).unwrap();
        assert_eq!(subject, "CN=Lab Root, O=Lab");
        assert_eq!(issuer, subject);
        assert_eq!(expires, rcgen_time(2035));
        assert!(describe(b"junk").is_none());
    }

    fn rcgen_time(year: i32) -> i64 {
        rcgen::date_time_ymd(year, 1, 1).unix_timestamp()
    }
}
