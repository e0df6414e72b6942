//! The relay against the stateful emulator, in-process or as a separate process.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use secrecy::SecretString;
use wecom_relay::config::Settings;
use wecom_relay::emulator::{Emulator, EmulatorConfig, EmulatorHandle};

use crate::helpers::{AUTH, settings, wait_until_serving};

pub struct TestEmu {
    pub url: String,
    pub handle: EmulatorHandle,
    pub config: EmulatorConfig,
}

pub async fn spawn_emulator(config: EmulatorConfig) -> TestEmu {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let emu = Emulator::build(config.clone(), listener).expect("emulator builds");
    let url = emu.base_url();
    let handle = emu.handle();
    tokio::spawn(emu.run());
    TestEmu { url, handle, config }
}

/// The demo corp (members zhangsan, lisi, wangwu, admin), with WeCom's own rate rules.
pub async fn demo_emulator() -> TestEmu {
    spawn_emulator(EmulatorConfig::demo()).await
}

impl TestEmu {
    /// Relay settings for this corp's app, sending `user-added` to `to`.
    pub fn relay_settings(&self, to: &[&str]) -> Settings {
        let mut s = settings(&self.url);
        let app = &self.config.apps[0];
        s.wecom.corp_id = self.config.corp_id.clone();
        s.wecom.agent_id = app.agent_id;
        s.wecom.secret = Some(SecretString::from(app.secret.clone()));
        s.events.get_mut("user-added").unwrap().to_user = to.iter().map(|u| u.to_string()).collect();
        s
    }

    /// Every message `user` received whose content contains `needle`.
    pub fn received_containing(&self, user: &str, needle: &str) -> usize {
        self.handle.received(user).iter().filter(|m| m.content.contains(needle)).count()
    }

    /// Polls until `check` holds, failing after `secs` seconds with `what`.
    pub async fn until(&self, secs: u64, what: &str, mut check: impl FnMut(&EmulatorHandle) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while !check(&self.handle) {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The relay binary, run as its own process so that it can be killed.
pub struct RelayProcess {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl RelayProcess {
    /// Starts `wecom-relay serve` with the TOML `config` (a `[server] listen` is added) and waits
    /// until it answers `/healthz`.
    pub async fn start(config: &str, dir: &Path, secret: &str) -> RelayProcess {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let file = dir.join(format!("relay-{port}.toml"));
        std::fs::write(
            &file,
            format!("{config}\n[server]\nlisten = \"127.0.0.1:{port}\"\nauth_tokens = [\"{AUTH}\"]\n"),
        )
        .unwrap();
        let log = dir.join(format!("relay-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_wecom-relay"))
            .args(["serve", "--config"])
            .arg(&file)
            .env("WECOM_RELAY_WECOM__SECRET", secret)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let relay = RelayProcess { child, url: format!("http://127.0.0.1:{port}"), log };
        wait_until_serving(&relay.url, || relay.log_text()).await;
        relay
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(std::time::Instant::now() < deadline, "relay did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TOML for a relay process against `emu`, its queue at `queue`, fast retries, user-added
/// to `to`, and extra lines for `[delivery]` and `[limits]`.
pub fn process_config(emu: &TestEmu, queue: &Path, to: &str, delivery: &str, limits: &str) -> String {
    format!(
        "[wecom]\napi_base = \"{}\"\ncorp_id = \"{}\"\nagent_id = {}\nrequest_timeout = \"2s\"\n\
         [templates]\ndir = \"{}/templates\"\n\
         [queue]\npath = \"{}\"\n\
         [limits]\ndigest_delay = \"100ms\"\n{limits}\n\
         [events.user-added]\ntemplate = \"user-added.txt\"\nto_user = [\"{to}\"]\n\
         [delivery]\nretry_schedule = [\"50ms\", \"200ms\"]\nmax_attempts = 50\nshutdown_grace = \"5s\"\n{delivery}\n",
        emu.url,
        emu.config.corp_id,
        emu.config.apps[0].agent_id,
        env!("CARGO_MANIFEST_DIR"),
        queue.display()
    )
}
