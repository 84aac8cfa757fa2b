//! The VPN server runtime: listeners, TLS, sessions, virtual hubs,
//! administration, and the worker entry point used by the process
//! supervisor.
//!
//! # Module order
//!
//! Dependencies point one way: a module names only modules above it in
//! this list (checked by the `layering` test below, which reads the
//! sources).
//!
//! 1. [`clock`], [`tls`], [`record_reader`], [`preauth`], [`hostaddr`],
//!    [`stats`], [`certauth`] — leaves: time, TLS settings, the record-boundary
//!    reader of the client side, the pre-authentication budget (limits per
//!    source, deadline, kept bytes), this machine's own addresses, server-wide
//!    counters, the checks of certificate logins; [`hublog`], the hubs'
//!    security and packet logs and syslog forwarding, over
//!    [`logretention`] (which log files to split and delete, sans-IO).
//! 2. [`transport`] — the byte streams of a connection (TLS, plain TCP, the
//!    burst reader), [`transport::reply_error`] and [`transport::linger`];
//!    [`udp`] — a session's UDP acceleration socket and counters.
//! 3. [`listener`] — bind, accept, retry; hands connections to a
//!    [`listener::Acceptor`] and knows nothing of what they carry.
//! 4. [`hub`] → [`session`] → [`client`] → [`cascade`], [`bridge`],
//!    [`securenat`], [`l3`] — the switch, the data phase of a session, our
//!    client side, cascades, local bridges, SecureNAT and Virtual Layer 3
//!    Switches.
//! 5. [`config`] — the running configuration: lock-free snapshots, one
//!    writer that saves before it publishes.
//! 6. [`server`] — server-wide state: configuration, hubs, sessions, TLS
//!    configuration, cascades and local bridges; decides logins.
//! 7. [`metrics`] — the Prometheus text of `/metrics`, rendered from the
//!    server's state.
//! 8. [`admin`] — administration (vpncmd RPC, JSON-RPC) over the server and
//!    the listeners, with its own state (throttle, call lock).
//! 9. [`connection`] — one accepted connection: TLS, negotiation, dispatch
//!    to login, additional connection or administration; its
//!    [`connection::Gateway`] is the listeners' acceptor.
//! 10. [`worker`] — the entry point: builds the runtime and wires server,
//!     administration, listeners and gateway together
//!     ([`worker::Services`]).
//!
//! The one `unsafe` block left is glibc's `malloc_trim` in [`worker`]: no
//! crate wraps it.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod clock;
pub mod hostaddr;
pub mod hublog;
pub mod logretention;
pub mod preauth;
pub mod record_reader;
pub mod stats;
pub mod tls;

pub mod transport;
pub mod udp;

pub mod listener;

pub mod hub;

pub mod accounting;

pub mod session;

pub mod client;

pub mod bridge;
pub mod cascade;
pub mod l3;
pub mod securenat;

pub mod config;

pub mod certauth;
pub mod radius;
pub mod server;

pub mod openvpn;

pub mod metrics;

pub mod admin;

pub mod connection;

pub mod worker;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod layering {
    //! The module order of the crate docs, checked against the sources:
    //! every `crate::<module>` a module's code names must come earlier in
    //! [`ORDER`]. A new module must be entered here.

    use std::path::Path;

    /// Lowest first; modules in one inner slice do not name each other.
    const ORDER: &[&[&str]] = &[
        &["hostaddr", "logretention"],
        &[
            "clock",
            "tls",
            "record_reader",
            "preauth",
            "stats",
            "certauth",
            "hublog",
            "radius",
        ],
        &["transport", "udp"],
        &["listener"],
        &["hub"],
        &["accounting"],
        &["session"],
        &["client"],
        &["cascade", "bridge", "securenat", "l3"],
        &["config"],
        &["server"],
        &["openvpn", "metrics"],
        &["admin"],
        &["connection"],
        &["worker"],
    ];

    fn rank(module: &str) -> Option<usize> {
        ORDER.iter().position(|layer| layer.contains(&module))
    }

    /// The source files of `module`: `src/<m>.rs`, or every file under
    /// `src/<m>/`.
    fn sources(src: &Path, module: &str) -> Vec<(String, String)> {
        let file = src.join(format!("{module}.rs"));
        if file.exists() {
            let text = std::fs::read_to_string(&file).unwrap();
            return vec![(file.display().to_string(), text)];
        }
        let mut out = Vec::new();
        let mut dirs = vec![src.join(module)];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push((
                        p.display().to_string(),
                        std::fs::read_to_string(&p).unwrap(),
                    ));
                }
            }
        }
        assert!(!out.is_empty(), "no sources for module {module}");
        out
    }

    /// The crate modules that `text` names in code (`crate::m`, also in
    /// `use crate::{a, b::c}` groups); comment lines are skipped.
    pub(super) fn named_modules(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for line in text.lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            let mut rest = line;
            while let Some(i) = rest.find("crate::") {
                let before = rest[..i].chars().last();
                rest = &rest[i + "crate::".len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue; // e.g. `rustether_crate::`
                }
                if let Some(group) = rest.strip_prefix('{') {
                    // Top-level names of the group (`{a, b::{c, d}}` → a, b).
                    let mut depth = 0;
                    let mut name = String::new();
                    let mut at_start = true;
                    for c in group.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            ',' if depth == 0 => at_start = true,
                            c if depth == 0 && at_start && (c.is_alphanumeric() || c == '_') => {
                                name.push(c)
                            }
                            _ if !name.is_empty() => {
                                out.push(std::mem::take(&mut name));
                                at_start = false;
                            }
                            _ => {}
                        }
                    }
                    if !name.is_empty() {
                        out.push(name);
                    }
                } else {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push(name);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn modules_name_only_lower_modules() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        let declared: Vec<&str> = lib
            .lines()
            .filter_map(|l| l.strip_prefix("pub mod "))
            .map(|l| l.trim_end_matches(';'))
            .collect();
        assert!(declared.len() >= 15, "{declared:?}");
        let mut violations = Vec::new();
        for m in &declared {
            let r = rank(m).unwrap_or_else(|| panic!("module {m} is not in ORDER"));
            for (file, text) in sources(&src, m) {
                for used in named_modules(&text) {
                    if used == *m {
                        continue;
                    }
                    match rank(&used) {
                        Some(u) if u < r => {}
                        _ => violations.push(format!("{file}: {m} names crate::{used}")),
                    }
                }
            }
        }
        assert!(
            violations.is_empty(),
            "modules naming modules at or above their own layer:\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn the_parser_finds_what_a_cycle_would_need() {
        let text = "use crate::server::Server;\n\
                    use crate::{hub::Hub, session::{self, Registry}};\n\
                    // crate::worker in a comment does not count\n\
                    let x = crate::admin::web_api_enabled(&s); other_crate::x();\n";
        assert_eq!(
            named_modules(text),
            vec!["server", "hub", "session", "admin"],
        );
    }
}
