//! `password-set`: sets the server administrator password in the
//! configuration file while the service is stopped — the offline twin of
//! vpncmd's `ServerPasswordSet` (issue 9 item 4, SECURITY.md). The password
//! is read from the terminal (twice, not echoed) or, when stdin is not a
//! terminal, from the first line of stdin; only its SHA-0 hash is stored
//! (`ServerConfiguration/HashedPassword`, docs/config-format.md §7.6).

use std::io::{BufRead, IsTerminal, Read, Write};

use rustether_config::{ConfigStore, ServerConfig};
use rustether_proto::password::hash_admin_password;

use super::lock::{InstanceLock, LockError};
use super::{ensure_state_dir, Ctx};
use crate::exit;

/// Longest password line read from stdin, bytes (SoftEther's
/// `MAX_PASSWORD_LEN` is 255).
const MAX_LINE: u64 = 1024;

/// Runs `password-set`; returns the exit code.
pub(crate) fn password_set(ctx: &Ctx) -> u8 {
    if let Err(m) = ensure_state_dir(&ctx.paths) {
        eprintln!("{m}");
        return exit::FAILURE;
    }
    // Held for the whole edit: the service cannot start meanwhile, and a
    // running one (which would overwrite the file) is refused.
    let _lock = match InstanceLock::acquire(&ctx.paths.lock) {
        Ok(l) => l,
        Err(LockError::Held) => {
            eprintln!(
                "The {} is running: stop it first, or use vpncmd's ServerPasswordSet.",
                ctx.edition.title()
            );
            return exit::FAILURE;
        }
        Err(e) => {
            eprintln!("{e}");
            return exit::FAILURE;
        }
    };
    let password = match read_password() {
        Ok(p) => p,
        Err(m) => {
            eprintln!("{m}");
            return exit::FAILURE;
        }
    };
    let store = ConfigStore::new(&ctx.paths.state_dir, ctx.edition);
    let mut cfg = match store.load() {
        Ok(Some(c)) => c,
        Ok(None) => ServerConfig::initial(
            ctx.edition,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        ),
        Err(e) => {
            eprintln!("Cannot load the configuration: {e}");
            return exit::FAILURE;
        }
    };
    cfg.server.hashed_password = hash_admin_password(&password);
    if let Err(e) = store.save(&cfg) {
        eprintln!("Cannot save the configuration: {e}");
        return exit::FAILURE;
    }
    if password.is_empty() {
        eprintln!(
            "Warning: the server administrator password is now empty; administration is \
             accepted only from this machine (see SECURITY.md)."
        );
    }
    println!("The command completed successfully.");
    exit::OK
}

/// The new password: prompted twice without echo on a terminal, else the
/// first line of stdin (without its line ending).
fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .take(MAX_LINE)
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        if line.len() as u64 >= MAX_LINE && !line.ends_with('\n') {
            return Err("the password line is too long".into());
        }
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = prompt("Password: ")?;
    let second = prompt("Confirm input: ")?;
    if first != second {
        return Err("The confirmed password does not match.".into());
    }
    Ok(first)
}

/// Prints `label` and reads one line from the terminal with echo off.
fn prompt(label: &str) -> Result<String, String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).map_err(|e| format!("terminal: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(|e| format!("terminal: {e}"))?;
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let r = stdin.lock().take(MAX_LINE).read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    r.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
