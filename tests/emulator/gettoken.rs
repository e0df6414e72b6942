//! gettoken: parameter order, corp/secret checks, token reuse, TTL, per-app tokens.

use crate::helpers::{assert_errmsg, spawn, spawn_with};
use std::time::Duration;
use wecom_relay::emulator::{App, EmulatorConfig};

#[tokio::test]
async fn missing_corpsecret_is_checked_before_corpid() {
    let emu = spawn().await;
    let v = emu.get("/cgi-bin/gettoken").await;
    assert_errmsg(&v, 41004, "corpsecret missing");
    let v = emu.get("/cgi-bin/gettoken?corpid=wwnothing").await;
    assert_errmsg(&v, 41004, "corpsecret missing");
    let v = emu.get("/cgi-bin/gettoken?corpsecret=x").await;
    assert_errmsg(&v, 41002, "corpid missing");
    assert_eq!(emu.handle.counters().gettoken, 3);
    assert_eq!(emu.handle.counters().tokens_issued, 0);
}

#[tokio::test]
async fn wrong_corpid_then_wrong_secret() {
    let emu = spawn().await;
    let secret = emu.secret();
    let v = emu.get(&format!("/cgi-bin/gettoken?corpid=wwother&corpsecret={secret}")).await;
    assert_errmsg(&v, 40013, "invalid corpid");
    let corp = &emu.config.corp_id;
    let v = emu.get(&format!("/cgi-bin/gettoken?corpid={corp}&corpsecret=nope")).await;
    assert_errmsg(&v, 40001, "invalid credential");
    assert!(v.get("access_token").is_none());
}

#[tokio::test]
async fn same_token_while_valid_and_expires_in_counts_down() {
    let emu = spawn().await;
    let path = format!("/cgi-bin/gettoken?corpid={}&corpsecret={}", emu.config.corp_id, emu.secret());
    let first = emu.get(&path).await;
    assert_eq!(first["errcode"], 0);
    assert_eq!(first["errmsg"], "ok");
    assert_eq!(first["expires_in"], 7200);
    emu.handle.advance_clock(Duration::from_secs(1000));
    let second = emu.get(&path).await;
    assert_eq!(second["access_token"], first["access_token"]);
    let left = second["expires_in"].as_u64().unwrap();
    assert!((6199..=6200).contains(&left), "expires_in {left}");
    assert_eq!(emu.handle.counters().tokens_issued, 1);
}

#[tokio::test]
async fn token_ttl_is_configurable_and_an_expired_token_answers_42001() {
    let mut cfg = EmulatorConfig::demo();
    cfg.token_ttl_secs = 60;
    let emu = spawn_with(cfg).await;
    let old = emu.token().await;
    emu.handle.advance_clock(Duration::from_secs(61));
    let body = crate::helpers::text("zhangsan", "hi");
    let v = emu.post(&format!("/cgi-bin/message/send?access_token={old}"), &body).await;
    assert_errmsg(&v, 42001, "access_token expired");
    let new = emu.token().await;
    assert_ne!(new, old);
    assert_eq!(emu.handle.counters().tokens_issued, 2);
}

#[tokio::test]
async fn each_app_has_its_own_secret_and_token() {
    let mut cfg = EmulatorConfig::demo();
    cfg.apps.push(App {
        agent_id: 1000003,
        secret: "second-app-secret".into(),
        name: "第二应用".into(),
        allow_users: vec!["lisi".into()],
        allow_parties: vec![],
        allow_tags: vec![],
        trusted_ips: None,
    });
    let emu = spawn_with(cfg).await;
    let a = emu.token().await;
    let b = emu.token_for("second-app-secret").await;
    assert_ne!(a, b);
    // The second app's token cannot send as the first app.
    let v = emu
        .post(&format!("/cgi-bin/message/send?access_token={b}"), &crate::helpers::text("lisi", "x"))
        .await;
    assert_errmsg(&v, 301002, "not allow operate another agent with this accesstoken");
}
