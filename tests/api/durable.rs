//! Durable delivery: a 202 survives kill -9, a WeCom outage and a flood; dead notifications can
//! be retried; a damaged queue file stops start-up and is left alone.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use wecom_relay::emulator::{EmulatorConfig, Endpoint, Fault, FaultKind};

use crate::emu::{RelayProcess, demo_emulator, process_config, spawn_emulator};
use crate::helpers::*;

/// Posts `user-added` for `names`, 32 at a time; returns the username → id of those accepted.
async fn burst(url: &str, names: &[String]) -> HashMap<String, String> {
    use futures_util::StreamExt;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    futures_util::stream::iter(names.iter().cloned())
        .map(|name| {
            let http = http.clone();
            async move {
                let r = http
                    .post(format!("{url}/notify/user-added"))
                    .bearer_auth(AUTH)
                    .json(&user(&name))
                    .send()
                    .await
                    .ok()?;
                if r.status() != 202 {
                    return None;
                }
                let body: Value = r.json().await.ok()?;
                Some((name, body["id"].as_str()?.to_owned()))
            }
        })
        .buffer_unordered(32)
        .filter_map(|x| async { x })
        .collect()
        .await
}

#[tokio::test]
async fn every_accepted_notification_survives_kill_9_and_arrives_exactly_once() {
    // A corp without WeCom's per-member drop rule: this test is about the queue, not the limiter.
    let mut corp = EmulatorConfig::demo();
    corp.member_per_minute = 1_000_000;
    corp.member_per_hour = 1_000_000;
    let emu = spawn_emulator(corp).await;
    emu.handle.set_latency(Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue.sqlite");
    let config = process_config(
        &emu,
        &queue,
        "admin",
        "",
        "per_member_per_minute = 1000000\nper_member_per_hour = 1000000",
    );
    let secret = emu.config.apps[0].secret.clone();
    let mut relay = RelayProcess::start(&config, dir.path(), &secret).await;

    let names: Vec<String> = (0..1000).map(|i| format!("k9-{i:04}")).collect();
    let url = relay.url.clone();
    let posting = tokio::spawn(async move { burst(&url, &names).await });
    // Kill it mid-burst, with sends in flight and more queued behind them.
    emu.until(20, "some deliveries before the kill", |h| h.counters().delivered >= 100).await;
    relay.kill_9();
    let accepted = posting.await.unwrap();
    assert!(accepted.len() >= 100, "only {} accepted before the kill", accepted.len());

    let relay = RelayProcess::start(&config, dir.path(), &secret).await;
    assert!(relay.log_text().contains("resuming"), "the kill left nothing to resume: {}", relay.log_text());
    emu.until(60, "every accepted notification delivered after the restart", |h| {
        let got = h.received("admin");
        accepted.keys().all(|name| got.iter().any(|m| m.content.contains(&format!("：{name}\n"))))
    })
    .await;
    let got = emu.handle.received("admin");
    for name in accepted.keys() {
        let copies = got.iter().filter(|m| m.content.contains(&format!("：{name}\n"))).count();
        assert_eq!(copies, 1, "{name} was shown {copies} times");
    }
    for id in accepted.values().take(50) {
        let view = get_json(&relay.url, &format!("/notifications/{id}")).await;
        assert_eq!(view["status"], "sent", "{view}");
    }
}

#[tokio::test]
async fn everything_accepted_during_a_wecom_outage_arrives_once_after_it_returns() {
    let emu = demo_emulator().await;
    let mut s = emu.relay_settings(&["lisi", "wangwu"]);
    s.delivery.retry_schedule = vec![Duration::from_millis(20), Duration::from_millis(100)];
    s.delivery.max_attempts = 1000;
    let app = spawn_app(s).await;
    emu.handle.set_down(true);

    let names: Vec<String> = (0..20).map(|i| format!("outage-{i}")).collect();
    let accepted = burst(&app.address, &names).await;
    assert_eq!(accepted.len(), 20);
    // WeCom is down: attempts pile up, nothing is lost or given up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let view = get_json(&app.address, &format!("/notifications/{}", accepted["outage-0"])).await;
        if view["attempts"].as_u64().unwrap() >= 3 {
            assert!(matches!(view["status"].as_str(), Some("queued" | "sending")), "{view}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no retries during the outage: {view}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    emu.handle.set_down(false);
    for id in accepted.values() {
        assert_eq!(app.final_status(id).await["status"], "sent");
    }
    for name in &names {
        for member in ["lisi", "wangwu"] {
            assert_eq!(emu.received_containing(member, &format!("：{name}\n")), 1, "{name} → {member}");
        }
    }
}

#[tokio::test]
async fn a_flood_for_one_member_is_merged_never_over_30_a_minute_and_nobody_is_missing() {
    let emu = demo_emulator().await; // WeCom's rule: over 30 a minute is silently dropped
    let app = spawn_app(emu.relay_settings(&["zhangsan"])).await;

    let names: Vec<String> = (0..100).map(|i| format!("flood-{i:03}")).collect();
    let accepted = burst(&app.address, &names).await;
    assert_eq!(accepted.len(), 100);
    // Usually within a second (29 singles, then one digest). When the burst is slow to arrive
    // (a loaded machine), what comes after the first digest waits for the next minute's window.
    emu.until(90, "every username in zhangsan's inbox", |h| {
        let text: String = h.received("zhangsan").iter().map(|m| m.content.clone() + "\n").collect();
        names.iter().all(|n| text.contains(n.as_str()))
    })
    .await;

    let got = emu.handle.received("zhangsan");
    assert!(
        emu.handle.dropped("zhangsan").is_empty(),
        "WeCom dropped messages: {:?}",
        emu.handle.dropped("zhangsan")
    );
    for (i, m) in got.iter().enumerate() {
        let window = got.iter().filter(|o| o.at >= m.at && o.at - m.at < time::Duration::seconds(60)).count();
        assert!(window <= 30, "{window} messages within 60 s of message {i}");
    }
    let text: String = got.iter().map(|m| m.content.clone() + "\n").collect();
    for name in &names {
        assert_eq!(text.matches(name.as_str()).count(), 1, "{name} must appear exactly once");
    }
    assert!(got.iter().any(|m| m.content.contains("合并发送")), "the excess arrives as a digest");
    // The held ones say so.
    let held = futures_util::future::join_all(accepted.values().map(|id| app.final_status(id))).await;
    assert!(held.iter().any(|v| v["held_for"] == json!(["zhangsan"])));
}

#[tokio::test]
async fn a_dead_notification_retried_through_the_api_is_sent() {
    let emu = demo_emulator().await;
    let app = spawn_app(emu.relay_settings(&["admin"])).await; // 4 attempts
    emu.handle.push_fault(Fault {
        endpoint: Some(Endpoint::MessageSend),
        kind: FaultKind::Errcode(-1),
        times: 4,
    });

    let body: Value = app.notify("user-added", &user("lazarus")).await.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    let view = app.final_status(id).await;
    assert_eq!(view["status"], "dead");
    assert_eq!(view["last_error"]["errcode"], -1);
    let dead = get_json(&app.address, "/notifications?status=dead").await;
    assert_eq!(dead["notifications"][0]["id"], id);

    let retry =
        || app.http.post(format!("{}/notifications/{id}/retry", app.address)).bearer_auth(AUTH).send();
    assert_eq!(retry().await.unwrap().status(), 202);
    assert_eq!(app.final_status(id).await["status"], "sent");
    assert_eq!(emu.received_containing("admin", "lazarus"), 1);
    assert_eq!(retry().await.unwrap().status(), 409, "a sent notification is not sent twice");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_sends_keeps_the_rest_and_exits_0() {
    let emu = demo_emulator().await;
    emu.handle.set_latency(Duration::from_millis(400));
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue.sqlite");
    let config = process_config(&emu, &queue, "wangwu", "concurrency = 2", "");
    let secret = emu.config.apps[0].secret.clone();
    let mut relay = RelayProcess::start(&config, dir.path(), &secret).await;

    let names: Vec<String> = (0..8).map(|i| format!("term-{i}")).collect();
    let accepted = burst(&relay.url, &names).await;
    assert_eq!(accepted.len(), 8);
    emu.until(10, "a send in flight", |h| h.counters().send >= 1).await;
    assert_eq!(relay.terminate(), Some(0), "{}", relay.log_text());

    let _relay = RelayProcess::start(&config, dir.path(), &secret).await;
    emu.until(30, "the rest delivered after the restart", |h| {
        let text: String = h.received("wangwu").iter().map(|m| m.content.clone()).collect();
        names.iter().all(|n| text.contains(&format!("：{n}\n")))
    })
    .await;
    for name in &names {
        assert_eq!(emu.received_containing("wangwu", &format!("：{name}\n")), 1, "{name}");
    }
}

#[test]
fn a_damaged_queue_file_stops_start_up_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue.sqlite");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&queue, &garbage).unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!("[wecom]\ncorp_id = \"ww1\"\nagent_id = 1\nsecret = \"s3cret-value\"\n[queue]\npath = \"{}\"\n[templates]\ndir = \"{}/templates\"\n", queue.display(), env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wecom-relay"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&queue.display().to_string()) && stderr.contains("left untouched"), "{stderr}");
    assert_eq!(std::fs::read(&queue).unwrap(), garbage, "the file must not be modified");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "no -wal or -shm beside it: {names:?}");
}
