//! `install` / `uninstall`: Service Mode through systemd.
//!
//! Without `--unit-dir` the unit goes to `/etc/systemd/system` and
//! `systemctl daemon-reload`, `enable --now` (resp. `disable --now`) are
//! run. With `--unit-dir DIR` only the file is written or removed.

use std::path::{Path, PathBuf};
use std::process::Command as Proc;

use super::{sys, Ctx};
use crate::exit;
use crate::unit::{render, unit_name, UnitOptions};

const SYSTEM_UNIT_DIR: &str = "/etc/systemd/system";

fn systemctl(args: &[&str]) -> Result<(), String> {
    let out = Proc::new("systemctl")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run systemctl {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "systemctl {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn options(ctx: &Ctx) -> Result<UnitOptions, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
    let mut o = UnitOptions::standard(&exe);
    if ctx.dir_given {
        o.state_dir = ctx.paths.state_dir.clone();
    }
    if ctx.log_dir_given {
        o.log_dir = ctx.paths.log_dir.clone();
    }
    o.user = ctx.user.clone();
    Ok(o)
}

pub(crate) fn install(ctx: &Ctx, unit_dir: Option<&Path>) -> u8 {
    let e = ctx.edition;
    let o = match options(ctx) {
        Ok(o) => o,
        Err(m) => {
            eprintln!("{m}");
            return exit::FAILURE;
        }
    };
    let system = unit_dir.is_none();
    if system && sys::euid() != 0 {
        eprintln!(
            "Installing the {} service needs root (or use --unit-dir DIR to only write the unit).",
            e.title()
        );
        return exit::FAILURE;
    }
    let dir: PathBuf = unit_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_UNIT_DIR));
    let path = dir.join(unit_name(e));
    let res = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, render(e, &o)));
    if let Err(err) = res {
        eprintln!("Cannot write {}: {err}", path.display());
        return exit::FAILURE;
    }
    println!("Wrote the systemd unit {}.", path.display());
    if system {
        let name = unit_name(e);
        if let Err(m) =
            systemctl(&["daemon-reload"]).and_then(|_| systemctl(&["enable", "--now", &name]))
        {
            eprintln!("{m}");
            return exit::FAILURE;
        }
        println!(
            "The {} service has been installed and started ({name}).",
            e.title()
        );
    }
    exit::OK
}

pub(crate) fn uninstall(ctx: &Ctx, unit_dir: Option<&Path>) -> u8 {
    let e = ctx.edition;
    let system = unit_dir.is_none();
    if system && sys::euid() != 0 {
        eprintln!("Uninstalling the {} service needs root.", e.title());
        return exit::FAILURE;
    }
    let dir: PathBuf = unit_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_UNIT_DIR));
    let name = unit_name(e);
    let path = dir.join(&name);
    if !path.exists() {
        eprintln!(
            "The {} service is not installed ({} does not exist).",
            e.title(),
            path.display()
        );
        return exit::NOT_RUNNING;
    }
    if system {
        if let Err(m) = systemctl(&["disable", "--now", &name]) {
            eprintln!("{m}");
        }
    }
    if let Err(err) = std::fs::remove_file(&path) {
        eprintln!("Cannot remove {}: {err}", path.display());
        return exit::FAILURE;
    }
    if system {
        let _ = systemctl(&["daemon-reload"]);
    }
    println!("Removed the systemd unit {}.", path.display());
    exit::OK
}
