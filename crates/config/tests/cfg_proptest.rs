//! Property tests: any tree survives write → parse; the readers never panic.

use proptest::prelude::*;
use rustether_config::{parse_bytes, parse_text, write_binary, write_text, CfgValue, Folder};

fn name() -> impl Strategy<Value = String> {
    // Any characters except NUL (a NUL ends a C string in SoftEther).
    "[^\u{0}]{0,12}"
}

fn value() -> impl Strategy<Value = CfgValue> {
    prop_oneof![
        any::<u32>().prop_map(CfgValue::Uint),
        any::<u64>().prop_map(CfgValue::Uint64),
        any::<bool>().prop_map(CfgValue::Bool),
        "[^\u{0}]{0,20}".prop_map(CfgValue::String),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(CfgValue::Byte),
    ]
}

/// Names unique case-insensitively (the reader rejects duplicates).
fn dedup<T>(v: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter()
        .filter(|(n, _)| seen.insert(n.to_ascii_uppercase()))
        .collect()
}

fn folder() -> impl Strategy<Value = Folder> {
    let leaf =
        (name(), proptest::collection::vec((name(), value()), 0..6)).prop_map(|(n, items)| {
            Folder {
                name: n,
                items: dedup(items),
                folders: Vec::new(),
            }
        });
    leaf.prop_recursive(4, 40, 5, |inner| {
        (
            name(),
            proptest::collection::vec((name(), value()), 0..6),
            proptest::collection::vec(inner, 0..5),
        )
            .prop_map(|(n, items, subs)| {
                let subs = dedup(subs.into_iter().map(|f| (f.name.clone(), f)).collect());
                Folder {
                    name: n,
                    items: dedup(items),
                    folders: subs.into_iter().map(|(_, f)| f).collect(),
                }
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_round_trip(mut root in folder()) {
        root.name = "root".into();
        let text = write_text(&root);
        let parsed = parse_text(&text).unwrap();
        let mut sorted = root.clone();
        sorted.sort_recursive();
        prop_assert_eq!(&parsed, &sorted);
        prop_assert_eq!(write_text(&parsed), text);
    }

    #[test]
    fn binary_round_trip(mut root in folder()) {
        root.name = "root".into();
        let parsed = parse_bytes(&write_binary(&root)).unwrap();
        root.sort_recursive();
        prop_assert_eq!(parsed, root);
    }

    #[test]
    fn parse_never_panics_on_bytes(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_bytes(&data);
    }

    #[test]
    fn parse_never_panics_on_tokens(
        lines in proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    Just("declare".to_string()), Just("{".to_string()), Just("}".to_string()),
                    Just("uint".to_string()), Just("bool".to_string()), Just("byte".to_string()),
                    Just("string".to_string()), Just("uint64".to_string()), Just("root".to_string()),
                    Just("$".to_string()), "[ -~]{0,6}", "[$0-9a-fA-Fx,=]{0,8}",
                ],
                0..5,
            ),
            0..30,
        )
    ) {
        let text: String = lines.iter().map(|l| l.join(" ") + "\n").collect();
        let _ = parse_text(&text);
        let _ = parse_text(&format!("declare root\n{{\n{text}}}\n"));
    }

    #[test]
    fn binary_reader_never_panics(mut root in folder(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        root.name = "root".into();
        let mut bin = write_binary(&root);
        for (pos, byte) in flips {
            let i = 8 + pos % (bin.len() - 8);
            bin[i] ^= byte;
        }
        // Damage anywhere after the magic is caught (checksum or structure).
        prop_assert!(parse_bytes(&bin).is_err() || bin == write_binary(&root));
    }
}
