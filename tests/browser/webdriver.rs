//! Just enough WebDriver (the W3C JSON protocol over HTTP) to drive headless Chromium through
//! a chromedriver child process, and a guard that kills both however the test ends.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Where the browser and its driver were found on `PATH`.
pub struct Binaries {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

impl Binaries {
    /// `None` unless both `chromium` and `chromedriver` are on `PATH`.
    pub fn find() -> Option<Binaries> {
        Some(Binaries { chromium: on_path("chromium")?, chromedriver: on_path("chromedriver")? })
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// A running chromedriver, in a process group of its own so that Chromium and its helper
/// processes (which chromedriver starts in that group) die with it. Dropping the guard kills
/// the whole group, so nothing is left behind when an assertion fails half-way.
pub struct Chromedriver {
    child: Child,
    url: String,
    chromium: PathBuf,
    /// Chromium's profile: fresh for every run, removed after the processes are dead.
    profile: tempfile::TempDir,
}

impl Chromedriver {
    /// Starts chromedriver on a free loopback port and waits (with a deadline) until it is ready.
    pub async fn start(bins: &Binaries) -> Chromedriver {
        let profile = tempfile::tempdir().expect("a temporary profile folder");
        // Port 0 picks a free port, released again for chromedriver to bind: should another
        // process take it meanwhile, chromedriver exits and `wait_ready` says so.
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&bins.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: bins.chromium.clone(),
            profile,
        };
        driver.wait_ready().await;
        driver
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited before it was ready ({status})");
            }
            let status = http.get(format!("{}/status", self.url)).send().await;
            if let Ok(resp) = status {
                let body: Value = resp.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver at {} not ready within 10 s", self.url);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a headless Chromium session whose viewport (what a screenshot shows) is
    /// `width`×`height` pixels.
    pub async fn session(&self, width: u32, height: u32) -> Session {
        // As root Chromium needs --no-sandbox; with no network beyond loopback, background
        // networking (updates, sync, field trials) would only stall or fail, so it is off.
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {"binary": path_str(&self.chromium), "args": args}
        }}});
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("HTTP client");
        let created =
            command(&http, reqwest::Method::POST, &format!("{}/session", self.url), Some(caps)).await;
        let id = created["sessionId"].as_str().unwrap_or_else(|| panic!("no sessionId in {created}"));
        let session = Session { http, url: format!("{}/session/{id}", self.url) };
        session.fit_viewport(width, height).await;
        session
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (process_group(0)); `kill -- -PGID` signals
        // exactly the processes it started, Chromium's included.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session. [`Session::quit`] closes it politely; the driver guard is the backstop.
pub struct Session {
    http: reqwest::Client,
    url: String,
}

impl Session {
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The rendered, visible text of the page (WebDriver "Get Element Text" on `<body>`).
    pub async fn body_text(&self) -> String {
        let found = self.post("/element", json!({"using": "css selector", "value": "body"})).await;
        // W3C's fixed key for an element reference.
        let id = found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element reference in {found}"));
        let text = self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []})).await
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("screenshot is a base64 string"))
            .expect("screenshot decodes")
    }

    /// WebDriver sizes the window, frame included: grow it by the frame so the page gets
    /// `width`×`height`.
    async fn fit_viewport(&self, width: u32, height: u32) {
        let frame = self.execute("return [outerWidth - innerWidth, outerHeight - innerHeight];").await;
        let extra = |i: usize| frame[i].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        self.post("/window/rect", json!({"width": width + extra(0), "height": height + extra(1)})).await;
    }

    pub async fn quit(self) {
        self.call(reqwest::Method::DELETE, "", None).await;
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        command(&self.http, method, &format!("{}{path}", self.url), body).await
    }
}

/// Sends one WebDriver command and returns its `value`; a WebDriver error fails the test
/// with the driver's own error name and message.
async fn command(http: &reqwest::Client, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
    let mut req = http.request(method.clone(), url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status();
    let reply: Value = resp.json().await.unwrap_or_else(|e| panic!("{method} {url}: not JSON: {e}"));
    let value = reply["value"].clone();
    if !status.is_success() || value.get("error").is_some() {
        panic!("{method} {url} → {status}: {} — {}", value["error"], value["message"]);
    }
    value
}
