//! docs/unsafe.md lists every file with `unsafe` code and how many blocks it
//! has: this test recounts them so that the table cannot drift from the code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The keyword, spelled so that this file does not count itself.
fn keyword() -> String {
    ["un", "safe"].concat()
}

/// `unsafe {`, `unsafe fn` and `unsafe impl` occurrences outside comment
/// lines (attributes such as `forbid(unsafe_code)` do not match).
fn count_unsafe(text: &str) -> usize {
    let kw = keyword();
    let mut n = 0;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        let mut rest = t;
        while let Some(i) = rest.find(&kw) {
            let before_ok = rest[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            let after = rest[i + kw.len()..].trim_start();
            if before_ok
                && (after.starts_with('{')
                    || after.starts_with("fn ")
                    || after.starts_with("impl ")
                    || after.starts_with("impl<"))
            {
                n += 1;
            }
            rest = &rest[i + kw.len()..];
        }
    }
    n
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Rows of the table: `| \`file\` | count | ...`.
fn table(md: &str) -> BTreeMap<String, usize> {
    let mut rows = BTreeMap::new();
    for line in md.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        // ["", "`file`", "count", ...]
        if cols.len() < 4 || !cols[1].starts_with("`crates/") {
            continue;
        }
        let file = cols[1].trim_matches('`').to_string();
        let count: usize = cols[2]
            .parse()
            .unwrap_or_else(|_| panic!("docs/unsafe.md: bad count in row {line:?}"));
        assert!(
            rows.insert(file.clone(), count).is_none(),
            "docs/unsafe.md lists {file} twice"
        );
    }
    rows
}

#[test]
fn unsafe_table_matches_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let md = std::fs::read_to_string(root.join("docs/unsafe.md")).expect("read docs/unsafe.md");
    let listed = table(&md);
    assert!(!listed.is_empty(), "docs/unsafe.md has no table rows");
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut actual = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read source");
        let n = count_unsafe(&text);
        if n > 0 {
            let rel = f
                .strip_prefix(&root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            actual.insert(rel, n);
        }
    }
    assert_eq!(
        listed, actual,
        "docs/unsafe.md (left) disagrees with the unsafe blocks in the code (right): \
         update the table with the code"
    );
}

#[test]
fn counter_sees_blocks_fns_and_impls_but_not_comments_or_lints() {
    let kw = keyword();
    let src = format!(
        "// {kw} {{ in a comment\n#![forbid({kw}_code)]\nlet x = {kw} {{ f() }};\n\
         pub {kw} fn g() {{}}\n{kw} impl Send for X {{}}\nlet y = not_{kw} {{}};\n"
    );
    assert_eq!(count_unsafe(&src), 3);
}
