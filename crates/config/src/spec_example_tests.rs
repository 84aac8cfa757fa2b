//! The worked example of docs/config-format.md §5.1, checked down to the
//! password hashes it stores (SHA-0 from rustether-proto).

use crate::cfg::{parse_text, write_text, CfgValue};
use crate::sha0::sha0;
use base64::Engine as _;
use md4::Digest as _;

/// docs/config-format.md §5.1, with TABs and CR LF as the server writes it.
pub(crate) const SPEC_EXAMPLE: &str = "declare root\r\n{\r\n\tuint ConfigRevision 19\r\n\tbool IPsecMessageDisplayed false\r\n\tstring Region $\r\n\r\n\tdeclare DDnsClient\r\n\t{\r\n\t\tbool Disabled true\r\n\t}\r\n\tdeclare ListenerList\r\n\t{\r\n\t\tdeclare Listener0\r\n\t\t{\r\n\t\t\tbool DisableDos false\r\n\t\t\tbool Enabled true\r\n\t\t\tuint Port 5555\r\n\t\t}\r\n\t}\r\n\tdeclare ServerConfiguration\r\n\t{\r\n\t\tbyte HashedPassword +WzqGYrR3VYXrAhKPZLGEHcIwO8=\r\n\t\tstring PortsUDP 443,$20992\r\n\t}\r\n\tdeclare VirtualHUB\r\n\t{\r\n\t\tdeclare TEST\r\n\t\t{\r\n\t\t\tbyte HashedPassword LK8CeMfNcUw52W/Umez7W0hRcxs=\r\n\t\t\tbool Online true\r\n\t\t\tbyte SecurePassword m1rI8i2GQewqz2B0k3PlhPxSGRw=\r\n\t\t\tuint Type 0\r\n\r\n\t\t\tdeclare SecurityAccountDatabase\r\n\t\t\t{\r\n\t\t\t\tdeclare UserList\r\n\t\t\t\t{\r\n\t\t\t\t\tdeclare alice\r\n\t\t\t\t\t{\r\n\t\t\t\t\t\tbyte AuthNtLmSecureHash 7VC9yfqjcOMaxO4Rn9UfSA==\r\n\t\t\t\t\t\tbyte AuthPassword EvuehAVBhVNB2yJOiO6CdviiyAs=\r\n\t\t\t\t\t\tuint AuthType 1\r\n\t\t\t\t\t\tstring Note a$20note\r\n\t\t\t\t\t\tstring RealName Alice$20A\r\n\t\t\t\t\t}\r\n\t\t\t\t}\r\n\t\t\t}\r\n\t\t}\r\n\t}\r\n}\r\n";

fn nt_hash(pw: &str) -> Vec<u8> {
    // MD4 over the password with each byte zero-extended to UTF-16LE.
    let utf16: Vec<u8> = pw.bytes().flat_map(|b| [b, 0]).collect();
    md4::Md4::digest(&utf16).to_vec()
}

#[test]
fn spec_example_decodes_to_the_documented_values() {
    let root = parse_text(SPEC_EXAMPLE).unwrap();
    assert_eq!(root.name, "root");
    assert_eq!(root.get_uint("ConfigRevision"), Some(19));
    assert_eq!(root.get_bool("IPsecMessageDisplayed"), Some(false));
    assert_eq!(root.get_str("Region"), Some(""));
    assert_eq!(
        root.folder("DDnsClient").unwrap().get_bool("Disabled"),
        Some(true)
    );
    let l0 = root
        .folder("ListenerList")
        .unwrap()
        .folder("Listener0")
        .unwrap();
    assert_eq!(l0.get_uint("Port"), Some(5555));
    assert_eq!(l0.get_bool("Enabled"), Some(true));
    let sc = root.folder("ServerConfiguration").unwrap();
    assert_eq!(sc.get_str("PortsUDP"), Some("443, 992"));
    assert_eq!(sc.get_bytes("HashedPassword").unwrap(), sha0(b""));

    let hub = root.folder("VirtualHUB").unwrap().folder("test").unwrap();
    assert_eq!(hub.get_bytes("HashedPassword").unwrap(), sha0(b"newhubpw"));
    assert_eq!(
        hub.get_bytes("SecurePassword").unwrap(),
        sha0(b"newhubpwADMINISTRATOR")
    );
    let alice = hub
        .folder("SecurityAccountDatabase")
        .and_then(|d| d.folder("UserList"))
        .and_then(|u| u.folder("ALICE"))
        .unwrap();
    assert_eq!(alice.get_uint("AuthType"), Some(1));
    assert_eq!(
        alice.get_bytes("AuthPassword").unwrap(),
        sha0(b"Secret1ALICE")
    );
    assert_eq!(
        alice.get_bytes("AuthNtLmSecureHash").unwrap(),
        nt_hash("Secret1")
    );
    assert_eq!(alice.get_str("RealName"), Some("Alice A"));
    assert_eq!(alice.get_str("Note"), Some("a note"));
    assert_eq!(
        alice.item("authpassword"),
        Some(&CfgValue::Byte(
            base64::engine::general_purpose::STANDARD
                .decode("EvuehAVBhVNB2yJOiO6CdviiyAs=")
                .unwrap()
        ))
    );
}

#[test]
fn spec_example_is_written_back_byte_exact() {
    // The example is in canonical order, so writing it reproduces it
    // (plus the banner).
    let root = parse_text(SPEC_EXAMPLE).unwrap();
    let text = write_text(&root);
    assert_eq!(text, format!("{}{}", crate::cfg::BANNER, SPEC_EXAMPLE));
}
