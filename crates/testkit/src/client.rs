//! The real SoftEther VPN Client (`vpnclient start --foreground`) in a client
//! namespace, driven with `vpncmd localhost /CLIENT /CMD ...`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd::wait_until;
use crate::netns::Netns;
use crate::process::Proc;
use crate::softether::{parse_table, program, require_programs, Sandbox};

/// vpnclient's management port in the Debian build (`vpncmd localhost /CLIENT` finds it).
pub const CLIENT_RPC_PORT: u16 = 9931;

/// Time limit of one vpncmd invocation.
pub const VPNCMD_TIMEOUT: Duration = Duration::from_secs(30);

/// Minimal vpn_client.config: keep-alive pings to the internet off, no accounts.
const CLIENT_CONFIG: &str = "declare root\n{\n\tdeclare AccountDatabase\n\t{\n\t}\n\
\tdeclare Config\n\t{\n\t\tbool AllowRemoteConfig false\n\t\tstring KeepConnectHost 127.0.0.1\n\
\t\tuint KeepConnectInterval 50\n\t\tuint KeepConnectPort 80\n\t\tuint KeepConnectProtocol 1\n\
\t\tbool UseKeepConnect false\n\t}\n}\n";

/// A VPN connection setting ("account") of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// Account name in the client.
    pub name: String,
    /// VPN server address and port.
    pub server: SocketAddrV4,
    /// Virtual hub to join.
    pub hub: String,
    /// User name.
    pub user: String,
    /// Password (standard password authentication).
    pub password: String,
    /// Virtual NIC name (the device is `vpn_<nic>`).
    pub nic: String,
    /// `AccountDetailSet /MAXTCP` (1..=32).
    pub max_tcp: u8,
    /// QoS on (`/NOQOS:no`); SoftEther then uses at least 2 TCP connections.
    pub qos: bool,
    /// Allow UDP acceleration (`/DISABLEUDP:no`).
    pub udp_accel: bool,
    /// Encryption on; `false` = `AccountEncryptDisable`.
    pub encrypt: bool,
    /// Compression on (`AccountCompressEnable`).
    pub compress: bool,
}

impl AccountSpec {
    /// Defaults as in the lab: 1 TCP connection asked for, QoS on, no UDP
    /// acceleration, encryption on, no compression, NIC `vpn`.
    pub fn new(name: &str, server: SocketAddrV4, hub: &str, user: &str, password: &str) -> Self {
        AccountSpec {
            name: name.into(),
            server,
            hub: hub.into(),
            user: user.into(),
            password: password.into(),
            nic: "vpn".into(),
            max_tcp: 1,
            qos: true,
            udp_accel: false,
            encrypt: true,
            compress: false,
        }
    }
}

/// Why a connection attempt failed, as the client reports it
/// (`... Cause: <message> (code <code>)`, SoftEther error codes, e.g.
/// 9 = ERR_AUTH_FAILED "User authentication failed.",
/// 8 = ERR_HUB_NOT_FOUND "The specified Virtual Hub does not exist on the server.").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// SoftEther error code.
    pub code: u32,
    /// The client's message text.
    pub message: String,
}

/// `N` of a "Use of Compression" value `Yes (N %)`; `None` for `No (...)`.
pub fn compression_percent(value: &str) -> Option<u32> {
    let rest = value.strip_prefix("Yes (")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// `AccountStatusGet` output as ordered `item -> value` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountStatus {
    /// Pairs in the order vpncmd prints them.
    pub items: Vec<(String, String)>,
}

impl AccountStatus {
    /// Value of the first item whose name starts with `prefix`.
    pub fn get(&self, prefix: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.as_str())
    }

    /// "Session Status" mentions "Session Established".
    pub fn established(&self) -> bool {
        self.get("Session Status")
            .is_some_and(|v| v.contains("Session Established"))
    }

    /// "Number of TCP Connections", if present and numeric.
    pub fn tcp_connections(&self) -> Option<u32> {
        self.get("Number of TCP Connections")?.parse().ok()
    }

    /// "Use of Compression": `Some(true)` for `Yes (...)`, `Some(false)` for `No`.
    pub fn compression(&self) -> Option<bool> {
        let v = self.get("Use of Compression")?;
        Some(v.starts_with("Yes"))
    }

    /// The saving SoftEther shows in "Use of Compression: Yes (N %)": 100 −
    /// bytes on the wire × 100 / bytes before compression, both directions
    /// (src/Cedar/Command.c, `CmdPrintStatusToListViewEx`). `None` when
    /// compression is off or the line is missing.
    pub fn compression_percent(&self) -> Option<u32> {
        compression_percent(self.get("Use of Compression")?)
    }

    /// Cipher from "Encryption" (`Enabled (Algorithm: X)` → `X`), `none` when disabled.
    pub fn cipher(&self) -> Option<String> {
        let v = self.get("Encryption")?;
        if v.starts_with("Disabled") {
            return Some("none".into());
        }
        let i = v.find("Algorithm:")?;
        Some(
            v[i + "Algorithm:".len()..]
                .trim()
                .trim_end_matches(')')
                .trim()
                .to_string(),
        )
    }
}

/// Find the last failure of account `account` in the client's log text.
pub fn parse_account_error(log: &str, account: &str) -> Option<ClientError> {
    let tag = format!("VPN Connection Setting \"{account}\": ");
    log.lines().rev().find_map(|line| {
        let rest = &line[line.find(&tag)? + tag.len()..];
        let cause = &rest[rest.find("Cause: ")? + "Cause: ".len()..];
        let open = cause.rfind("(code ")?;
        let code = cause[open + "(code ".len()..]
            .trim_end()
            .strip_suffix(')')?
            .trim()
            .parse()
            .ok()?;
        Some(ClientError {
            code,
            message: cause[..open].trim().to_string(),
        })
    })
}

/// A running real vpnclient (stopped on drop).
#[derive(Debug)]
pub struct VpnClient {
    proc: Proc,
    ns: String,
    sandbox: Sandbox,
    label: String,
}

impl VpnClient {
    /// Start vpnclient in `ns` (state under `work/<label>`, log `work/logs/<label>.log`)
    /// and wait until its management port listens (20 s).
    ///
    /// Errors: not installed, exits, or does not come up (with its log tail).
    pub fn start(ns: &Netns, work: &Path, label: &str) -> Result<VpnClient> {
        require_programs(&["vpnclient", "vpncmd"])?;
        crate::netns::require_tun()?;
        let sandbox = Sandbox::new(&work.join(label))?;
        let cfg = sandbox.lib_dir().join("vpn_client.config");
        std::fs::write(&cfg, CLIENT_CONFIG)
            .with_context(|| format!("cannot write {}", cfg.display()))?;
        let cmd = sandbox.command(ns.name(), &program("vpnclient"), &["start", "--foreground"]);
        let mut proc = Proc::spawn(label, cmd, &work.join("logs"))?;
        if let Err(e) = ns.wait_tcp_listening(CLIENT_RPC_PORT, Duration::from_secs(20), || {
            proc.ensure_running()
        }) {
            if proc.is_running() {
                bail!(
                    "vpnclient {label} did not come up: {e:#}; last log lines:\n{}",
                    proc.log_tail(20)
                );
            }
            bail!("vpnclient {label} did not come up: {e:#}");
        }
        Ok(VpnClient {
            proc,
            ns: ns.name().to_string(),
            sandbox,
            label: label.to_string(),
        })
    }

    /// Label given at start.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Process id (= process group id) of vpnclient.
    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// Last `n` lines of vpnclient's stdout/stderr.
    pub fn log_tail(&self, n: usize) -> String {
        self.proc.log_tail(n)
    }

    /// `Ok` while vpnclient runs; else an error with its log tail.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.proc.ensure_running()
    }

    /// Run `vpncmd localhost /CLIENT /CMD args...`; requires success.
    ///
    /// Errors: timeout ([`VPNCMD_TIMEOUT`]) or non-zero exit (vpncmd exits
    /// with the SoftEther error code), with the output.
    pub fn vpncmd(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["localhost", "/CLIENT", "/CMD"];
        full.extend_from_slice(args);
        self.sandbox.vpncmd(
            &self.ns,
            &full,
            &self.label,
            &redact(args).join(" "),
            VPNCMD_TIMEOUT,
        )
    }

    /// `NicCreate nic`, wait for device `vpn_<nic>` (10 s), give it the
    /// address `inner` = (address, prefix length) if any, and set it up.
    /// Returns the device name.
    pub fn nic_create(
        &self,
        ns: &Netns,
        nic: &str,
        inner: Option<(Ipv4Addr, u8)>,
    ) -> Result<String> {
        self.vpncmd(&["NicCreate", nic])?;
        let dev = format!("vpn_{nic}");
        crate::netns::check_ifname(&dev)?;
        wait_until(
            &format!("device {dev} in {}", ns.name()),
            Duration::from_secs(10),
            Duration::from_millis(100),
            || Ok(ns.link_exists(&dev)),
        )?;
        if let Some((addr, plen)) = inner {
            ns.add_addr(&dev, addr, plen)?;
        }
        ns.link_up(&dev)?;
        Ok(dev)
    }

    /// Create and configure account `spec` (AccountCreate, AccountPasswordSet
    /// /TYPE:standard, AccountDetailSet, encryption/compression). Does not connect.
    pub fn account_create(&self, spec: &AccountSpec) -> Result<()> {
        let n = spec.name.as_str();
        let server = format!("/SERVER:{}", spec.server);
        let hub = format!("/HUB:{}", spec.hub);
        let user = format!("/USERNAME:{}", spec.user);
        let nic = format!("/NICNAME:{}", spec.nic);
        self.vpncmd(&["AccountCreate", n, &server, &hub, &user, &nic])?;
        let pw = format!("/PASSWORD:{}", spec.password);
        self.vpncmd(&["AccountPasswordSet", n, &pw, "/TYPE:standard"])?;
        if !(1..=32).contains(&spec.max_tcp) {
            bail!("max_tcp must be 1..=32, got {}", spec.max_tcp);
        }
        let maxtcp = format!("/MAXTCP:{}", spec.max_tcp);
        let noqos = format!("/NOQOS:{}", if spec.qos { "no" } else { "yes" });
        let noudp = format!("/DISABLEUDP:{}", if spec.udp_accel { "no" } else { "yes" });
        self.vpncmd(&[
            "AccountDetailSet",
            n,
            &maxtcp,
            "/INTERVAL:1",
            "/TTL:0",
            "/HALF:no",
            "/BRIDGE:no",
            "/MONITOR:no",
            "/NOTRACK:no",
            &noqos,
            &noudp,
        ])?;
        if !spec.encrypt {
            self.vpncmd(&["AccountEncryptDisable", n])?;
        }
        if spec.compress {
            self.vpncmd(&["AccountCompressEnable", n])?;
        }
        Ok(())
    }

    /// `AccountConnect name`.
    pub fn connect(&self, account: &str) -> Result<()> {
        self.vpncmd(&["AccountConnect", account]).map(drop)
    }

    /// `AccountDisconnect name`.
    pub fn disconnect(&self, account: &str) -> Result<()> {
        self.vpncmd(&["AccountDisconnect", account]).map(drop)
    }

    /// `AccountStatusGet name`.
    ///
    /// Errors: the account is not connecting/connected (vpncmd error 37) or vpncmd fails.
    pub fn status(&self, account: &str) -> Result<AccountStatus> {
        let out = self.vpncmd(&["AccountStatusGet", account])?;
        Ok(AccountStatus {
            items: parse_table(&out),
        })
    }

    /// Wait until the account reports "Session Established", at most `timeout`.
    ///
    /// Errors: timeout, or vpnclient died; the message carries the last
    /// status, the last connection error from the client log and its tail.
    pub fn wait_established(&mut self, account: &str, timeout: Duration) -> Result<AccountStatus> {
        let deadline = Instant::now() + timeout;
        let mut last = Err(anyhow::anyhow!("no status yet"));
        while Instant::now() < deadline {
            self.proc.ensure_running()?;
            last = self.status(account);
            if let Ok(st) = &last {
                if st.established() {
                    return Ok(st.clone());
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let status = match &last {
            Ok(st) => format!("{:?}", st.get("Session Status")),
            Err(e) => format!("{e:#}"),
        };
        bail!(
            "{}: account {account} not established within {timeout:?} (status {status}; last client error {:?}); log tail:\n{}",
            self.label,
            self.account_error(account),
            self.log_tail(15)
        )
    }

    /// The last connection failure of `account` the client printed, if any.
    pub fn account_error(&self, account: &str) -> Option<ClientError> {
        parse_account_error(&self.proc.log_since(0), account)
    }

    /// Connect `account` and wait (at most `timeout`) for the failure the
    /// client reports; then disconnect it. For checks that a login is refused.
    /// The client may have started its next attempt (it retries refused
    /// logins) before the disconnect, so the server can see the login twice.
    ///
    /// Errors: the session got established instead, no failure within
    /// `timeout`, or vpncmd fails.
    pub fn connect_expect_error(
        &mut self,
        account: &str,
        timeout: Duration,
    ) -> Result<ClientError> {
        let offset = self.proc.log_len();
        self.connect(account)?;
        let deadline = Instant::now() + timeout;
        let result = loop {
            if let Some(e) = parse_account_error(&self.proc.log_since(offset), account) {
                break Ok(e);
            }
            if let Ok(st) = self.status(account) {
                if st.established() {
                    break Err(anyhow::anyhow!(
                        "{}: account {account} was established but a refusal was expected",
                        self.label
                    ));
                }
            }
            if Instant::now() >= deadline {
                break Err(anyhow::anyhow!(
                    "{}: no connection error for {account} within {timeout:?}; log tail:\n{}",
                    self.label,
                    self.log_tail(10)
                ));
            }
            self.proc.ensure_running()?;
            std::thread::sleep(Duration::from_millis(100));
        };
        let _ = self.disconnect(account);
        result
    }
}

/// Hide password arguments in messages.
fn redact<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter()
        .map(|a| {
            if a.to_ascii_uppercase().starts_with("/PASSWORD:") {
                "/PASSWORD:***"
            } else {
                a
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_values_as_vpncmd_prints_them() {
        assert_eq!(compression_percent("Yes (37 %)"), Some(37));
        assert_eq!(compression_percent("Yes (0 %)"), Some(0));
        assert_eq!(compression_percent("No (No Compression)"), None);
    }

    #[test]
    fn account_error_from_real_client_log() {
        // Lines as printed by vpnclient 5.01 build 9674 (captured against the real server).
        let log = "Status: Authenticating User...\n\
            2026-11-22 02:54:12.573 VPN Connection Setting \"bad\": The connection has been either disconnected or it failed. Cause: User authentication failed. (code 9)\n\
            2026-11-22 02:54:26.990 VPN Connection Setting \"badhub\": The connection has been either disconnected or it failed. Cause: The specified Virtual Hub does not exist on the server. (code 8)\n";
        assert_eq!(
            parse_account_error(log, "bad"),
            Some(ClientError {
                code: 9,
                message: "User authentication failed.".into()
            })
        );
        let e = parse_account_error(log, "badhub").unwrap();
        assert_eq!(e.code, 8);
        assert_eq!(
            e.message,
            "The specified Virtual Hub does not exist on the server."
        );
        assert_eq!(parse_account_error(log, "lab"), None);
    }

    #[test]
    fn status_fields() {
        let st = AccountStatus {
            items: vec![
                (
                    "Session Status".into(),
                    "Connection Completed (Session Established)".into(),
                ),
                (
                    "Encryption".into(),
                    "Enabled (Algorithm: TLS_AES_256_GCM_SHA384)".into(),
                ),
                ("Number of TCP Connections".into(), "8".into()),
                ("Use of Compression".into(), "Yes (0 %)".into()),
            ],
        };
        assert_eq!(st.compression(), Some(true));
        assert!(st.established());
        assert_eq!(st.tcp_connections(), Some(8));
        assert_eq!(st.cipher().as_deref(), Some("TLS_AES_256_GCM_SHA384"));
        let off = AccountStatus {
            items: vec![
                ("Encryption".into(), "Disabled (No Encryption)".into()),
                ("Use of Compression".into(), "No".into()),
            ],
        };
        assert_eq!(off.cipher().as_deref(), Some("none"));
        assert_eq!(off.compression(), Some(false));
        assert!(!off.established());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact(&["X", "/PASSWORD:secret"]),
            vec!["X", "/PASSWORD:***"]
        );
    }
}
