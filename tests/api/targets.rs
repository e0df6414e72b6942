//! Every msgtype, group robots and fan-out per event, against the emulator.

use std::path::Path;

use secrecy::SecretString;
use serde_json::{Value, json};
use wecom_relay::config::{RobotSettings, Settings, TargetSettings};
use wecom_relay::startup::Application;

use crate::emu::{TestEmu, demo_emulator};
use crate::helpers::*;

/// A templates folder with the repository's templates plus `extra` (name, text).
fn templates(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn app_target(template: &str, to: &[&str]) -> TargetSettings {
    TargetSettings {
        template: Some(template.into()),
        to_user: to.iter().map(|u| u.to_string()).collect(),
        ..Default::default()
    }
}

fn robot_target(template: &str) -> TargetSettings {
    TargetSettings { robot: Some("ops".into()), template: Some(template.into()), ..Default::default() }
}

/// Relay settings with the robot `ops` (its key from the emulator unless `key` is given) and
/// templates from `dir`.
fn with_robot(emu: &TestEmu, dir: &Path, key: Option<&str>) -> Settings {
    let mut s = emu.relay_settings(&["zhangsan"]);
    let key = key.map_or_else(|| emu.config.robot_keys[0].clone(), str::to_owned);
    s.robots.insert("ops".into(), RobotSettings { key: Some(SecretString::from(key)) });
    s.templates.dir = dir.to_path_buf();
    s
}

#[tokio::test]
async fn one_user_added_reaches_admins_as_a_textcard_the_ops_robot_as_markdown_and_plugin_users_as_text() {
    let emu = demo_emulator().await;
    let dir = templates(&[]);
    let mut s = with_robot(&emu, dir.path(), None);
    s.wecom.plugin_users = vec!["lisi".into()];
    s.events.get_mut("user-added").unwrap().targets = vec![
        app_target("user-added-card.txt", &["admin"]),
        robot_target("user-added-robot.md"),
        app_target("user-added-robot.md", &["wangwu", "lisi"]),
    ];
    let app = spawn_app(s).await;

    let body =
        json!({"user": {"username": "alice", "display_name": "Alice <Liu>", "email": "alice@example.com"}});
    let response = app.notify_wait("user-added", &body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let targets: Vec<&str> =
        answer["targets"].as_array().unwrap().iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["app", "robot:ops", "app", "app"]);

    let card = &emu.handle.received("admin")[0];
    assert_eq!(card.msgtype, "textcard");
    assert_eq!(card.body["title"], "新用户：alice");
    let description = card.body["description"].as_str().unwrap();
    assert!(
        description.contains("Alice &lt;Liu&gt;") && description.contains("alice@example.com"),
        "{description}"
    );
    let robot = &emu.handle.robot_messages(&emu.config.robot_keys[0])[0];
    assert_eq!(robot.msgtype, "markdown");
    assert!(robot.content.contains("**新用户加入**：alice"), "{}", robot.content);
    assert_eq!(emu.handle.received("wangwu")[0].msgtype, "markdown");
    let plugin = &emu.handle.received("lisi")[0];
    assert_eq!(plugin.msgtype, "text", "the WeChat plugin shows no markdown");
    assert!(plugin.content.starts_with("新用户加入：alice\n姓名：Alice <Liu>"), "{}", plugin.content);
    assert!(emu.handle.received("zhangsan").is_empty());
}

const NEWS: &str = r#"+++
msgtype = "news"
[[articles]]
title = "新用户 {{ user.username }}"
description = "{{ user.email }}"
url = "https://example.com/users/{{ user.username }}"
picurl = "https://example.com/avatar.png"
+++
"#;

const CARD: &str = r#"+++
msgtype = "template_card"
+++
{"card_type": "text_notice", "main_title": {"title": "新用户 {{ user.username }}", "desc": "{{ user.email }}"},
 "card_action": {"type": 1, "url": "https://example.com/u"}}
"#;

const IMAGE: &str = "+++\nmsgtype = \"image\"\nsource = \"{{ user.avatar }}\"\n+++\n";
const FILE: &str = "+++\nmsgtype = \"file\"\nsource = \"{{ user.report }}\"\n+++\n";

#[tokio::test]
async fn news_template_cards_images_and_files_arrive_as_configured() {
    let emu = demo_emulator().await;
    let dir = templates(&[("news.txt", NEWS), ("card.txt", CARD), ("image.txt", IMAGE), ("file.txt", FILE)]);
    let png = dir.path().join("avatar.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend([0u8; 64]);
    std::fs::write(&png, &bytes).unwrap();
    let report = dir.path().join("report.csv");
    std::fs::write(&report, "username,email\nbob,bob@example.com\n").unwrap();
    let mut s = with_robot(&emu, dir.path(), None);
    s.events.get_mut("user-added").unwrap().targets = ["news.txt", "card.txt", "image.txt", "file.txt"]
        .iter()
        .map(|t| app_target(t, &["zhangsan"]))
        .chain([robot_target("image.txt"), robot_target("file.txt")])
        .collect();
    let app = spawn_app(s).await;

    let body = json!({"user": {"username": "bob", "email": "bob@example.com \"quoted\"", "avatar": png, "report": report}});
    let response = app.notify_wait("user-added", &body).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    // Targets are delivered independently, in no particular order.
    let got: std::collections::BTreeMap<String, Value> =
        emu.handle.received("zhangsan").into_iter().map(|m| (m.msgtype, m.body)).collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["file", "image", "news", "template_card"]);
    assert_eq!(got["news"]["articles"][0]["title"], "新用户 bob");
    assert_eq!(
        got["template_card"]["main_title"]["desc"], "bob@example.com \"quoted\"",
        "values are JSON-escaped in cards"
    );
    assert!(got["image"]["media_id"].as_str().is_some_and(|m| !m.is_empty()));
    let mut robot: Vec<String> =
        emu.handle.robot_messages(&emu.config.robot_keys[0]).into_iter().map(|m| m.msgtype).collect();
    robot.sort();
    assert_eq!(robot, ["file", "image"]);

    // The same image again is not uploaded again: its media_id is reused.
    let uploads = emu.handle.counters().media_upload;
    assert_eq!(app.notify_wait("user-added", &body).await.status(), 200);
    assert_eq!(emu.handle.counters().media_upload, uploads);
}

#[tokio::test]
async fn an_oversize_image_fails_with_a_clear_error_and_is_not_retried() {
    let emu = demo_emulator().await;
    let dir = templates(&[("image.txt", IMAGE)]);
    let big = dir.path().join("big.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(11 * 1024 * 1024, 0);
    std::fs::write(&big, &bytes).unwrap();
    let mut s = with_robot(&emu, dir.path(), None);
    s.events.get_mut("user-added").unwrap().targets = vec![app_target("image.txt", &["zhangsan"])];
    let app = spawn_app(s).await;

    let response = app.notify_wait("user-added", &json!({"user": {"username": "carl", "avatar": big}})).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("more than WeCom's 10 MB limit for a image"), "{body}");
    assert_eq!(emu.handle.counters().media_upload, 0);
    assert_eq!(app.final_status(body["id"].as_str().unwrap()).await["attempts"], 1);
}

#[tokio::test]
async fn a_failing_robot_never_resends_the_app_message() {
    let emu = demo_emulator().await;
    let dir = templates(&[]);
    let mut s = with_robot(&emu, dir.path(), Some("00000000-0000-0000-0000-000000000000"));
    s.events.get_mut("user-added").unwrap().targets =
        vec![app_target("user-added.txt", &["zhangsan"]), robot_target("user-added-robot.md")];
    let app = spawn_app(s).await;

    let response = app.notify_wait("user-added", &user("dora")).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errcode"], 93000,
        "the robot's error arrives in an HTTP 200 body and is an error: {body}"
    );
    assert!(
        body["hint"].as_str().unwrap().contains("recreate the robot")
            || body["hint"].as_str().unwrap().contains("create the robot again")
    );
    assert_eq!(body["targets"][0]["status"], "sent");
    assert_eq!(body["targets"][1]["status"], "failed");
    let robot_id = body["targets"][1]["id"].as_str().unwrap();
    assert_eq!(app.final_status(robot_id).await["status"], "failed");
    assert_eq!(emu.received_containing("zhangsan", "dora"), 1, "the app message went out once");
    assert_eq!(emu.handle.counters().send, 1);
    assert!(
        !body.to_string().contains("00000000-0000-0000-0000-000000000000"),
        "the robot key leaked: {body}"
    );
}

#[tokio::test]
async fn a_robot_gets_at_most_20_a_minute_and_the_rest_wait() {
    let emu = demo_emulator().await;
    let dir = templates(&[]);
    let mut s = with_robot(&emu, dir.path(), None);
    s.events.get_mut("alert").unwrap().targets = vec![robot_target("alert.txt")];
    let app = spawn_app(s).await;

    let mut ids = Vec::new();
    for i in 0..22 {
        let r: Value =
            app.notify("alert", &json!({"content": format!("disk {i}")})).await.json().await.unwrap();
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    emu.until(10, "20 robot messages", |h| h.counters().webhook >= 20).await;
    // Which 20 go first is up to the workers; what matters is 20 sent and 2 waiting, unharmed.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut statuses = Vec::new();
        for id in &ids {
            let view = get_json(&app.address, &format!("/notifications/{id}")).await;
            assert!(view["last_error"].is_null(), "waiting is not an error: {view}");
            statuses.push(view["status"].as_str().unwrap().to_owned());
        }
        let sent = statuses.iter().filter(|s| *s == "sent").count();
        let queued = statuses.iter().filter(|s| *s == "queued").count();
        if (sent, queued) == (20, 2) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "expected 20 sent and 2 queued: {statuses:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(emu.handle.counters().webhook, 20, "no 21st call within the minute");
}

#[tokio::test]
async fn templates_that_cannot_make_a_valid_message_stop_start_up_with_the_reason() {
    let emu = demo_emulator().await;
    let cases = [
        ("+++\nmsgtype = \"textcard\"\ntitle = \"t\"\n+++\nbody\n", false, "needs `url`"),
        ("+++\nmsgtype = \"textcard\"\ntitle = \"t\"\nurl = \"example.com\"\n+++\nbody\n", false, "45034"),
        (
            "+++\nmsgtype = \"textcard\"\ntitle = \"t\"\nurl = \"https://x.cn\"\n+++\nbody\n",
            true,
            "cannot send textcard",
        ),
        ("+++\nmsgtype = \"tweet\"\n+++\n", false, "front matter"),
        (
            "+++\nmsgtype = \"template_card\"\n+++\n{\"card_type\": \"text_notice\", \"main_title\": {\"title\": \"t\"}}\n",
            false,
            "card_action",
        ),
    ];
    for (text, robot, expected) in cases {
        let dir = templates(&[("t.txt", text)]);
        let mut s = with_robot(&emu, dir.path(), None);
        s.events.get_mut("user-added").unwrap().targets =
            vec![if robot { robot_target("t.txt") } else { app_target("t.txt", &["zhangsan"]) }];
        let Err(e) = Application::build(s).await else { panic!("{text:?} was accepted") };
        assert!(e.to_string().contains(expected), "{text:?}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_render_commands() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "[wecom]\napi_base = \"{}\"\ncorp_id = \"{}\"\nagent_id = {}\n[templates]\ndir = \"{}/templates\"\n\
             [robots.ops]\n[[events.user-added.targets]]\nto_user = [\"admin\"]\ntemplate = \"user-added-card.txt\"\n\
             [[events.user-added.targets]]\nrobot = \"ops\"\ntemplate = \"user-added-robot.md\"\n",
            emu.url,
            emu.config.corp_id,
            emu.config.apps[0].agent_id,
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wecom-relay"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("WECOM_RELAY_WECOM__SECRET", &emu.config.apps[0].secret)
            .env("WECOM_RELAY_ROBOTS__OPS__KEY", &emu.config.robot_keys[0])
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = run(&["send", "--to", "zhangsan,lisi", "--msgtype", "markdown", "**部署完成**"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("sent: msgid"), "{out}");
    assert_eq!(emu.handle.received("lisi")[0].msgtype, "markdown");
    assert_eq!(emu.handle.received("lisi")[0].content, "**部署完成**");

    let (code, out) = run(&["render", "user-added", "--data", r#"{"user": {"username": "eve"}}"#]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("# app → to_user admin (textcard)") && out.contains("\"title\": \"新用户：eve\""),
        "{out}"
    );
    assert!(
        out.contains("# robot:ops → robot ops (markdown)") && out.contains("**新用户加入**：eve"),
        "{out}"
    );
    assert!(emu.handle.robot_messages(&emu.config.robot_keys[0]).is_empty(), "render sends nothing");
}
