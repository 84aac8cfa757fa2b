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
    creds: (&str, &str),
    extra: &[&str],
) -> Proc {
    rustether_testkit::openvpn::start(ns, dir, name, file, creds, extra).expect("start openvpn")
}
