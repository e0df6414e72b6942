//! The whole chain on loopback: the WeCom emulator and the relay in this process (port 0), and
//! `integrations/darkerserver/darkerserver.py` as a child process that a guard kills on drop.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::Value;
use wecom_relay::config::{QueueBackend, Settings};
use wecom_relay::emulator::{Emulator, EmulatorConfig, EmulatorHandle, Received};
use wecom_relay::startup::Application;

/// The bearer token the relay accepts and darkerserver sends (`WECOM_RELAY_TOKEN`).
pub const TOKEN: &str = "darkerserver-e2e-token-0123456789";
/// The demo corp's member that `user-added` is configured to reach.
pub const MEMBER: &str = "zhangsan";
/// Another demo member, who must receive nothing.
pub const BYSTANDER: &str = "lisi";
/// How long a process may take to start, or a notification to arrive with WeCom answering at once.
pub const DEADLINE: Duration = Duration::from_secs(15);
/// `/add_user`'s median latency with notifications on may exceed the notifications-off median by
/// less than this. Generous on purpose: it tells "off the request path" (a fraction of a
/// millisecond) from "on it" (a round trip to the relay, or seconds to WeCom) on a loaded machine.
pub const SAME_LATENCY_BOUND: Duration = Duration::from_millis(20);

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running emulator and a relay sending `user-added` to [`MEMBER`] through it.
pub struct Stack {
    pub emulator: EmulatorHandle,
    /// The relay's base URL, for `WECOM_RELAY_URL`.
    pub relay_url: String,
}

/// Starts the emulator (demo corp) and the relay (memory queue) on fresh ports. Both listeners
/// are bound before this returns, so requests simply wait in the backlog: no readiness wait.
pub async fn spawn_stack() -> Stack {
    let config = EmulatorConfig::demo();
    let app = config.apps[0].clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the emulator's port");
    let emulator = Emulator::build(config.clone(), listener).expect("emulator builds");
    let handle = emulator.handle();
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.auth_tokens = vec![SecretString::from(TOKEN)];
    settings.server.workers = 1;
    settings.wecom.api_base = emulator.base_url().parse().unwrap();
    settings.wecom.corp_id = config.corp_id.clone();
    settings.wecom.agent_id = app.agent_id;
    settings.wecom.secret = Some(SecretString::from(app.secret));
    settings.templates.dir = root().join("templates");
    settings.queue.backend = QueueBackend::Memory;
    settings.events.get_mut("user-added").expect("user-added is a default event").to_user =
        vec![MEMBER.into()];
    tokio::spawn(emulator.run());
    let relay = Application::build(settings).await.expect("relay builds");
    let relay_url = format!("http://127.0.0.1:{}", relay.port());
    tokio::spawn(relay.run_until_stopped());
    Stack { emulator: handle, relay_url }
}

impl Stack {
    /// darkerserver's environment for notifying through this relay.
    pub fn notify_env(&self) -> Notify {
        Notify::Relay { url: self.relay_url.clone(), token: Some(TOKEN.into()) }
    }
}

/// Whether and where a darkerserver sends its notifications.
pub enum Notify {
    /// No `WECOM_RELAY_URL`: notifications off, as before the integration.
    Off,
    Relay {
        url: String,
        token: Option<String>,
    },
}

/// A URL on loopback where nothing listens: a relay that is stopped.
pub fn stopped_relay() -> Notify {
    // The port was free a moment ago and nothing of ours listens on it again.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    Notify::Relay { url: format!("http://127.0.0.1:{port}"), token: Some(TOKEN.into()) }
}

/// `python3 darkerserver.py` on a free port with its own data file; killed when dropped.
pub struct Darker {
    child: Child,
    url: String,
    log: PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// One `/add_user` answer and how long it took, from sending to the last body byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub took: Duration,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("darkerserver answers JSON")
    }

    /// The same status and bytes (not the same timing).
    pub fn same_as(&self, other: &Answer) -> bool {
        self.status == other.status && self.body == other.body
    }
}

impl Darker {
    /// A darkerserver with an empty data file.
    pub async fn start(notify: Notify) -> Darker {
        Darker::start_with_users(notify, &[]).await
    }

    /// A darkerserver whose data file already holds `users` (objects with a `username`).
    pub async fn start_with_users(notify: Notify, users: &[Value]) -> Darker {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("users.jsonl");
        let lines: String = users.iter().map(|u| format!("{u}\n")).collect();
        std::fs::write(&data, lines).unwrap();
        let stdout = dir.path().join("stdout.log");
        let log = dir.path().join("stderr.log");
        let mut command = Command::new("python3");
        command
            .arg(root().join("integrations/darkerserver/darkerserver.py"))
            // Port 0: the server picks a free port and prints it, so two tests cannot race
            // for one port.
            .args(["--port", "0", "--quiet", "--data"])
            .arg(&data)
            .env_remove("WECOM_RELAY_URL")
            .env_remove("WECOM_RELAY_TOKEN")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&log).unwrap());
        if let Notify::Relay { url, token } = &notify {
            command.env("WECOM_RELAY_URL", url);
            if let Some(token) = token {
                command.env("WECOM_RELAY_TOKEN", token);
            }
        }
        let child = command.spawn().expect("python3 runs (the darkerserver tests need Python 3.8+)");
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        let mut darker = Darker { child, url: String::new(), log, http, _dir: dir };
        let port = darker.wait_for_port(&stdout).await;
        darker.url = format!("http://127.0.0.1:{port}");
        darker
    }

    /// Polls stdout for `darkerserver listening on http://127.0.0.1:PORT`. The socket is bound
    /// and listening when the line is printed.
    async fn wait_for_port(&mut self, stdout: &Path) -> u16 {
        const PREFIX: &str = "darkerserver listening on http://127.0.0.1:";
        let deadline = Instant::now() + DEADLINE;
        loop {
            let printed = std::fs::read_to_string(stdout).unwrap_or_default();
            if let Some(rest) = printed.lines().find_map(|l| l.strip_prefix(PREFIX)) {
                let port = rest.split(|c: char| !c.is_ascii_digit()).next().unwrap_or_default();
                return port.parse().unwrap_or_else(|_| panic!("no port in {printed:?}"));
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("darkerserver exited ({status}) before listening:\n{printed}{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "darkerserver did not start within {DEADLINE:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What darkerserver logged so far (wecom_notify's outcome lines among them).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls the log until it contains `needle`.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(Instant::now() < deadline, "darkerserver never logged {needle:?}:\n{log}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `POST /add_user` with `body` as it is.
    pub async fn post(&self, body: &Value) -> Answer {
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}/add_user", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("darkerserver answers");
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("darkerserver sends a body").to_vec();
        Answer { status, body, took: started.elapsed() }
    }

    /// `POST /add_user` with `{"user": user}`.
    pub async fn add_user(&self, user: &Value) -> Answer {
        self.post(&serde_json::json!({ "user": user })).await
    }
}

impl Drop for Darker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `{"username": name}` plus details, as darkerserver's clients send a new user.
pub fn user(name: &str) -> Value {
    serde_json::json!({
        "username": name,
        "display_name": format!("User {name}"),
        "email": format!("{name}@example.com"),
    })
}

/// Polls the emulator until `member` has received a message containing `needle`.
pub async fn wait_for_message(
    emulator: &EmulatorHandle,
    member: &str,
    needle: &str,
    within: Duration,
) -> Received {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = emulator.received(member).into_iter().find(|m| m.content.contains(needle)) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{member} never received {needle:?} within {within:?}; received: {:#?}",
            contents(emulator, member)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The contents of every message `member` received, oldest first.
pub fn contents(emulator: &EmulatorHandle, member: &str) -> Vec<String> {
    emulator.received(member).into_iter().map(|m| m.content).collect()
}

/// `/add_user` latencies of two servers, measured in turns (a, b, a, b, ...) so that a busy
/// moment of the machine falls on both alike. Each gets `warm_up` unmeasured requests first.
/// Returns both servers' answers; user `i` is `user(format!("{prefix}-{i}"))` on both.
pub async fn in_turns(
    a: &Darker,
    b: &Darker,
    prefix: &str,
    warm_up: usize,
    n: usize,
) -> (Vec<Answer>, Vec<Answer>) {
    for i in 0..warm_up {
        let user = user(&format!("{prefix}-warm-{i}"));
        a.add_user(&user).await;
        b.add_user(&user).await;
    }
    let (mut from_a, mut from_b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let user = user(&format!("{prefix}-{i}"));
        from_a.push(a.add_user(&user).await);
        from_b.push(b.add_user(&user).await);
    }
    (from_a, from_b)
}

pub fn median(answers: &[Answer]) -> Duration {
    let mut took: Vec<Duration> = answers.iter().map(|a| a.took).collect();
    took.sort();
    took[took.len() / 2]
}

/// Asserts that `with`'s median latency exceeds `without`'s by less than [`SAME_LATENCY_BOUND`],
/// and prints both medians.
pub fn assert_same_latency(what: &str, without: &[Answer], with: &[Answer]) {
    let (off, on) = (median(without), median(with));
    eprintln!("/add_user median over {} requests: notifications off {off:?}, {what} {on:?}", with.len());
    assert!(
        on.saturating_sub(off) < SAME_LATENCY_BOUND,
        "/add_user got slower with {what}: median {on:?} against {off:?} with notifications off"
    );
}
