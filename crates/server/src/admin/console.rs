//! The web administration console at `/admin/` (docs/web-console.md): static
//! HTML, CSS and JavaScript modules embedded in the binary, served on every
//! listener while the JSON-RPC API is enabled (`DisableJsonRpcWebApi false`,
//! as SoftEther serves `hamcore/wwwroot/admin/` from `AdminWebProcGet`).
//!
//! The pages hold no secret and need no login: everything they show comes
//! from the JSON-RPC API (`web`), called by the page with the credentials
//! the user typed. This module only maps a target to an asset ([`lookup`],
//! pure) and writes it with strict headers ([`SECURITY_HEADERS`]).

use rustether_proto::http::{http_date, write_response, HttpHead};
use tokio::io::AsyncWriteExt;

use crate::transport::ServerTls;

/// One embedded file: its name under `/admin/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../../webconsole/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The console's files (crates/server/webconsole/), written by hand: no
/// build step, no third-party code.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("ui.js", JS),
    asset!("pages.js", JS),
    asset!("graph.js", JS),
    asset!("vpnfile.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Content-Security-Policy of every console answer: only the console's own
/// scripts, styles and API; no inline script or style, no plugins, no
/// framing, no form posts elsewhere.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
base-uri 'none'";

/// Headers sent with every console answer (besides `Content-Type`,
/// `Date`, `Connection`).
pub(crate) const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
];

/// What a console request is answered with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 200 with this content type and body.
    File(&'static str, &'static [u8]),
    /// 301 to this location (`/admin` → `/admin/`).
    Redirect(&'static str),
    /// 404.
    NotFound,
}

/// Maps a request target (`/admin…`, any case for the prefix, query
/// ignored) to its answer. File names are matched exactly against the
/// embedded list, so no path can reach anything else.
pub(crate) fn lookup(target: &str) -> Answer {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let Some(rest) = path
        .get(6..)
        .filter(|_| path[..6].eq_ignore_ascii_case("/admin"))
    else {
        return Answer::NotFound;
    };
    let name = match rest {
        "" => return Answer::Redirect("/admin/"),
        "/" => "index.html",
        r => match r.strip_prefix('/') {
            Some(n) => n,
            None => return Answer::NotFound,
        },
    };
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map_or(Answer::NotFound, |a| Answer::File(a.content_type, a.body))
}

/// Answers one console request on `tls`; `false` on a write error.
pub(crate) async fn serve(tls: &mut ServerTls, head: &HttpHead, now_unix: u64) -> bool {
    let date = http_date(now_unix);
    let mut headers: Vec<(&str, &str)> = vec![("Date", &date), ("Connection", "Keep-Alive")];
    headers.extend_from_slice(&SECURITY_HEADERS);
    let (code, reason, body): (u16, &str, &[u8]) = match lookup(head.target()) {
        Answer::File(ct, body) => {
            headers.push(("Content-Type", ct));
            (200, "OK", body)
        }
        Answer::Redirect(to) => {
            headers.push(("Location", to));
            headers.push(("Content-Type", "text/plain; charset=utf-8"));
            (301, "Moved Permanently", b"/admin/\r\n")
        }
        Answer::NotFound => {
            headers.push(("Content-Type", "text/plain; charset=utf-8"));
            (404, "Not Found", b"Not found.\r\n")
        }
    };
    let body = if head.method().eq_ignore_ascii_case("HEAD") {
        &[][..]
    } else {
        body
    };
    let mut out = Vec::with_capacity(body.len() + 1024);
    write_response(&mut out, code, reason, &headers, body);
    tls.write_all(&out).await.is_ok() && tls.flush().await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_map_to_embedded_files_only() {
        assert_eq!(lookup("/admin"), Answer::Redirect("/admin/"));
        assert_eq!(lookup("/ADMIN"), Answer::Redirect("/admin/"));
        assert!(
            matches!(lookup("/admin/"), Answer::File(ct, b) if ct.starts_with("text/html") && !b.is_empty())
        );
        assert!(
            matches!(lookup("/admin/?x=1"), Answer::File(ct, _) if ct.starts_with("text/html"))
        );
        assert!(matches!(lookup("/admin/app.js"), Answer::File(ct, _) if ct == JS));
        for bad in [
            "/admin/../server.config",
            "/admin//app.js",
            "/admin/APP.JS",
            "/admin/nothing",
            "/adminx",
            "/admin/%2e%2e/x",
            "/api/",
        ] {
            assert_eq!(lookup(bad), Answer::NotFound, "{bad}");
        }
    }

    #[test]
    fn assets_have_no_inline_script_or_style() {
        for a in ASSETS {
            let text = String::from_utf8_lossy(a.body);
            if a.name.ends_with(".html") {
                // Scripts only by src; no style attributes or event handlers
                // (the CSP forbids them, so they would silently not work).
                assert!(!text.contains("<script>"), "{}", a.name);
                assert!(!text.contains("style="), "{}", a.name);
                assert!(!text.contains(" onclick="), "{}", a.name);
                assert!(!text.contains("<style"), "{}", a.name);
            }
            if a.name.ends_with(".js") {
                assert!(!text.contains("innerHTML"), "{}: build DOM nodes", a.name);
                assert!(!text.contains("eval("), "{}", a.name);
                assert!(!text.contains("setAttribute('style'"), "{}", a.name);
            }
        }
    }

    #[test]
    fn csp_is_strict() {
        assert!(!CSP.contains("unsafe"));
        assert!(CSP.contains("frame-ancestors 'none'"));
        assert!(CSP.contains("script-src 'self'"));
    }
}
