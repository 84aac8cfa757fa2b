//! The web console at `/admin/` (docs/web-console.md) in the real Chromium
//! (Debian `chromium` + `chromium-driver`), driven over WebDriver
//! (`fantoccini`), against our running `vpnserver`, with the real SoftEther
//! `vpnclient` as the VPN user. One browser session walks through every
//! step: security headers, the empty-password banner and its form, a wrong
//! password refused, creating a hub and a user, the user's session seen and
//! disconnected on the sessions page, the `.vpn` file downloaded, imported
//! with `AccountImport` and connected after `AccountPasswordSet`, a hub
//! administrator confined to its hub, keyboard reachability and no
//! horizontal scrolling at 375 px. Screenshots of every page go to
//! `target/test-artifacts/webconsole/`.
//!
//! Chromium, chromedriver, the server and the browser run in the server's
//! network namespace (no default route; the browser is a local client, so
//! the empty server password is accepted as SoftEther does); the test talks
//! to chromedriver through a relay thread that enters that namespace.
//! Needs root, network namespaces, `/dev/net/tun`, the SoftEther programs,
//! `chromium` and `chromedriver` (`testkit::prereq`).

mod admin_support;

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use admin_support::*;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use rustether_testkit::client::{AccountSpec, VpnClient};
use rustether_testkit::exclusive;
use rustether_testkit::netns::{netns_exec, Netns};
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::process::Proc;
use rustether_testkit::seconfig::ServerConfigSpec;
use rustether_testkit::t1::{Topology, SERVER_ADDR};
use rustether_testkit::tmp::TestDir;
use serde_json::{json, Value};

const PORT: u16 = 5555;
/// chromedriver's port inside the server namespace.
const DRIVER_PORT: u16 = 9515;
const HUB: &str = "WEBHUB";
const OTHER_HUB: &str = "OTHERHUB";
const ADMIN_PW: &str = "console-admin-pw";
const HUB_PW: &str = "hub-admin-pw";
const USER: &str = "alice";
const USER_PW: &str = "alice-pw-1";
/// Virtual NIC of the client (device `vpn_wc`).
const NIC: &str = "wc";
/// Deadline of one browser wait.
const WAIT: Duration = Duration::from_secs(20);

/// Where screenshots are kept: `<target>/test-artifacts/webconsole/`.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("test-artifacts").join("webconsole")
}

/// Forwards connections from a loopback port of this namespace to
/// `127.0.0.1:port` inside namespace `ns` (a thread that joined it with
/// `setns`; the listening socket was opened before, here). Returns the
/// local port. The thread ends with the test process.
fn relay_into(ns: &Netns, port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("relay listener");
    let local = listener.local_addr().expect("relay address").port();
    let nsfile = std::fs::File::open(format!("/run/netns/{}", ns.name())).expect("netns file");
    std::thread::spawn(move || {
        if let Err(e) = nix::sched::setns(&nsfile, nix::sched::CloneFlags::CLONE_NEWNET) {
            eprintln!("relay: setns failed: {e}");
            return;
        }
        for conn in listener.incoming() {
            let Ok(a) = conn else { break };
            let Ok(b) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let (a2, b2) = (a.try_clone().expect("clone"), b.try_clone().expect("clone"));
            std::thread::spawn(move || pipe(a, b));
            std::thread::spawn(move || pipe(b2, a2));
        }
    });
    local
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// The WebDriver session and what the steps share.
struct Browser {
    c: Client,
    base: String,
    shots: PathBuf,
}

impl Browser {
    async fn js(&self, script: &str) -> Value {
        self.c
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    async fn js_async(&self, script: &str) -> Value {
        self.c
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{script}"))
    }

    /// Polls `script` (returning a value) until it is truthy; panics with
    /// `what` and the page's visible text after [`WAIT`].
    async fn wait_js(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(script).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.js("return document.body.innerText").await;
                panic!("timed out waiting for {what}; page text:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn el(&self, css: &str) -> Element {
        self.c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("element {css}: {e}"))
    }

    async fn xpath(&self, xp: &str) -> Element {
        self.c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(xp))
            .await
            .unwrap_or_else(|e| panic!("element {xp}: {e}"))
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.el(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    async fn click(&self, css: &str) {
        self.el(css).await.click().await.expect("click");
    }

    /// Clicks the button labelled `label` in the table row whose first
    /// cell is `first`; `confirm` clicks it twice (the console's
    /// confirmation step).
    async fn row_button(&self, first: &str, label: &str, confirm: bool) {
        let xp = format!("//tr[td[1][normalize-space()='{first}']]//button[normalize-space()='{label}']");
        self.xpath(&xp).await.click().await.expect("click row button");
        if confirm {
            let xp2 = format!(
                "//tr[td[1][normalize-space()='{first}']]//button[normalize-space()='Confirm: {label}']"
            );
            self.xpath(&xp2).await.click().await.expect("confirm");
        }
    }

    /// Shows page `name` (`#/name`) and waits until it rendered.
    async fn page(&self, name: &str) {
        let before = self
            .js("return document.getElementById('page').dataset.loaded || ''")
            .await;
        self.js(&format!("location.hash = '#/{name}'; return 1")).await;
        let script = format!(
            "const p = document.getElementById('page'); \
             return p.dataset.page === '{name}' && !p.hasAttribute('aria-busy') && \
             p.dataset.loaded !== {before}"
        );
        self.wait_js(&format!("page {name}"), &script).await;
    }

    /// Waits until the page's text contains `text`.
    async fn see(&self, text: &str) {
        let t = serde_json::to_string(text).expect("json");
        self.wait_js(
            &format!("text {text:?}"),
            &format!("return document.getElementById('page').innerText.includes({t})"),
        )
        .await;
    }

    /// Re-renders the current page and waits for it.
    async fn refresh_page(&self) {
        let name = self
            .js("return document.getElementById('page').dataset.page")
            .await;
        let name = name.as_str().unwrap_or("dashboard").to_owned();
        self.js("location.hash = '#/none'; return 1").await;
        self.page(&name).await;
    }

    async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    async fn login(&self, hub: &str, password: &str) {
        self.fill("#login-hub", hub).await;
        self.fill("#login-password", password).await;
        self.click("#login-submit").await;
    }

    async fn logout(&self) {
        self.click("#logout").await;
        self.wait_js(
            "the login form",
            "return !document.getElementById('login').classList.contains('hidden')",
        )
        .await;
    }
}

fn capabilities(profile: &Path, downloads: &Path) -> serde_json::Map<String, Value> {
    let caps = json!({
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
                "safebrowsing.enabled": false,
            },
        },
    });
    match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

#[test]
fn web_console_in_chromium() {
    if !require(&[
        Prereq::Netns,
        Prereq::Tun,
        Prereq::SoftEther,
        Prereq::Program("chromium"),
        Prereq::Program("chromedriver"),
    ]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("webconsole").unwrap();
    let topo = Topology::new(1, false).unwrap();
    let srv_ns = &topo.server;
    let _server = OurServer::start(
        srv_ns,
        dir.path(),
        "server",
        PORT,
        &config_text(&ServerConfigSpec::with_hub(PORT, "DEFAULT", &[]), true),
    )
    .unwrap();

    let profile = dir.path().join("chromium-profile");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::create_dir_all(&downloads).unwrap();
    let shots = artifacts_dir();
    std::fs::create_dir_all(&shots).unwrap();

    let mut cmd = netns_exec(
        srv_ns.name(),
        "chromedriver",
        &[&format!("--port={DRIVER_PORT}")],
    );
    cmd.env("HOME", dir.path());
    let mut driver = Proc::spawn("chromedriver", cmd, &dir.path().join("logs")).unwrap();
    srv_ns
        .wait_tcp_listening(DRIVER_PORT, Duration::from_secs(20), || {
            driver.ensure_running()
        })
        .unwrap();
    let relay = relay_into(srv_ns, DRIVER_PORT);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities(&profile, &downloads))
            .connect(&format!("http://127.0.0.1:{relay}"))
            .await
            .expect("WebDriver session with chromium");
        let b = Browser {
            c,
            base: format!("https://{}/admin/", SocketAddrV4::new(SERVER_ADDR, PORT)),
            shots,
        };
        let r = steps(&b, &topo, dir.path(), &downloads).await;
        let _ = b.c.close().await;
        r
    });
    drop(driver);
}

async fn steps(b: &Browser, topo: &Topology, work: &Path, downloads: &Path) {
    // --- /admin redirects, the page loads with strict headers
    b.c.goto(&b.base.trim_end_matches('/').to_string())
        .await
        .expect("open /admin");
    b.el("#login-form").await;
    assert!(b.c.current_url().await.unwrap().path().ends_with("/admin/"));
    let h = b
        .js_async(
            "const done = arguments[arguments.length - 1];
             (async () => {
               const page = await fetch('/admin/', {cache: 'no-store'});
               const api = await fetch('/api/', {method: 'POST', headers: {'Content-Type': 'application/json',
                 'X-VPNADMIN-PASSWORD': 'x'}, body: JSON.stringify({jsonrpc: '2.0', id: '1', method: 'Test', params: {}})});
               const get = (r) => Object.fromEntries([...r.headers]);
               done({page: get(page), api: get(api)});
             })().catch((e) => done({error: String(e)}));",
        )
        .await;
    let page = &h["page"];
    let csp = page["content-security-policy"].as_str().unwrap_or("");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP {csp:?} lacks {part}: {h}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page["x-content-type-options"], "nosniff", "{h}");
    assert_eq!(page["x-frame-options"], "DENY", "{h}");
    assert_eq!(page["referrer-policy"], "no-referrer", "{h}");
    assert_eq!(page["cache-control"], "no-store", "{h}");
    assert_eq!(h["api"]["cache-control"], "no-store", "{h}");
    assert_eq!(h["api"]["x-content-type-options"], "nosniff", "{h}");
    assert!(
        h["api"].get("access-control-allow-origin").is_none(),
        "{h}"
    );
    // no script or style was refused by the CSP and the module ran
    assert_eq!(
        b.js("return document.activeElement.id").await,
        "login-hub",
        "app.js runs and focuses the login form"
    );
    b.shot("login").await;

    // --- empty server password: any password from this machine, banner + form
    b.login("", "anything").await;
    b.wait_js(
        "the empty-password banner",
        "const x = document.getElementById('banner'); return !x.classList.contains('hidden') && x.innerText",
    )
    .await;
    b.page("dashboard").await;
    b.shot("dashboard-empty-password").await;
    b.fill("#banner-pw1", ADMIN_PW).await;
    b.fill("#banner-pw2", ADMIN_PW).await;
    b.click("#banner-form button[type=submit]").await;
    b.wait_js(
        "the banner to go",
        "return document.getElementById('banner').classList.contains('hidden')",
    )
    .await;

    // --- a wrong password is refused, the right one accepted
    b.logout().await;
    b.login("", "not-the-password").await;
    let err = b
        .wait_js(
            "the login error",
            "return document.getElementById('login-error').innerText",
        )
        .await;
    assert!(err.as_str().unwrap_or("").contains("refused"), "{err}");
    assert_eq!(
        b.js("return document.getElementById('page').classList.contains('hidden')")
            .await,
        true
    );
    b.login("", ADMIN_PW).await;
    b.page("dashboard").await;
    assert_eq!(
        b.js("return document.getElementById('banner').classList.contains('hidden')")
            .await,
        true,
        "no banner once a password is set"
    );
    b.see("Live traffic").await;
    // the graph is drawn (some pixel is not transparent)
    b.wait_js(
        "the traffic graph",
        "const c = document.getElementById('traffic-graph'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
         for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false",
    )
    .await;

    // --- create two hubs and a user
    b.page("hubs").await;
    for (name, pw) in [(HUB, HUB_PW), (OTHER_HUB, "other-pw")] {
        b.fill("#create-hub-form input[name=name]", name).await;
        b.fill("#create-hub-form input[name=pw]", pw).await;
        b.click("#create-hub-form button[type=submit]").await;
        b.see(name).await;
    }
    b.shot("hubs").await;
    b.row_button(HUB, "Manage users", false).await;
    b.wait_js(
        "the users page of the new hub",
        &format!(
            "const p = document.getElementById('page'); const s = document.getElementById('hub-select'); \
             return p.dataset.page === 'users' && !p.hasAttribute('aria-busy') && s && s.value === '{HUB}'"
        ),
    )
    .await;
    b.fill("#create-user-form input[name=name]", USER).await;
    b.fill("#create-user-form input[name=real]", "Alice Example").await;
    b.fill("#create-user-form input[name=pw]", USER_PW).await;
    b.click("#create-user-form button[type=submit]").await;
    b.see("Alice Example").await;
    b.shot("users").await;

    // --- the real vpnclient logs in; its session shows on the sessions page
    let cns = &topo.clients[0];
    let mut client = VpnClient::start(cns, work, "wc-client").unwrap();
    client.nic_create(cns, NIC, None).unwrap();
    let spec = AccountSpec::new(
        "wc",
        SocketAddrV4::new(SERVER_ADDR, PORT),
        HUB,
        USER,
        USER_PW,
    );
    let spec = AccountSpec {
        nic: NIC.into(),
        ..spec
    };
    client.account_create(&spec).unwrap();
    client.connect("wc").unwrap();
    client
        .wait_established("wc", Duration::from_secs(30))
        .unwrap();
    b.page("sessions").await;
    let session = b
        .wait_js(
            "alice's session on the page (refreshed every 5 s)",
            &format!(
                "const r = [...document.querySelectorAll('#page tbody tr')].find((tr) => tr.cells[1] && tr.cells[1].innerText === '{USER}'); \
                 return r ? r.cells[0].innerText : ''"
            ),
        )
        .await;
    let session = session.as_str().unwrap().to_owned();
    b.row_button(&session, "Details", false).await;
    b.wait_js(
        "session details",
        "return document.getElementById('session-detail').innerText",
    )
    .await;
    b.shot("sessions").await;
    // disconnect it from the page: gone from the list, the client retries
    b.row_button(&session, "Disconnect", true).await;
    let gone = format!(
        "const p = document.getElementById('page'); return !p.hasAttribute('aria-busy') && \
         p.dataset.page === 'sessions' && ![...p.querySelectorAll('tbody tr')].some((tr) => tr.cells[0].innerText === '{session}')"
    );
    b.wait_js("the disconnected session to leave the list", &gone)
        .await;
    let deadline = Instant::now() + WAIT;
    loop {
        let list = client.vpncmd(&["AccountList"]).unwrap_or_default();
        if list.contains("Retrying") || list.contains("Connecting") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the client does not report retrying after the disconnect:\n{list}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    b.refresh_page().await;
    b.wait_js("the old session still absent", &gone).await;
    client.vpncmd(&["AccountDisconnect", "wc"]).unwrap();
    client.vpncmd(&["AccountDelete", "wc"]).unwrap();

    // --- onboarding: the .vpn file, imported by the real client
    b.page("users").await;
    b.row_button(USER, "Connection file", false).await;
    b.el("#vpn-file-form").await;
    b.fill("#vpn-file-form input[name=nic]", NIC).await;
    b.shot("connection-file").await;
    b.click("#vpn-file-form button[type=submit]").await;
    let file = downloads.join(format!("{USER}@{HUB}.vpn"));
    let deadline = Instant::now() + WAIT;
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "no download {}; dir has {:?}",
            file.display(),
            std::fs::read_dir(downloads)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("HashedPassword"), "no password unless asked:\n{text}");
    for item in [
        format!("string HubName {HUB}"),
        format!("string Username {USER}"),
        format!("string Hostname {SERVER_ADDR}"),
        format!("uint Port {PORT}"),
        "byte ServerCert ".to_string(),
        "bool CheckServerCert true".to_string(),
    ] {
        assert!(text.contains(&item), "{item:?} missing:\n{text}");
    }
    let account = format!("{USER}@{HUB}");
    client
        .vpncmd(&["AccountImport", file.to_str().unwrap()])
        .unwrap();
    let pw = format!("/PASSWORD:{USER_PW}");
    client
        .vpncmd(&["AccountPasswordSet", &account, &pw, "/TYPE:standard"])
        .unwrap();
    client.connect(&account).unwrap();
    client
        .wait_established(&account, Duration::from_secs(30))
        .unwrap();
    client.vpncmd(&["AccountDisconnect", &account]).unwrap();
    drop(client);

    // --- the other pages render (screenshots), no horizontal scrolling
    for p in ["cascades", "securenat", "listeners", "bridges", "config"] {
        b.page(p).await;
        b.shot(p).await;
    }
    b.page("dashboard").await;
    b.shot("dashboard").await;

    // --- keyboard: every visible control is reached with Tab
    b.page("users").await;
    let n = b
        .js(
            "const els = [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex=\"-1\"])')]
               .filter((e) => e.getClientRects().length && !e.disabled && !e.closest('.hidden'));
             els.forEach((e, i) => { e.dataset.kb = String(i); });
             window.__kb = new Set();
             document.addEventListener('focusin', (ev) => { if (ev.target.dataset && ev.target.dataset.kb) window.__kb.add(ev.target.dataset.kb); });
             document.activeElement && document.activeElement.blur();
             return els.length",
        )
        .await
        .as_u64()
        .unwrap();
    assert!(n > 10, "the users page has controls ({n})");
    let mut keys = KeyActions::new("keyboard".into());
    for _ in 0..n + 5 {
        keys = keys
            .then(KeyAction::Down {
                value: Key::Tab.into(),
            })
            .then(KeyAction::Up {
                value: Key::Tab.into(),
            });
    }
    b.c.perform_actions(keys).await.expect("Tab presses");
    let missed = b
        .js(
            "return [...document.querySelectorAll('[data-kb]')].filter((e) => !window.__kb.has(e.dataset.kb))
               .map((e) => e.outerHTML.slice(0, 80))",
        )
        .await;
    assert_eq!(missed, json!([]), "controls not reachable with Tab");

    // --- 375 px wide: no page scrolls horizontally
    b.c.set_window_size(375, 812).await.expect("window size");
    let inner = b.js("return window.innerWidth").await;
    assert!(inner.as_u64().is_some_and(|w| w <= 400), "viewport {inner}");
    for p in [
        "dashboard",
        "hubs",
        "users",
        "sessions",
        "cascades",
        "securenat",
        "listeners",
        "bridges",
        "config",
    ] {
        b.page(p).await;
        let over = b
            .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .await;
        assert!(
            over.as_i64().is_some_and(|o| o <= 0),
            "page {p} scrolls horizontally by {over} px at 375 px"
        );
    }
    b.shot("dashboard-375px").await;
    b.c.set_window_size(1280, 900).await.expect("window size");

    // --- a hub administrator sees only its hub
    b.logout().await;
    b.login(HUB, HUB_PW).await;
    b.page("hubs").await;
    b.see(HUB).await;
    let text = b
        .js("return document.getElementById('page').innerText")
        .await;
    assert!(
        !text.as_str().unwrap_or("").contains(OTHER_HUB),
        "hub admin sees {OTHER_HUB}:\n{text}"
    );
    assert_eq!(
        b.js("return !!document.getElementById('nav-listeners') || !!document.getElementById('nav-config')")
            .await,
        false,
        "server-only pages are not offered to a hub administrator"
    );
    let other = b
        .js_async(&format!(
            "const done = arguments[arguments.length - 1];
             fetch('/api/', {{method: 'POST', headers: {{'Content-Type': 'application/json',
               'X-VPNADMIN-HUBNAME': '{HUB}', 'X-VPNADMIN-PASSWORD': '{HUB_PW}'}},
               body: JSON.stringify({{jsonrpc: '2.0', id: '1', method: 'EnumSession', params: {{HubName_str: '{OTHER_HUB}'}}}})}})
               .then((r) => r.json()).then(done, (e) => done({{error: String(e)}}));"
        ))
        .await;
    assert_eq!(other["error"]["code"], 52, "{other}");
    b.shot("hub-admin").await;
    b.logout().await;
}
