//! docs/administration.md's RPC coverage table agrees with the dispatcher
//! ([`RpcFunction::ALL`]), so it cannot drift (issue 12 item 11).
//!
//! Rows are `| \`Name\` | state | test | note |`. States:
//! * `implemented`, `standalone`: the name is in [`RpcFunction::ALL`];
//! * `as SoftEther`, `not implemented`: it is not, and the dispatcher
//!   answers `ERR_NOT_SUPPORTED` (33) — what SoftEther's open-source build
//!   answers for the former.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustether_admin::memory::MemoryBackend;
use rustether_admin::{dispatch, Caller, RpcFunction};
use rustether_proto::Pack;

const STATES: &[&str] = &[
    "implemented",
    "standalone",
    "as SoftEther",
    "not implemented",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Name → (state, test) of every row of the coverage table.
fn table() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(repo().join("docs/administration.md"))
        .expect("read docs/administration.md");
    let section = text
        .split("\n## RPC coverage")
        .nth(1)
        .expect("docs/administration.md has a section \"## RPC coverage\"");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert!(cells.len() >= 3, "coverage row with too few cells: {line}");
        let name = cells[0].trim_matches('`').to_owned();
        let (state, test) = (cells[1].to_owned(), cells[2].to_owned());
        assert!(
            STATES.contains(&state.as_str()),
            "row {name}: unknown state {state:?} (one of {STATES:?})"
        );
        let prev = rows.insert(name.clone(), (state, test));
        assert!(prev.is_none(), "two rows for {name}");
    }
    rows
}

fn test_exists(file: &str) -> bool {
    [
        "crates/rustether/tests",
        "crates/admin/tests",
        "crates/server/tests",
        "crates/server/src/admin",
    ]
    .iter()
    .any(|d| repo().join(d).join(file).is_file())
}

#[test]
fn coverage_table_matches_the_dispatcher() {
    let rows = table();
    let mut problems = Vec::new();
    for f in RpcFunction::ALL {
        match rows.get(f.name()) {
            None => problems.push(format!(
                "missing row for {0}: add `| `{0}` | implemented | <test file> | |` to the \
                 \"RPC coverage\" table of docs/administration.md",
                f.name()
            )),
            Some((state, _)) if state != "implemented" && state != "standalone" => problems.push(
                format!(
                    "{} is implemented (RpcFunction in crates/admin/src/dispatch.rs) but its row \
                     in docs/administration.md says {state:?}: change it to `implemented` and name its test",
                    f.name()
                ),
            ),
            Some(_) => {}
        }
    }
    for (name, (state, test)) in &rows {
        let implemented = RpcFunction::from_name(name).is_some_and(|f| f.name() == name);
        if (state == "implemented" || state == "standalone") && !implemented {
            problems.push(format!(
                "row {name} says {state:?} but crates/admin/src/dispatch.rs has no RpcFunction::{name}"
            ));
        }
        if !test_exists(test) {
            problems.push(format!("row {name}: test file {test:?} does not exist"));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/administration.md \"RPC coverage\" is out of date:\n{}",
        problems.join("\n")
    );
    // SoftEther 5.01's Admin.c on master has 148 RPCs; each has a row.
    assert!(rows.len() >= 148, "only {} rows", rows.len());
}

#[test]
fn rpcs_without_an_implementation_answer_not_supported() {
    let admin = Caller::server_admin(true);
    for (name, (state, _)) in table() {
        if state == "as SoftEther" || state == "not implemented" {
            let mut b = MemoryBackend::new("adminpw");
            let r = dispatch(&mut b, &admin, &name, &Pack::new());
            assert_eq!(r.get_int("error"), Some(33), "{name} must answer error 33");
        }
    }
}
