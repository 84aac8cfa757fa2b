//! The real `openvpn` 2.6 client of the OpenVPN interop tests
//! (`interop_openvpn*.rs`, docs/openvpn.md).

use std::path::Path;

use rustether_testkit::netns::Netns;
use rustether_testkit::process::Proc;

/// Runs `openvpn --config <dir>/<name>.ovpn --auth-user-pass
/// <dir>/<name>.auth --connect-retry-max 3 <extra…>` in `ns`, the client
/// file being `file` and the credentials `user`/`pw`; the log goes to
/// `<dir>/logs`. The process is stopped when the guard drops.
///
/// Panics: the files cannot be written or openvpn cannot be spawned.
pub fn start_openvpn(
    ns: &Netns,
    dir: &Path,
    name: &str,
    file: &str,
    (user, pw): (&str, &str),
    extra: &[&str],
) -> Proc {
    let auth = dir.join(format!("{name}.auth"));
    std::fs::write(&auth, format!("{user}\n{pw}\n")).expect("write the credentials");
    let conf = dir.join(format!("{name}.ovpn"));
    std::fs::write(&conf, file).expect("write the client file");
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
    Proc::spawn(name, ns.command("openvpn", &args), &dir.join("logs")).expect("spawn openvpn")
}
