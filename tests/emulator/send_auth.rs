//! message/send: token placement and validity, agentid, trusted IPs.

use crate::helpers::{AGENT, assert_errmsg, spawn, spawn_with, text};
use serde_json::json;
use wecom_relay::emulator::EmulatorConfig;

#[tokio::test]
async fn token_missing_or_in_a_header_is_41001() {
    let emu = spawn().await;
    let v = emu.post("/cgi-bin/message/send", &text("zhangsan", "hi")).await;
    assert_errmsg(&v, 41001, "access_token missing");
    let token = emu.token().await;
    let v: serde_json::Value = emu
        .client
        .post(format!("{}/cgi-bin/message/send", emu.url))
        .bearer_auth(&token)
        .json(&text("zhangsan", "hi"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errcode"], 41001);
    assert!(emu.handle.received("zhangsan").is_empty());
}

#[tokio::test]
async fn unknown_and_revoked_tokens_are_40014_expired_ones_42001() {
    let emu = spawn().await;
    let v = emu.post("/cgi-bin/message/send?access_token=bogus", &text("zhangsan", "hi")).await;
    assert_errmsg(&v, 40014, "invalid access_token");
    let token = emu.token().await;
    emu.handle.revoke_tokens();
    let path = format!("/cgi-bin/message/send?access_token={token}");
    let v = emu.post(&path, &text("zhangsan", "hi")).await;
    assert_errmsg(&v, 40014, "invalid access_token");
    let fresh = emu.token().await;
    assert_ne!(fresh, token, "a revoked token is not handed out again");
    emu.handle.expire_tokens();
    let v = emu.post(&format!("/cgi-bin/message/send?access_token={fresh}"), &text("zhangsan", "hi")).await;
    assert_errmsg(&v, 42001, "access_token expired");
}

#[tokio::test]
async fn agentid_must_match_the_token_and_may_be_a_numeric_string() {
    let emu = spawn().await;
    let mut body = text("zhangsan", "hi");
    body["agentid"] = json!(1000099);
    assert_errmsg(&emu.send(body).await, 301002, "not allow operate another agent with this accesstoken");
    let mut body = text("zhangsan", "as string");
    body["agentid"] = json!(AGENT.to_string());
    let v = emu.send(body).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let mut body = text("zhangsan", "none");
    body.as_object_mut().unwrap().remove("agentid");
    assert_eq!(emu.send(body).await["errcode"], 41011);
    let got = emu.handle.received("zhangsan");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].content, "as string");
    assert_eq!(got[0].agentid, AGENT);
}

#[tokio::test]
async fn an_untrusted_caller_ip_gets_60020_naming_it() {
    let mut cfg = EmulatorConfig::demo();
    cfg.apps[0].trusted_ips = Some(vec!["10.1.2.3".parse().unwrap()]);
    let emu = spawn_with(cfg).await;
    // gettoken itself is not enforced (UNCONFIRMED on WeCom).
    let v = emu.send(text("zhangsan", "hi")).await;
    assert_errmsg(&v, 60020, "not allow to access from your ip");
    assert!(emu.handle.received("zhangsan").is_empty());

    let mut cfg = EmulatorConfig::demo();
    cfg.apps[0].trusted_ips = Some(vec!["127.0.0.1".parse().unwrap()]);
    let emu = spawn_with(cfg).await;
    assert_eq!(emu.send(text("zhangsan", "hi")).await["errcode"], 0);
}

#[tokio::test]
async fn a_get_on_message_send_is_40058() {
    let emu = spawn().await;
    let token = emu.token().await;
    let v = emu.get(&format!("/cgi-bin/message/send?access_token={token}")).await;
    assert_errmsg(&v, 40058, "POST method required. invalid Request Parameter");
}
