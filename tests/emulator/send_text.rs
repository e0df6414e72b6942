//! message/send with text and markdown: success shape, truncation, hard cap, empty, bad JSON.

use crate::helpers::{AGENT, assert_errmsg, spawn, spawn_with, text};
use serde_json::json;
use wecom_relay::emulator::EmulatorConfig;

#[tokio::test]
async fn success_answer_and_record() {
    let emu = spawn().await;
    let v = emu.send(text("zhangsan|lisi", "你的快递已到\n<a href=\"https://example.com\">查看</a>")).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["errmsg"], "ok");
    for f in ["invaliduser", "invalidparty", "invalidtag", "unlicenseduser"] {
        assert_eq!(v[f], "", "{f}");
    }
    assert!(v.get("response_code").is_none());
    let msgid = v["msgid"].as_str().unwrap();
    assert_eq!(msgid.len(), 60);
    for user in ["zhangsan", "lisi"] {
        let got = emu.handle.received(user);
        assert_eq!(got.len(), 1, "{user}");
        assert_eq!(got[0].msgid, msgid);
        assert_eq!(got[0].msgtype, "text");
        assert_eq!(got[0].agentid, AGENT);
        assert!(got[0].content.starts_with("你的快递已到\n<a href="));
        assert!(!got[0].truncated);
        assert_eq!(got[0].body["content"], got[0].content.as_str());
    }
    assert!(emu.handle.received("wangwu").is_empty());
    let c = emu.handle.counters();
    assert_eq!((c.send, c.delivered), (1, 2));
}

#[tokio::test]
async fn text_over_2048_bytes_is_cut_on_a_utf8_boundary_and_flagged() {
    let emu = spawn().await;
    // 683 three-byte characters = 2049 bytes: the cut must fall before the last character.
    let long = "测".repeat(683);
    let v = emu.send(text("zhangsan", &long)).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let got = &emu.handle.received("zhangsan")[0];
    assert!(got.truncated);
    assert_eq!(got.content.len(), 2046);
    assert_eq!(got.content, "测".repeat(682));
    assert_eq!(got.body["content"].as_str().unwrap().len(), 2049, "body is as received");

    let exact = "a".repeat(2048);
    emu.send(text("lisi", &exact)).await;
    assert!(!emu.handle.received("lisi")[0].truncated);
}

#[tokio::test]
async fn text_over_the_hard_cap_is_45002_and_the_cap_is_configurable() {
    let emu = spawn().await;
    let v = emu.send(text("zhangsan", &"a".repeat(5121))).await;
    assert_errmsg(&v, 45002, "content size out of limit");
    assert_eq!(emu.send(text("zhangsan", &"a".repeat(5120))).await["errcode"], 0);

    let mut cfg = EmulatorConfig::demo();
    cfg.text_hard_cap_bytes = 0;
    let emu = spawn_with(cfg).await;
    assert_eq!(emu.send(text("zhangsan", &"a".repeat(20000))).await["errcode"], 0);
    assert!(emu.handle.received("zhangsan")[0].truncated);
}

#[tokio::test]
async fn empty_text_is_44004() {
    let emu = spawn().await;
    assert_errmsg(&emu.send(text("zhangsan", "")).await, 44004, "empty content");
    let body = json!({"touser": "zhangsan", "msgtype": "text", "agentid": AGENT});
    assert_eq!(emu.send(body).await["errcode"], 44004);
    assert!(emu.handle.received("zhangsan").is_empty());
}

#[tokio::test]
async fn invalid_json_and_unknown_msgtype() {
    let emu = spawn().await;
    let token = emu.token().await;
    let path = format!("/cgi-bin/message/send?access_token={token}");
    let v = emu.post_raw(&path, "{\"touser\": \"zhangsan\",".into()).await;
    assert_eq!(v["errcode"], 40058);
    assert!(v["errmsg"].as_str().unwrap().starts_with("Warning: wrong json format."), "{v}");
    let body = json!({"touser": "zhangsan", "msgtype": "sticker", "agentid": AGENT, "sticker": {}});
    assert_errmsg(&emu.send(body).await, 40008, "invalid message type");
    let body = json!({"touser": "zhangsan", "agentid": AGENT, "text": {"content": "x"}});
    assert_eq!(emu.send(body).await["errcode"], 40008);
}

#[tokio::test]
async fn markdown_is_delivered_and_cut_at_2048_bytes() {
    let emu = spawn().await;
    let md = ">**事项详情**\n>事项：<font color=\"info\">开会</font>";
    let body =
        json!({"touser": "lisi", "msgtype": "markdown", "agentid": AGENT, "markdown": {"content": md}});
    assert_eq!(emu.send(body).await["errcode"], 0);
    let long = json!({"touser": "lisi", "msgtype": "markdown", "agentid": AGENT, "markdown": {"content": "x".repeat(3000)}});
    assert_eq!(emu.send(long).await["errcode"], 0);
    let got = emu.handle.received("lisi");
    assert_eq!(got[0].msgtype, "markdown");
    assert_eq!(got[0].content, md);
    assert!(got[1].truncated);
    assert_eq!(got[1].content.len(), 2048);
}
