//! The inbox page: members' bubbles, escaping, flags, robots, and the polling endpoints.

use crate::helpers::{AGENT, spawn_with, text};
use serde_json::json;
use wecom_relay::emulator::{EmulatorConfig, Member};

async fn page(emu: &crate::helpers::TestEmu, path: &str) -> String {
    let resp = emu.client.get(format!("{}{path}", emu.url)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    resp.text().await.unwrap()
}

#[tokio::test]
async fn shows_messages_escaped_with_links_colours_and_flags() {
    let mut cfg = EmulatorConfig::demo();
    cfg.members.push(Member {
        userid: "mallory".into(),
        name: "<script>alert(1)</script>".into(),
        department: vec![1],
    });
    cfg.member_per_minute = 1;
    let emu = spawn_with(cfg).await;
    let v0 = emu.get("/_emulator/version").await["version"].as_u64().unwrap();
    emu.send(text("mallory", "line1\nline2 <b>bold?</b> <a href=\"https://ok.test/x?a=1&b=2\">link</a> <a href=\"javascript:alert(1)\">bad</a>")).await;
    emu.send(text("mallory", "dropped one")).await;
    emu.send(text("zhangsan", &"長".repeat(700))).await;
    let md = json!({"touser": "lisi", "msgtype": "markdown", "agentid": AGENT,
        "markdown": {"content": "# 标题\n>事项：<font color=\"warning\">紧急</font> **粗体** [文档](https://doc.test)"}});
    emu.send(md).await;
    let key = emu.robot_key();
    emu.post(
        &format!("/cgi-bin/webhook/send?key={key}"),
        &json!({"msgtype": "text", "text": {"content": "robot says <hi>"}}),
    )
    .await;
    assert!(emu.get("/_emulator/version").await["version"].as_u64().unwrap() > v0);

    let html = page(&emu, "/").await;
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("line1<br>line2 &lt;b&gt;bold?&lt;/b&gt;"));
    assert!(html.contains(
        "<a href=\"https://ok.test/x?a=1&amp;b=2\" target=\"_blank\" rel=\"noopener noreferrer\">link</a>"
    ));
    assert!(!html.contains("javascript:"));
    assert!(html.contains("dropped: rate"));
    assert!(html.contains("truncated"));
    assert!(html.contains("<span class=\"c-warning\">紧急</span>"));
    assert!(html.contains("<strong>粗体</strong>"));
    assert!(html.contains("robot says &lt;hi&gt;"));
    assert!(html.contains("setInterval"), "the page polls for updates");
    let fragment = page(&emu, "/_emulator/inbox").await;
    assert!(fragment.contains("dropped one") && !fragment.contains("<html"));
}

#[tokio::test]
async fn textcards_news_and_cards_render() {
    let emu = spawn_with(EmulatorConfig::demo()).await;
    let card = json!({"touser": "wangwu", "msgtype": "textcard", "agentid": AGENT, "textcard": {
        "title": "领奖通知", "description": "<div class=\"gray\">2016年9月26日</div><div class=\"highlight\">请于10月10日前领取</div><img src=x>",
        "url": "https://x.test", "btntxt": "更多"}});
    emu.send(card).await;
    let tpl = json!({"touser": "wangwu", "msgtype": "template_card", "agentid": AGENT, "template_card": {
        "card_type": "button_interaction", "task_id": "t1", "main_title": {"title": "审批<i>"},
        "button_list": [{"text": "同意", "key": "y"}]}});
    emu.send(tpl).await;
    let html = page(&emu, "/").await;
    assert!(html.contains("<div class=\"tc-gray\">2016年9月26日</div>"));
    assert!(html.contains("&lt;img src=x&gt;"));
    assert!(html.contains("审批&lt;i&gt;"));
    assert!(html.contains("<button disabled>同意</button>"));
}
