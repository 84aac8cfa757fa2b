//! The RADIUS PAP exchange over UDP (SoftEther `RadiusLogin`,
//! src/Cedar/Radius.c): one Access-Request, resent every retry interval to
//! the next server of the list until a verified reply arrives or the
//! time-out passes. Async (tokio UDP): it never blocks a runtime thread.
//! The bytes are built and checked by [`rustether_proto::radius`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::RngCore;
use rustether_proto::radius::{self, PapRequest, Reply, MAX_PACKET};
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::{debug, warn};

/// Overall time-out of one exchange: 10 s. SoftEther master waits 15 s
/// (`RADIUS_RETRY_TIMEOUT`) while sending `noop` keep-alives to the client,
/// which the 5.01 client does not understand; it gives up on the login
/// answer after 15 s (`CONNECTING_TIMEOUT`), so we answer (error 9) before.
pub const RETRY_TIMEOUT: Duration = Duration::from_secs(10);
/// SoftEther's `RADIUS_RETRY_INTERVAL`: the shortest retry interval, 1 s.
pub const MIN_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// At most this many server names are tried (`RadiusServerName` may list
/// several, separated by `,` or `;`, as SoftEther's `ParseToken`).
pub const MAX_SERVERS: usize = 8;

/// What one RADIUS login needs, taken from the hub's configuration
/// (`RadiusServerName`, `RadiusServerPort`, `RadiusSecret`,
/// `RadiusRetryInterval`, docs/administration.md "RADIUS") and the user.
#[derive(Debug, Clone)]
pub struct RadiusJob {
    /// `RadiusServerName`: host names or addresses, `,`/`;`-separated.
    pub servers: String,
    /// UDP port (SoftEther default 1812).
    pub port: u16,
    /// Shared secret.
    pub secret: Vec<u8>,
    /// Retry interval, clamped to 1 s ..= [`RETRY_TIMEOUT`].
    pub interval: Duration,
    /// `User-Name` sent: the user's RADIUS name, else the login name.
    pub user_name: String,
    /// Hub name, sent as `Called-Station-Id`.
    pub hub: String,
}

/// Runs the PAP exchange: `true` only for a verified Access-Accept.
/// A reject, a challenge, no answer within [`RETRY_TIMEOUT`], a name that
/// does not resolve or a password over 128 bytes give `false`, with a log
/// line saying which. Replies from another address or port, with another
/// identifier or failing verification are dropped (logged) and the wait
/// continues.
pub async fn pap_login(job: &RadiusJob, password: &str, client: IpAddr) -> bool {
    let mut targets: Vec<SocketAddr> = Vec::new();
    for host in job
        .servers
        .split([',', ';'])
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .take(MAX_SERVERS)
    {
        match tokio::net::lookup_host((host, job.port)).await {
            Ok(mut a) => targets.extend(a.next()),
            Err(e) => warn!(server = host, "RADIUS server name does not resolve: {e}"),
        }
    }
    if targets.is_empty() {
        warn!(hub = %job.hub, "no usable RADIUS server; login refused");
        return false;
    }
    let mut auth = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut auth);
    let id = rand::random::<u8>();
    let client_ip = client.to_string();
    let req = PapRequest {
        user_name: &job.user_name,
        password,
        nas_identifier: radius::NAS_IDENTIFIER,
        called_station_id: &job.hub,
        calling_station_id: &client_ip,
    };
    let packet = match radius::encode_access_request(&req, id, &auth, &job.secret) {
        Ok(p) => p,
        Err(e) => {
            warn!(hub = %job.hub, user = %job.user_name, "RADIUS request not sent: {e}");
            return false;
        }
    };
    let interval = job.interval.clamp(MIN_RETRY_INTERVAL, RETRY_TIMEOUT);
    let deadline = Instant::now() + RETRY_TIMEOUT;
    let mut buf = vec![0u8; MAX_PACKET];
    let mut pos = 0;
    // One socket per address family in use.
    let mut socks: [Option<UdpSocket>; 2] = [None, None];
    loop {
        let target = targets[pos % targets.len()];
        let fam = usize::from(target.is_ipv6());
        if socks[fam].is_none() {
            let bind: SocketAddr = if target.is_ipv6() {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            };
            match UdpSocket::bind(bind).await {
                Ok(s) => socks[fam] = Some(s),
                Err(e) => {
                    warn!("RADIUS: cannot open a UDP socket: {e}");
                    return false;
                }
            }
        }
        let Some(sock) = socks[fam].as_ref() else {
            return false;
        };
        if let Err(e) = sock.send_to(&packet, target).await {
            debug!(%target, "RADIUS send failed: {e}");
        }
        let next = (Instant::now() + interval).min(deadline);
        loop {
            let got = tokio::time::timeout_at(next, sock.recv_from(&mut buf)).await;
            let (n, from) = match got {
                Err(_) => break,
                Ok(Err(e)) => {
                    // E.g. ICMP port unreachable from the last send.
                    debug!(%target, "RADIUS receive: {e}");
                    tokio::time::sleep_until(next).await;
                    break;
                }
                Ok(Ok(x)) => x,
            };
            if !targets.contains(&from) {
                debug!(%from, "RADIUS reply from an unknown address dropped");
                continue;
            }
            match radius::parse_reply(&buf[..n], id, &auth, &job.secret) {
                Ok(Reply::Accept) => return true,
                Ok(Reply::Reject(msg)) => {
                    warn!(hub = %job.hub, user = %job.user_name, server = %from, "RADIUS Access-Reject{}", msg.map(|m| format!(": {m}")).unwrap_or_default());
                    return false;
                }
                Ok(Reply::Challenge) => {
                    warn!(hub = %job.hub, user = %job.user_name, server = %from, "RADIUS Access-Challenge is not supported for PAP; login refused");
                    return false;
                }
                Err(e) => {
                    warn!(server = %from, "RADIUS reply dropped: {e}");
                }
            }
        }
        if Instant::now() >= deadline {
            warn!(hub = %job.hub, user = %job.user_name, "RADIUS server did not answer within {} s", RETRY_TIMEOUT.as_secs());
            return false;
        }
        pos += 1;
    }
}
