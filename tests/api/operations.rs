//! What an operator watches: `/metrics` follows a notification from accepted to sent or failed,
//! `/readyz` says why the relay cannot deliver, and the README documents every config key.

use serde_json::Value;

use crate::emu::demo_emulator;
use crate::helpers::*;

async fn metrics(app: &TestApp) -> String {
    let r = app.http.get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
}

#[tokio::test]
async fn metrics_follow_a_notification_from_accepted_to_sent_and_failed() {
    let emu = demo_emulator().await;
    let app = spawn_app(emu.relay_settings(&["zhangsan"])).await;
    let before = metrics(&app).await;
    assert!(before.contains("wecom_relay_queue_depth 0"), "{before}");

    assert_eq!(app.notify_wait("user-added", &user("metered")).await.status(), 200);
    let ghost = app.notify_wait("alert", &serde_json::json!({"content": "x", "to_user": ["ghost"]})).await;
    assert_eq!(ghost.status(), 502);

    let text = metrics(&app).await;
    assert_eq!(value(&text, "wecom_relay_notifications_accepted_total{event=\"user-added\"}"), 1.0);
    assert_eq!(
        value(
            &text,
            "wecom_relay_notifications_finished_total{event=\"user-added\",status=\"sent\",errcode=\"0\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "wecom_relay_notifications_finished_total{event=\"alert\",status=\"failed\",errcode=\"81013\"}"
        ),
        1.0
    );
    assert_eq!(value(&text, "wecom_relay_token_fetches_total{api=\"gettoken\",outcome=\"ok\"}"), 1.0);
    assert_eq!(
        value(&text, "wecom_relay_wecom_call_duration_seconds_count{api=\"message/send\",outcome=\"ok\"}"),
        1.0
    );
    assert_eq!(value(&text, "wecom_relay_http_responses_total{status=\"502\"}"), 1.0);
    assert_eq!(value(&text, "wecom_relay_queue_depth"), 0.0);
    assert!(!text.contains(&emu.config.apps[0].secret), "the secret leaked into /metrics");
}

#[tokio::test]
async fn readyz_is_ready_with_a_working_app_and_names_the_fix_otherwise() {
    let emu = demo_emulator().await;
    let app = spawn_app(emu.relay_settings(&["zhangsan"])).await;
    let ok = app.http.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ok.status(), 200);

    let mut wrong = emu.relay_settings(&["zhangsan"]);
    wrong.wecom.secret = Some(secrecy::SecretString::from("not-the-secret-of-this-app"));
    let app = spawn_app(wrong).await;
    let r = app.http.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("40001") && error.contains("wecom.secret"), "{error}");
    assert!(!error.contains("not-the-secret-of-this-app"), "{error}");
}

/// Every `section.key` of the example config.toml is in the README's reference, and every key in
/// the reference exists in config.toml (or is a documented `events.<name>` key).
#[test]
fn the_readme_documents_exactly_the_keys_of_the_example_config() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let config: toml::Table =
        std::fs::read_to_string(format!("{root}/config.toml")).unwrap().parse().unwrap();
    let mut in_config = Vec::new();
    for (section, value) in &config {
        let table = value.as_table().expect("config.toml has only tables at the top");
        if section == "events" {
            for event in table.values() {
                for key in event.as_table().unwrap().keys() {
                    in_config.push(format!("events.<name>.{key}"));
                }
            }
        } else {
            in_config.extend(table.keys().map(|k| format!("{section}.{k}")));
        }
    }
    // Keys documented but commented out in config.toml (a secret never sits in the file).
    let commented = ["wecom.secret", "wecom.secret_file", "robots.<name>.key", "events.<name>.targets"];
    for key in &in_config {
        let documented = readme.contains(&format!("| `{key}`"))
            || readme.contains(&format!("`{key}` /"))
            || readme.contains(&format!("/ `{}`", key.rsplit('.').next().unwrap()));
        assert!(documented, "config.toml has `{key}`, the README's configuration table does not");
    }
    let reference = readme.split("## Configuration").nth(1).unwrap().split("\n## ").next().unwrap();
    for line in reference.lines().filter(|l| l.starts_with("| `")) {
        let key = line.trim_start_matches("| `").split('`').next().unwrap();
        let known = in_config.iter().any(|k| k == key) || commented.contains(&key);
        assert!(known, "the README documents `{key}`, which config.toml lacks");
        if commented.contains(&key) {
            let example = std::fs::read_to_string(format!("{root}/config.toml")).unwrap();
            let last = key.rsplit('.').next().unwrap();
            let shown = example.contains(&format!("# {last} =")) || example.contains(&format!(".{last}]]"));
            assert!(shown, "config.toml should show `{key}` commented out");
        }
    }
}
