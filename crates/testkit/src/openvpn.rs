//! The real `openvpn` 2.6 client, as the OpenVPN interop tests
//! (`interop_openvpn*.rs`) and `rustether-bench openvpn` start it
//! (docs/openvpn.md).

use std::path::Path;

use anyhow::Result;

use crate::netns::Netns;
use crate::process::Proc;

/// Runs `openvpn --config <dir>/<name>.ovpn --auth-user-pass
/// <dir>/<name>.auth --connect-retry-max 3 <extra…>` in `ns`, the client
/// file being `file` and the credentials `user`/`pw`; the log goes to
/// `<dir>/logs`. The process is stopped when the guard drops.
///
/// Errors: the files cannot be written or openvpn cannot be spawned.
pub fn start(
    ns: &Netns,
    dir: &Path,
    name: &str,
    file: &str,
    (user, pw): (&str, &str),
    extra: &[&str],
) -> Result<Proc> {
    let auth = dir.join(format!("{name}.auth"));
    std::fs::write(&auth, format!("{user}\n{pw}\n"))?;
    let conf = dir.join(format!("{name}.ovpn"));
    std::fs::write(&conf, file)?;
    let (conf_s, auth_s) = (
        conf.to_string_lossy().into_owned(),
        auth.to_string_lossy().into_owned(),
    );
    let mut args = vec![
        "--config",
        &conf_s,
        "--auth-user-pass",
        &auth_s,
        "--connect-retry-max",
        "3",
    ];
    args.extend_from_slice(extra);
    Proc::spawn(name, ns.command("openvpn", &args), &dir.join("logs"))
}
