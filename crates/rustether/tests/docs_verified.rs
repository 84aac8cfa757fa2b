//! docs/administration.md's list of vpncmd commands "verified against our
//! server with the real vpncmd" is checked against the tests (issue 8,
//! item 4): every command of the table, and every option named with it
//! (`/TAP:yes`), must appear as a string literal (`"BridgeCreate"`,
//! `"/TAP:yes"`) in one of the test files the paragraph above the table
//! names, and each named file must exist in `crates/rustether/tests/`. A
//! command claimed without a test fails here.

use std::path::{Path, PathBuf};

/// The claims of one "verified" section: test files and table items.
#[derive(Debug, Default, PartialEq, Eq)]
struct Claims {
    /// File names (`admin_vpncmd.rs`) from the paragraph before the table.
    files: Vec<String>,
    /// Commands and options (`HubCreate`, `/TAP:yes`) from the table.
    items: Vec<String>,
}

/// Text between backticks on `line`, in order.
fn backticked(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// Parses the section that starts at the line containing `marker`: the
/// `*.rs` names in backticks up to the table, then the table's second
/// column (first word of each backticked item: `ConfigGet [file]` →
/// `ConfigGet`), until the first line after the table that is not a row.
fn parse_claims(doc: &str, marker: &str) -> Claims {
    let mut c = Claims::default();
    let mut lines = doc.lines().skip_while(|l| !l.contains(marker));
    let mut in_table = false;
    for line in lines.by_ref() {
        let t = line.trim();
        if t.starts_with('|') {
            in_table = true;
            let cols: Vec<&str> = t.trim_matches('|').split('|').collect();
            if cols.len() < 2 || cols[1].trim().starts_with("---") || cols[1].trim() == "commands" {
                continue;
            }
            for item in backticked(cols[1]) {
                if let Some(word) = item.split_whitespace().next() {
                    c.items.push(word.to_owned());
                }
            }
        } else if in_table {
            break;
        } else {
            for name in backticked(t) {
                let file = name.rsplit('/').next().unwrap_or(name);
                // The checker itself is named too; it tests nothing.
                if file.ends_with(".rs") && file != SELF {
                    c.files.push(file.to_owned());
                }
            }
        }
    }
    c
}

/// Items of `claims` that no file in `sources` (name, text) contains as
/// a string literal `"item"`.
fn unverified(claims: &Claims, sources: &[(String, String)]) -> Vec<String> {
    claims
        .items
        .iter()
        .filter(|item| {
            let lit = format!("\"{item}\"");
            !sources.iter().any(|(_, text)| text.contains(&lit))
        })
        .cloned()
        .collect()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// This file's name (left out of the test files a claim may point at).
const SELF: &str = "docs_verified.rs";

const MARKER: &str = "Commands that work (each verified";

#[test]
fn administration_md_verified_commands_have_tests() {
    let root = repo_root();
    let doc = std::fs::read_to_string(root.join("docs/administration.md"))
        .expect("docs/administration.md");
    let claims = parse_claims(&doc, MARKER);
    assert!(
        claims.files.len() >= 2 && claims.items.len() >= 40,
        "the verified list was not found or is cut short: {claims:?}"
    );
    let tests_dir = root.join("crates/rustether/tests");
    let sources: Vec<(String, String)> = claims
        .files
        .iter()
        .map(|f| {
            let p = tests_dir.join(f);
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| {
                panic!(
                    "docs/administration.md names {f}, which is not a test file ({}): {e}",
                    p.display()
                )
            });
            (f.clone(), text)
        })
        .collect();
    let missing = unverified(&claims, &sources);
    assert!(
        missing.is_empty(),
        "docs/administration.md claims these as verified, but none of {:?} runs them: {missing:?}",
        claims.files
    );
}

#[test]
fn parser_reads_files_and_table_and_reports_claims_without_tests() {
    let doc = "intro\n\
        Commands that work (each verified in `crates/rustether/tests/a.rs`\n\
        and `b.rs`; `docs_verified.rs` checks it):\n\
        \n\
        | area | commands |\n\
        |---|---|\n\
        | x | `Foo`, `Bar [file]` (also `/TAP:yes`) |\n\
        | y | `Baz` |\n\
        \n\
        | other | `NotPartOfIt` |\n";
    let c = parse_claims(doc, "Commands that work (each verified");
    assert_eq!(c.files, vec!["a.rs", "b.rs"]);
    assert_eq!(c.items, vec!["Foo", "Bar", "/TAP:yes", "Baz"]);
    let sources = vec![
        (
            "a.rs".to_owned(),
            "v.ok(&[\"Foo\", \"/TAP:yes\"]); // Baz".to_owned(),
        ),
        ("b.rs".to_owned(), "run(\"Bar\")".to_owned()),
    ];
    // `Baz` appears only in a comment: not a test of it.
    assert_eq!(unverified(&c, &sources), vec!["Baz"]);
}
