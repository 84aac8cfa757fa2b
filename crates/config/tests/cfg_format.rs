//! The text format: leniency where SoftEther is lenient, strictness where a
//! silently ignored line would lose data, escaping and ordering.

use rustether_config::cfg::{cmp_names, BANNER};
use rustether_config::{parse_bytes, parse_text, write_text, CfgValue, Folder};

fn err_line(text: &str) -> (usize, String) {
    let e = parse_text(text).unwrap_err();
    (e.line, e.message)
}

#[test]
fn accepts_what_softether_accepts() {
    // LF only, no BOM/banner, runs of spaces and TABs, keyword case, tokens
    // after the value, comments, blank lines.
    let text = "# hand written\n\ndeclare root\n{\n  BOOL   UseWebTimePage\t\t1\n\tUint Port 0443 trailing tokens\n\tstring S a$20b extra\n\tUINT64 T 1,000\n\tDECLARE Sub\n\t{\n\t}\n}\n";
    let root = parse_text(text).unwrap();
    assert_eq!(root.get_bool("usewebtimepage"), Some(true));
    assert_eq!(root.get_uint("Port"), Some(443));
    assert_eq!(root.get_str("S"), Some("a b"));
    assert_eq!(root.get_uint64("T"), Some(1000));
    assert!(root.folder("sub").is_some());
    // BOM straight before `declare root` (SoftEther would not find root) and
    // `declare X {` on one line; no final newline.
    let root = parse_text("\u{FEFF}declare root {\r\nuint A 0x10\r\n}").unwrap();
    assert_eq!(root.get_uint("A"), Some(16));
    // parse_bytes strips the BOM too
    let root = parse_bytes(b"\xEF\xBB\xBFdeclare root\n{\n}\n").unwrap();
    assert_eq!(root, Folder::new("root"));
}

#[test]
fn errors_carry_the_right_line() {
    assert_eq!(err_line("declare root\n{\n}\n}\n").0, 4); // `}` with nothing open
    let (l, m) = err_line("declare root\n{\n\tdeclare A\n\t{\n\tuint X 1\n}\n");
    assert_eq!(l, 1, "{m}"); // root never closed
    assert!(m.contains("never closed"), "{m}");
    let (l, m) = err_line("declare root\n{\n\tdeclare A\n\tuint X 1\n\t}\n}\n");
    assert_eq!(l, 3, "{m}"); // declare without `{`
    assert!(m.contains("not followed"), "{m}");
    assert_eq!(err_line("declare root\n{\n\tdeclare A\n").0, 3);
    let (l, m) = err_line("declare root\n{\n\tunit Port 5555\n}\n");
    assert_eq!(l, 3); // typo in a keyword
    assert!(m.contains("unrecognised"), "{m}");
    assert_eq!(err_line("declare root\n{\n\tuint Port\n}\n").0, 3);
    assert_eq!(err_line("declare root\n{\n\tuint Port 55a\n}\n").0, 3);
    assert_eq!(
        err_line("declare root\n{\n\tuint Port 4294967296\n}\n").0,
        3
    );
    assert_eq!(err_line("declare root\n{\n\tuint64 T x\n}\n").0, 3);
    assert_eq!(err_line("declare root\n{\n\tbool B maybe\n}\n").0, 3);
    let (l, m) = err_line("declare root\n{\n\n\tbyte K not*base64\n}\n");
    assert_eq!(l, 4);
    assert!(m.contains("Base64"), "{m}");
    assert_eq!(err_line("declare root\n{\n\tstring S a$2\n}\n").0, 3);
    assert_eq!(err_line("declare root\n{\n\tstring S $FF\n}\n").0, 3); // not UTF-8
    assert_eq!(
        err_line("declare root\n{\n\tuint A 1\n\tuint a 2\n}\n").0,
        4
    ); // duplicate
    assert_eq!(
        err_line("declare root\n{\n\tdeclare X\n\t{\n\t}\n\tdeclare x\n\t{\n\t}\n}\n").0,
        6
    );
    assert_eq!(err_line("uint A 1\ndeclare root\n{\n}\n").0, 1); // outside any folder
    assert_eq!(err_line("declare other\n{\n}\n").0, 1); // not root
    assert_eq!(err_line("{\ndeclare root\n{\n}\n").0, 1); // stray `{`
    assert_eq!(err_line("declare root\r{\r}\r").0, 1); // CR-only line ends
    let (l, m) = err_line("# only a comment\n");
    assert_eq!(l, 1);
    assert!(m.contains("root"), "{m}");
    let deep = "declare root\n{\n".to_string() + &"declare a\n{\n".repeat(100);
    assert!(parse_text(&deep).unwrap_err().message.contains("nested"));
}

#[test]
fn writer_escapes_byte_exact() {
    // docs/config-format.md §3 examples, as whole lines of a written file.
    let mut root = Folder::new("root");
    root.set_str("A", "a$b c#{}=é日本");
    root.set_str("B", "x\ty\r\nz$ \u{1}end");
    root.set_str("Empty", "");
    root.set_bytes("NoBytes", &[]);
    root.add_folder(Folder::new("A B"));
    let text = write_text(&root);
    assert!(text.starts_with(BANNER));
    let body = &text[BANNER.len()..];
    assert_eq!(
        body,
        "declare root\r\n{\r\n\tstring A a$24b$20c#{}=é日本\r\n\tstring B x$09y$0D$0Az$24$20$01end\r\n\tstring Empty $\r\n\tbyte NoBytes $\r\n\r\n\tdeclare A$20B\r\n\t{\r\n\t}\r\n}\r\n"
    );
    assert_eq!(parse_text(&text).unwrap(), root);
}

#[test]
fn writer_sorts_like_softether() {
    let mut log = Folder::new("LogSetting");
    for name in [
        "PACKET_LOG_ARP",
        "SavePacketLog",
        "PacketLogSwitchType",
        "PACKET_LOG_TCP",
    ] {
        log.set_uint(name, 1);
    }
    let mut root = Folder::new("root");
    root.add_folder(log);
    let text = write_text(&root);
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("uint "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "PacketLogSwitchType",
            "PACKET_LOG_ARP",
            "PACKET_LOG_TCP",
            "SavePacketLog"
        ]
    );
    assert!(order.windows(2).all(|w| cmp_names(w[0], w[1]).is_lt()));
}

#[test]
fn write_parse_write_is_a_fixed_point() {
    let mut root = Folder::new("root");
    root.set_uint("ConfigRevision", 3);
    root.set_uint64("Big", u64::MAX);
    root.set_bool("Flag", true);
    root.set("Key", CfgValue::Byte((0..=255).collect()));
    let hub = root
        .folder_or_insert("VirtualHUB")
        .folder_or_insert("Hub é 1");
    hub.set_str("Note", " leading and trailing ");
    let once = write_text(&root);
    let twice = write_text(&parse_text(&once).unwrap());
    assert_eq!(once, twice);
}
