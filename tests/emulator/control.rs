//! The control API and handle: faults, down, latency, records over HTTP, counters, reset, 404.

use crate::helpers::{assert_errmsg, spawn, text};
use serde_json::json;
use std::time::{Duration, Instant};
use wecom_relay::emulator::{Endpoint, Fault, FaultKind};

#[tokio::test]
async fn an_errcode_fault_hits_the_next_n_calls_of_its_endpoint_only() {
    let emu = spawn().await;
    emu.handle.push_fault(Fault {
        endpoint: Some(Endpoint::MessageSend),
        kind: FaultKind::Errcode(-1),
        times: 2,
    });
    let token = emu.token().await; // gettoken is not hit
    let path = format!("/cgi-bin/message/send?access_token={token}");
    assert_errmsg(&emu.post(&path, &text("zhangsan", "1")).await, -1, "system busy");
    assert_eq!(emu.post(&path, &text("zhangsan", "2")).await["errcode"], -1);
    assert_eq!(emu.post(&path, &text("zhangsan", "3")).await["errcode"], 0);
    assert_eq!(emu.handle.received("zhangsan").len(), 1);
    assert_eq!(emu.handle.counters().send, 3, "faulted calls are counted");
}

#[tokio::test]
async fn faults_over_http_status_and_any_endpoint() {
    let emu = spawn().await;
    emu.control("faults", json!({"http_status": 502, "times": 1})).await;
    emu.control("faults", json!({"endpoint": "gettoken", "errcode": 45009})).await;
    let pending = emu.get("/_emulator/faults").await;
    assert_eq!(pending.as_array().unwrap().len(), 2);
    let resp = emu.client.get(format!("{}/cgi-bin/gettoken", emu.url)).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.text().await.unwrap(), "");
    let url = format!("/cgi-bin/gettoken?corpid={}&corpsecret={}", emu.config.corp_id, emu.secret());
    assert_eq!(emu.get(&url).await["errcode"], 45009);
    assert_eq!(emu.get(&url).await["errcode"], 0);
    let bad = emu
        .client
        .post(format!("{}/_emulator/faults", emu.url))
        .json(&json!({"times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_dropped_connection_fault_gives_no_response() {
    let emu = spawn().await;
    emu.handle.push_fault(Fault { endpoint: None, kind: FaultKind::DropConnection, times: 1 });
    let err = emu.client.get(format!("{}/cgi-bin/gettoken", emu.url)).send().await;
    assert!(err.is_err(), "expected a connection error, got {err:?}");
    assert_eq!(emu.get("/cgi-bin/gettoken").await["errcode"], 41004);
}

#[tokio::test]
async fn a_delay_fault_delays_then_answers() {
    let emu = spawn().await;
    emu.handle.push_fault(Fault {
        endpoint: Some(Endpoint::GetToken),
        kind: FaultKind::Delay(Duration::from_millis(300)),
        times: 1,
    });
    let short = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
    let err = short.get(format!("{}/cgi-bin/gettoken", emu.url)).send().await.unwrap_err();
    assert!(err.is_timeout());
    let started = Instant::now();
    assert_eq!(emu.get("/cgi-bin/gettoken").await["errcode"], 41004);
    assert!(started.elapsed() < Duration::from_millis(300), "the delay was used up");
}

#[tokio::test]
async fn down_drops_wecom_calls_but_not_the_control_api() {
    let emu = spawn().await;
    emu.control("down", json!({})).await;
    assert!(emu.client.get(format!("{}/cgi-bin/gettoken", emu.url)).send().await.is_err());
    assert_eq!(emu.get("/_emulator/counters").await["gettoken"], 1);
    emu.control("up", json!({})).await;
    assert_eq!(emu.get("/cgi-bin/gettoken").await["errcode"], 41004);
}

#[tokio::test]
async fn latency_applies_to_every_wecom_call() {
    let emu = spawn().await;
    emu.control("latency", json!({"ms": 150})).await;
    let started = Instant::now();
    emu.get("/cgi-bin/gettoken").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    emu.handle.set_latency(Duration::ZERO);
}

#[tokio::test]
async fn records_counters_clock_and_tokens_over_http() {
    let emu = spawn().await;
    let token = emu.token().await;
    emu.send(text("zhangsan", "hello")).await;
    let list = emu.get("/_emulator/messages?user=zhangsan").await;
    let m = &list[0];
    assert_eq!((m["msgtype"].as_str(), m["content"].as_str()), (Some("text"), Some("hello")));
    assert_eq!(m["agentid"], 1000002);
    assert_eq!(m["truncated"], false);
    assert!(m["msgid"].is_string() && m["at"].is_string());
    assert!(emu.get("/_emulator/messages").await["zhangsan"].is_array());
    assert_eq!(emu.get("/_emulator/dropped?user=zhangsan").await, json!([]));
    let c = emu.get("/_emulator/counters").await;
    assert_eq!(
        (c["gettoken"].as_u64(), c["send"].as_u64(), c["delivered"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    emu.control("tokens/revoke", json!({})).await;
    let path = format!("/cgi-bin/message/send?access_token={token}");
    assert_eq!(emu.post(&path, &text("zhangsan", "x")).await["errcode"], 40014);
    let fresh = emu.token().await;
    emu.control("clock/advance", json!({"secs": 7200})).await;
    let path = format!("/cgi-bin/message/send?access_token={fresh}");
    assert_eq!(emu.post(&path, &text("zhangsan", "x")).await["errcode"], 42001);
    emu.control("tokens/expire", json!({})).await;
    emu.send(json!({"msgtype": "text"})).await;
    assert_eq!(emu.get("/_emulator/robots").await, json!({}));
}

#[tokio::test]
async fn reset_forgets_everything() {
    let emu = spawn().await;
    emu.send(text("zhangsan", "hello")).await;
    emu.handle.push_fault(Fault { endpoint: None, kind: FaultKind::Errcode(-1), times: 5 });
    emu.control("reset", json!({})).await;
    assert!(emu.handle.received("zhangsan").is_empty());
    assert!(emu.handle.pending_faults().is_empty());
    assert_eq!(emu.handle.counters(), Default::default());
    assert_eq!(emu.send(text("zhangsan", "again")).await["errcode"], 0);
}

#[tokio::test]
async fn unknown_paths_are_404_with_an_empty_body() {
    let emu = spawn().await;
    let resp = emu.client.get(format!("{}/cgi-bin/nothing/here", emu.url)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "");
}
