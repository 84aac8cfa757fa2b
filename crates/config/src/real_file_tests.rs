//! Password hashes in the configuration written by the real SoftEther VPN
//! Server 5.01 (`tests/data/softether-5.01.config`, made by
//! `tests/data/gen-softether-config.sh`) recomputed with SHA-0, MD4 and the
//! `EncryptPassword` RC4 the way RustEther computes them.

use crate::cfg::parse_bytes;
use crate::model::{CascadeAuth, ServerConfig, UserAuth};
use crate::sha0::sha0;
use md4::Digest as _;

const REAL: &[u8] = include_bytes!("../tests/data/softether-5.01.config");

fn nt_hash(pw: &str) -> [u8; 16] {
    let utf16: Vec<u8> = pw.bytes().flat_map(|b| [b, 0]).collect();
    md4::Md4::digest(&utf16).into()
}

fn user_hash(pw: &str, user: &str) -> [u8; 20] {
    sha0(format!("{pw}{}", user.to_ascii_uppercase()).as_bytes())
}

#[test]
fn hashes_match_our_computation() {
    let cfg = ServerConfig::from_root(&parse_bytes(REAL).unwrap()).unwrap();
    assert_eq!(cfg.server.hashed_password, sha0(b""));
    let hub = cfg.hub("test").unwrap();
    assert_eq!(hub.hashed_password, sha0(b"newhubpw"));
    assert_eq!(hub.secure_password, sha0(b"newhubpwADMINISTRATOR"));
    for (user, pw) in [("alice", "Secret1"), ("bob", "bobpw")] {
        assert_eq!(
            hub.user(user).unwrap().auth,
            UserAuth::Password {
                hash: user_hash(pw, user),
                nt_hash: Some(nt_hash(pw)),
            },
            "{user}"
        );
    }
    assert_eq!(
        hub.cascade("casc1").unwrap().auth,
        CascadeAuth::HashedPassword {
            username: "casc".into(),
            hash: user_hash("cascpw", "casc"),
        }
    );
    assert_eq!(
        hub.cascade("CASC2").unwrap().auth,
        CascadeAuth::PlainPassword {
            username: "plainuser".into(),
            password: "plainpw".into(),
        }
    );
}
