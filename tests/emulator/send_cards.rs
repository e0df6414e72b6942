//! message/send with template_card: the five card types, required parts, response_code.

use crate::helpers::{AGENT, spawn};
use serde_json::{Value, json};

fn card(card: Value) -> Value {
    json!({"touser": "lisi", "msgtype": "template_card", "agentid": AGENT, "template_card": card})
}

fn text_notice() -> Value {
    json!({
        "card_type": "text_notice",
        "source": {"desc": "运维", "desc_color": 2},
        "main_title": {"title": "磁盘告警", "desc": "web-01"},
        "emphasis_content": {"title": "95%", "desc": "使用率"},
        "horizontal_content_list": [{"keyname": "主机", "value": "web-01"}],
        "jump_list": [{"type": 1, "title": "看板", "url": "https://grafana.test"}],
        "card_action": {"type": 1, "url": "https://grafana.test"}
    })
}

#[tokio::test]
async fn notice_cards_are_delivered_without_response_code() {
    let emu = spawn().await;
    let v = emu.send(card(text_notice())).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert!(v.get("response_code").is_none());
    let news = json!({
        "card_type": "news_notice",
        "main_title": {"title": "新版本"},
        "card_image": {"url": "https://img.test/a.png", "aspect_ratio": 2.0},
        "vertical_content_list": [{"title": "变更", "desc": "修复"}],
        "card_action": {"type": 1, "url": "https://x.test"}
    });
    assert_eq!(emu.send(card(news)).await["errcode"], 0);
    let got = emu.handle.received("lisi");
    assert_eq!(got.len(), 2);
    assert!(
        got[0].content.contains("磁盘告警") && got[0].content.contains("主机: web-01"),
        "{}",
        got[0].content
    );
    assert_eq!(got[0].response_code, None);
}

#[tokio::test]
async fn notice_card_required_parts() {
    let emu = spawn().await;
    let mut no_action = text_notice();
    no_action.as_object_mut().unwrap().remove("card_action");
    let v = emu.send(card(no_action)).await;
    assert_eq!(v["errcode"], 40058);
    assert!(v["errmsg"].as_str().unwrap().starts_with("template_card.card_action missing"));
    let mut no_title = text_notice();
    no_title.as_object_mut().unwrap().remove("main_title");
    assert_eq!(emu.send(card(no_title)).await["errcode"], 40058);
    let news = json!({"card_type": "news_notice", "main_title": {"title": "t"}, "card_action": {"type": 1, "url": "https://x.test"}});
    assert_eq!(emu.send(card(news)).await["errcode"], 40058, "card_image or image_text_area");
    let mut seven = text_notice();
    seven["horizontal_content_list"] = json!(vec![json!({"keyname": "k", "value": "v"}); 7]);
    assert_eq!(emu.send(card(seven)).await["errcode"], 40058);
    let mut bad_task = text_notice();
    bad_task["task_id"] = json!("has space");
    assert_eq!(emu.send(card(bad_task)).await["errcode"], 42014);
    assert_eq!(emu.send(card(json!({"card_type": "poster"}))).await["errcode"], 40058);
    assert!(emu.handle.received("lisi").is_empty());
}

#[tokio::test]
async fn interaction_cards_get_a_response_code() {
    let emu = spawn().await;
    let button = json!({
        "card_type": "button_interaction", "task_id": "task-1",
        "main_title": {"title": "审批"},
        "button_list": [{"text": "同意", "style": 1, "key": "yes"}, {"text": "拒绝", "style": 2, "key": "no"}]
    });
    let vote = json!({
        "card_type": "vote_interaction", "task_id": "task-2",
        "main_title": {"title": "午餐"},
        "checkbox": {"question_key": "q", "mode": 1, "option_list": [{"id": "a", "text": "面"}, {"id": "b", "text": "饭"}]},
        "submit_button": {"text": "提交", "key": "submit"}
    });
    let multiple = json!({
        "card_type": "multiple_interaction", "task_id": "task-3",
        "main_title": {"title": "选择"},
        "select_list": [{"question_key": "q1", "title": "城市", "option_list": [{"id": "sh", "text": "上海"}]}],
        "submit_button": {"text": "提交", "key": "go"}
    });
    for c in [button, vote, multiple] {
        let v = emu.send(card(c)).await;
        assert_eq!(v["errcode"], 0, "{v}");
        assert!(v["response_code"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    }
    let got = emu.handle.received("lisi");
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.response_code.is_some()));
    assert!(got[0].content.contains("[同意]"));
}

#[tokio::test]
async fn interaction_card_required_parts() {
    let emu = spawn().await;
    let no_task = json!({"card_type": "button_interaction", "main_title": {"title": "t"}, "button_list": [{"text": "a", "key": "a"}]});
    assert_eq!(emu.send(card(no_task)).await["errcode"], 40058);
    let dup_keys = json!({"card_type": "button_interaction", "task_id": "t1", "main_title": {"title": "t"},
        "button_list": [{"text": "a", "key": "k"}, {"text": "b", "key": "k"}]});
    assert_eq!(emu.send(card(dup_keys)).await["errcode"], 40058);
    let no_submit = json!({"card_type": "vote_interaction", "task_id": "t2", "main_title": {"title": "t"},
        "checkbox": {"question_key": "q", "option_list": [{"id": "a", "text": "A"}]}});
    assert_eq!(emu.send(card(no_submit)).await["errcode"], 40058);
    let four_selects = json!({"card_type": "multiple_interaction", "task_id": "t3", "main_title": {"title": "t"},
        "select_list": vec![json!({"question_key": "q", "option_list": [{"id": "a", "text": "A"}]}); 4],
        "submit_button": {"key": "s"}});
    assert_eq!(emu.send(card(four_selects)).await["errcode"], 40058);
    assert!(emu.handle.received("lisi").is_empty());
}
