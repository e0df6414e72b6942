//! webhook/send: key, mentions, byte limits, image md5, news, cards, 20 a minute.

use crate::helpers::{TestEmu, assert_errmsg, spawn};
use serde_json::{Value, json};
use std::time::Duration;

async fn robot(emu: &TestEmu, body: Value) -> Value {
    emu.post(&format!("/cgi-bin/webhook/send?key={}", emu.robot_key()), &body).await
}

/// `helpers::png()` in base64, and the MD5 of its raw bytes (computed independently).
const PNG_B64: &str = "iVBORw0KGgoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
const PNG_MD5: &str = "46d965de5f83432eceb8653bb099d977";

#[tokio::test]
async fn a_bad_key_is_93000_in_http_200() {
    let emu = spawn().await;
    let body = json!({"msgtype": "text", "text": {"content": "hi"}});
    let v = emu.post("/cgi-bin/webhook/send?key=nope", &body).await;
    assert_errmsg(&v, 93000, "invalid webhook url");
    assert_eq!(emu.post("/cgi-bin/webhook/send", &body).await["errcode"], 93000);
    assert_eq!(emu.handle.counters().webhook, 2);
}

#[tokio::test]
async fn text_with_mentions_is_recorded() {
    let emu = spawn().await;
    let body = json!({"msgtype": "text", "text": {"content": "广州今日天气：29度", "mentioned_list": ["wangqing", "@all"], "mentioned_mobile_list": ["13800001111"]}});
    assert_eq!(robot(&emu, body).await, json!({"errcode": 0, "errmsg": "ok"}));
    let got = emu.handle.robot_messages(&emu.robot_key());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msgtype, "text");
    assert_eq!(got[0].content, "广州今日天气：29度");
    assert_eq!(got[0].mentioned_list, vec!["wangqing", "@all"]);
    assert_eq!(got[0].mentioned_mobile_list, vec!["13800001111"]);
    let as_string = json!({"msgtype": "text", "text": {"content": "x", "mentioned_list": "wangqing"}});
    assert_eq!(robot(&emu, as_string).await["errcode"], 40058, "mentions must be arrays");
}

#[tokio::test]
async fn markdown_over_4096_bytes_is_40058_with_the_observed_errmsg() {
    let emu = spawn().await;
    let ok = json!({"msgtype": "markdown", "markdown": {"content": "a".repeat(4096)}});
    assert_eq!(robot(&emu, ok).await["errcode"], 0);
    let long = json!({"msgtype": "markdown", "markdown": {"content": "a".repeat(4097)}});
    let v = robot(&emu, long).await;
    assert_errmsg(&v, 40058, "markdown.content exceed max length 4096. invalid Request Parameter");
    let text = json!({"msgtype": "text", "text": {"content": "a".repeat(2049)}});
    assert_eq!(robot(&emu, text).await["errcode"], 40058);
    assert_eq!(emu.handle.robot_messages(&emu.robot_key()).len(), 1);
}

#[tokio::test]
async fn image_needs_matching_md5() {
    let emu = spawn().await;
    let good = json!({"msgtype": "image", "image": {"base64": PNG_B64, "md5": PNG_MD5}});
    assert_eq!(robot(&emu, good).await["errcode"], 0);
    let bad = json!({"msgtype": "image", "image": {"base64": PNG_B64, "md5": "0".repeat(32)}});
    assert_eq!(robot(&emu, bad).await["errcode"], 40058);
    let got = emu.handle.robot_messages(&emu.robot_key());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].content, "[image png, 40 bytes]");
}

#[tokio::test]
async fn news_and_notice_cards_but_no_interaction_cards() {
    let emu = spawn().await;
    let news =
        json!({"msgtype": "news", "news": {"articles": [{"title": "中秋节礼品领取", "url": "www.qq.com"}]}});
    assert_eq!(robot(&emu, news).await["errcode"], 0);
    let nine = json!({"msgtype": "news", "news": {"articles": vec![json!({"title": "t", "url": "u"}); 9]}});
    assert_eq!(robot(&emu, nine).await["errcode"], 45008);
    let card = json!({"msgtype": "template_card", "template_card": {"card_type": "text_notice",
        "main_title": {"title": "告警"}, "card_action": {"type": 1, "url": "https://x.test"}}});
    assert_eq!(robot(&emu, card).await["errcode"], 0);
    let button = json!({"msgtype": "template_card", "template_card": {"card_type": "button_interaction",
        "task_id": "t", "main_title": {"title": "t"}, "button_list": [{"text": "a", "key": "a"}]}});
    assert_eq!(robot(&emu, button).await["errcode"], 40058);
    assert_eq!(emu.handle.robot_messages(&emu.robot_key()).len(), 2);
}

#[tokio::test]
async fn file_messages_use_media_uploaded_with_the_same_key() {
    let emu = spawn().await;
    let key = emu.robot_key();
    let up = emu
        .upload_to(
            &format!("/cgi-bin/webhook/upload_media?key={key}&type=file"),
            b"hello robot".to_vec(),
            "r.txt",
        )
        .await;
    assert_eq!(up["errcode"], 0, "{up}");
    let id = up["media_id"].as_str().unwrap();
    assert_eq!(robot(&emu, json!({"msgtype": "file", "file": {"media_id": id}})).await["errcode"], 0);
    assert_eq!(robot(&emu, json!({"msgtype": "file", "file": {"media_id": "x"}})).await["errcode"], 40007);
    let empty = emu.upload_to("/cgi-bin/webhook/upload_media?key=bad&type=file", Vec::new(), "e").await;
    assert_eq!(empty["errcode"], 44001, "an empty file is refused before the key");
}

#[tokio::test]
async fn the_21st_message_in_a_minute_is_45009() {
    let emu = spawn().await;
    let body = json!({"msgtype": "text", "text": {"content": "tick"}});
    for _ in 0..20 {
        assert_eq!(robot(&emu, body.clone()).await["errcode"], 0);
    }
    assert_errmsg(&robot(&emu, body.clone()).await, 45009, "api freq out of limit");
    emu.handle.advance_clock(Duration::from_secs(60));
    assert_eq!(robot(&emu, body).await["errcode"], 0);
    assert_eq!(emu.handle.robot_messages(&emu.robot_key()).len(), 21);
}
