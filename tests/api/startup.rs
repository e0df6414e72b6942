//! The binary: configuration errors stop start-up naming the key and the fix; with
//! `RUST_LOG=debug` no secret or access_token reaches the log or a response.

use std::process::{Command, Stdio};

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::helpers::*;

fn relay() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wecom-relay"));
    cmd.current_dir(std::env::temp_dir()).env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("WECOM_RELAY_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

/// Runs `serve` with `config` and the extra environment, expecting it to refuse to start.
fn refusal(config: &str, env: &[(&str, &str)]) -> String {
    let file = config_file(config);
    let mut cmd = relay();
    cmd.arg("serve").arg("--config").arg(file.path()).envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "should refuse to start");
    String::from_utf8(out.stderr).unwrap()
}

const BASE: &str = r#"
[wecom]
corp_id = "ww1"
agent_id = 1000002
secret = "s3cret-value"
"#;

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let e = refusal(&format!("{BASE}\n[server]\nlisten_addr = \"x\"\n"), &[]);
    assert!(e.contains("listen_addr"), "{e}");
    let e = refusal(BASE, &[("WECOM_RELAY_SERVER__MAX_BODY_BYTES", "lots")]);
    assert!(e.to_lowercase().contains("server.max_body_bytes") && e.contains("WECOM_RELAY_"), "{e}");
    let e = refusal(BASE, &[("WECOM_RELAY_DELIVERY__RETRY_SCHEDULE", "[\"5 parsecs\"]")]);
    assert!(e.contains("retry_schedule") || e.contains("5 parsecs"), "{e}");
}

#[test]
fn a_public_address_without_tokens_is_refused() {
    let e = refusal(BASE, &[("WECOM_RELAY_SERVER__LISTEN", "0.0.0.0:0")]);
    assert!(e.contains("server.auth_tokens is empty") && e.contains("127.0.0.1"), "{e}");
}

#[test]
fn a_missing_secret_or_corp_says_where_to_find_it() {
    let e = refusal("[wecom]\ncorp_id = \"ww1\"\nagent_id = 1000002\n", &[]);
    assert!(e.contains("WECOM_RELAY_WECOM__SECRET"), "{e}");
    let e = refusal("", &[]);
    assert!(e.contains("wecom.corp_id") && e.contains("wecom-relay demo"), "{e}");
}

#[test]
fn a_broken_template_is_reported_with_file_and_line_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("user-added.txt"),
        "新用户：{{ user.username }}\n{% if user.email %}\n{{ user.email | nosuchfilter }}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("alert.txt"), "{{ content }}").unwrap();
    let config = format!("{BASE}\n[templates]\ndir = \"{}\"\n", dir.path().display());
    let e = refusal(&config, &[]);
    assert!(e.contains("user-added.txt") && e.contains("line"), "{e}");
}

#[test]
fn render_prints_the_message_without_sending() {
    let out = relay()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["render", "user-added", "--data", r#"{"user":{"username":"alice","email":"a@x.cn"}}"#])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("新用户已加入：alice\n邮箱：a@x.cn"), "{text}");
}

#[tokio::test]
async fn debug_logs_and_responses_never_show_the_secret_or_a_token() {
    // A WeCom that revokes the first token, then fails once with a server error.
    let wecom = wecom_refusing_first_token(40014, "invalid access_token").await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(wiremock::ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&wecom)
        .await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[wecom]\napi_base = \"{}\"\ncorp_id = \"{CORP_ID}\"\nagent_id = {AGENT_ID}\n\
         [templates]\ndir = \"{}/templates\"\n[delivery]\nretry_schedule = [\"10ms\"]\n",
        wecom.uri(),
        env!("CARGO_MANIFEST_DIR")
    );
    let file = config_file(&config);
    let mut child = relay()
        .args(["serve", "--config"])
        .arg(file.path())
        .env("RUST_LOG", "debug")
        .env("WECOM_RELAY_WECOM__SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_serving(&base, String::new).await;
    let http = reqwest::Client::new();

    let mut bodies = String::new();
    for body in [user("olga"), json!({"user": {}}), user("pete")] {
        let r = http.post(format!("{base}/notify/user-added?wait=true")).json(&body).send().await.unwrap();
        bodies.push_str(&r.text().await.unwrap());
    }
    let r = http.get(format!("{base}/notifications/none")).send().await.unwrap();
    bodies.push_str(&r.text().await.unwrap());

    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("message/send"), "debug logging was not on: {log}");
    assert!(bodies.contains("\"status\":\"sent\""), "{bodies}");
    for secret in [SECRET, "tok-1", "tok-2"] {
        assert!(!log.contains(secret), "`{secret}` leaked into the log:\n{log}");
        assert!(!bodies.contains(secret), "`{secret}` leaked into a response: {bodies}");
    }
}

#[tokio::test]
async fn json_logs_have_one_object_per_line_and_a_line_per_state_change() {
    let wecom = wecom_accepting_sends().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[wecom]\napi_base = \"{}\"\ncorp_id = \"{CORP_ID}\"\nagent_id = {AGENT_ID}\n\
         [templates]\ndir = \"{}/templates\"\n[queue]\npath = \"{}/q.sqlite\"\n[log]\nformat = \"json\"\n",
        wecom.uri(),
        env!("CARGO_MANIFEST_DIR"),
        dir.path().display()
    );
    let file = config_file(&config);
    let mut child = relay()
        .args(["serve", "--config"])
        .arg(file.path())
        .env("WECOM_RELAY_WECOM__SECRET", SECRET)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_serving(&base, String::new).await;
    let http = reqwest::Client::new();
    let r =
        http.post(format!("{base}/notify/user-added?wait=true")).json(&user("jason")).send().await.unwrap();
    let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let about: Vec<&str> =
        lines.iter().filter_map(|l| l["msg"].as_str()).filter(|m| m.contains(&id)).collect();
    assert!(about.iter().any(|m| m.contains("event=user-added attempt=0 status=queued")), "{about:?}");
    assert!(about.iter().any(|m| m.contains("attempt=1 status=sent msgid=msg-1")), "{about:?}");
    assert!(lines.iter().all(|l| l["ts"].is_string() && l["level"].is_string()));
}
