//! message/send with textcard, news, mpnews and media messages.

use crate::helpers::{AGENT, assert_errmsg, png, spawn};
use serde_json::{Value, json};

fn msg(msgtype: &str, inner: Value) -> Value {
    json!({"touser": "zhangsan", "msgtype": msgtype, "agentid": AGENT, msgtype: inner})
}

#[tokio::test]
async fn textcard_requires_title_and_description_and_truncates() {
    let emu = spawn().await;
    let v = emu.send(msg("textcard", json!({"description": "d", "url": "https://x.test"}))).await;
    assert_errmsg(&v, 41016, "title missing");
    let v = emu.send(msg("textcard", json!({"title": "t", "url": "https://x.test"}))).await;
    assert_errmsg(&v, 41033, "description missing");
    let v = emu.send(msg("textcard", json!({"title": "t", "description": "d", "url": "x.test"}))).await;
    assert_eq!(v["errcode"], 45034, "url needs its protocol");
    let card = json!({
        "title": "标".repeat(50),          // 150 bytes → 128 → 42 characters
        "description": "<div class=\"gray\">2016年9月26日</div>",
        "url": "https://work.weixin.qq.com",
        "btntxt": "查看更多详情",
    });
    assert_eq!(emu.send(msg("textcard", card)).await["errcode"], 0);
    let got = &emu.handle.received("zhangsan")[0];
    assert!(got.truncated);
    assert_eq!(got.shown["title"], "标".repeat(42));
    assert_eq!(got.shown["btntxt"], "查看更多");
    assert_eq!(got.body["btntxt"], "查看更多详情");
}

#[tokio::test]
async fn news_takes_1_to_8_articles_with_titles() {
    let emu = spawn().await;
    let art = json!({"title": "中秋节礼品领取", "description": "今年中秋节公司有豪礼相送", "url": "https://www.qq.com", "picurl": "https://p.test/a.png"});
    let nine: Vec<Value> = (0..9).map(|_| art.clone()).collect();
    let v = emu.send(msg("news", json!({"articles": nine}))).await;
    assert_errmsg(&v, 45008, "article size out of limit");
    let v = emu.send(msg("news", json!({"articles": [{"description": "no title"}]}))).await;
    assert_eq!(v["errcode"], 41016);
    assert_eq!(emu.send(msg("news", json!({"articles": []}))).await["errcode"], 40058);
    let mut with_safe = msg("news", json!({"articles": [art.clone()]}));
    with_safe["safe"] = json!(1);
    assert_eq!(emu.send(with_safe).await["errcode"], 40074);
    let eight: Vec<Value> = (0..8).map(|_| art.clone()).collect();
    assert_eq!(emu.send(msg("news", json!({"articles": eight}))).await["errcode"], 0);
    let got = &emu.handle.received("zhangsan")[0];
    assert_eq!(got.msgtype, "news");
    assert_eq!(got.shown["articles"].as_array().unwrap().len(), 8);
    assert!(got.content.starts_with("中秋节礼品领取\n今年中秋节公司有豪礼相送"));
}

#[tokio::test]
async fn media_messages_need_a_live_media_id_of_their_type() {
    let emu = spawn().await;
    assert_errmsg(&emu.send(msg("image", json!({}))).await, 41006, "media_id missing");
    let v = emu.send(msg("image", json!({"media_id": "nope"}))).await;
    assert_errmsg(&v, 40007, "invalid media_id");
    let image = emu.upload("image", png(), "chart.png").await;
    let id = image["media_id"].as_str().unwrap().to_owned();
    assert_eq!(emu.send(msg("file", json!({"media_id": id}))).await["errcode"], 40007, "wrong type");
    assert_eq!(emu.send(msg("image", json!({"media_id": id}))).await["errcode"], 0);
    let file = emu.upload("file", b"quarterly report".to_vec(), "report.txt").await;
    let fid = file["media_id"].as_str().unwrap();
    assert_eq!(emu.send(msg("file", json!({"media_id": fid}))).await["errcode"], 0);
    let got = emu.handle.received("zhangsan");
    assert_eq!(got[0].content, "[image] chart.png, 40 bytes");
    assert_eq!(got[1].content, "[file] report.txt, 16 bytes");
}

#[tokio::test]
async fn mpnews_needs_a_thumb_and_content_and_limits_author() {
    let emu = spawn().await;
    let thumb = emu.upload("image", png(), "t.png").await["media_id"].as_str().unwrap().to_owned();
    let art = json!({"title": "周报", "thumb_media_id": thumb, "content": "<p>hi</p>", "digest": "摘要"});
    let mut no_thumb = art.clone();
    no_thumb.as_object_mut().unwrap().remove("thumb_media_id");
    assert_eq!(emu.send(msg("mpnews", json!({"articles": [no_thumb]}))).await["errcode"], 41006);
    let mut long_author = art.clone();
    long_author["author"] = json!("a".repeat(65));
    assert_eq!(emu.send(msg("mpnews", json!({"articles": [long_author]}))).await["errcode"], 45032);
    assert_eq!(emu.send(msg("mpnews", json!({"articles": [art]}))).await["errcode"], 0);
    assert_eq!(emu.handle.received("zhangsan")[0].content, "周报\n摘要");
}

#[tokio::test]
async fn miniprogram_notice_is_refused_for_unlinked_apps() {
    let emu = spawn().await;
    let v = emu.send(msg("miniprogram_notice", json!({"appid": "wx1", "title": "会议室预订成功"}))).await;
    assert_errmsg(&v, 48002, "api forbidden");
}
