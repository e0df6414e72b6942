//! touser/toparty/totag: splitting, trimming, visible range, invalid lists, 81013, @all.

use crate::helpers::{AGENT, TestEmu, assert_errmsg, spawn, spawn_with};
use serde_json::{Value, json};
use wecom_relay::emulator::{EmulatorConfig, Member, Party, Tag};

/// Visible range: zhangsan (user), party 2 with sub-party 3 (lisi, wangwu), tag 1 (admin).
/// zhaoliu is a member outside the range.
async fn corp() -> TestEmu {
    let mut cfg = EmulatorConfig::demo();
    let member = |id: &str, name: &str, dept: u32| Member {
        userid: id.into(),
        name: name.into(),
        department: vec![dept],
    };
    cfg.members = vec![
        member("zhangsan", "张三", 1),
        member("lisi", "李四", 2),
        member("wangwu", "王五", 3),
        member("admin", "管理员", 1),
        member("zhaoliu", "赵六", 1),
    ];
    let party = |id: u32, parent: Option<u32>| Party { id, name: format!("p{id}"), parent_id: parent };
    cfg.parties = vec![party(1, None), party(2, Some(1)), party(3, Some(2))];
    cfg.tags = vec![
        Tag { id: 1, name: "ops".into(), users: vec!["admin".into()], parties: vec![] },
        Tag { id: 2, name: "all".into(), users: vec!["zhaoliu".into()], parties: vec![] },
    ];
    cfg.apps[0].allow_users = vec!["zhangsan".into()];
    cfg.apps[0].allow_parties = vec![2];
    cfg.apps[0].allow_tags = vec![1];
    spawn_with(cfg).await
}

fn to(user: &str, party: &str, tag: &str) -> Value {
    json!({"touser": user, "toparty": party, "totag": tag, "msgtype": "text", "agentid": AGENT, "text": {"content": "hi"}})
}

fn count(emu: &TestEmu, user: &str) -> usize {
    emu.handle.received(user).len()
}

#[tokio::test]
async fn all_recipient_fields_empty_is_82001() {
    let emu = spawn().await;
    assert_errmsg(&emu.send(to("", " ", "")).await, 82001, "All touser & toparty & totag invalid");
    let bare = json!({"msgtype": "text", "agentid": AGENT, "text": {"content": "hi"}});
    assert_eq!(emu.send(bare).await["errcode"], 82001);
}

#[tokio::test]
async fn ids_are_split_on_bars_trimmed_and_matched_case_insensitively() {
    let emu = corp().await;
    let v = emu.send(to(" zhangsan | LiSi ", "", "")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["invaliduser"], "");
    assert_eq!((count(&emu, "zhangsan"), count(&emu, "lisi")), (1, 1));
}

#[tokio::test]
async fn unknown_or_out_of_range_ids_are_listed_lower_cased_with_errcode_0() {
    let emu = corp().await;
    let v = emu.send(to("zhangsan|ZhaoLiu|Ghost", "1|99", "2")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["invaliduser"], "zhaoliu|ghost");
    assert_eq!(v["invalidparty"], "1|99");
    assert_eq!(v["invalidtag"], "2");
    assert_eq!(count(&emu, "zhangsan"), 1);
    assert_eq!(count(&emu, "zhaoliu"), 0);
}

#[tokio::test]
async fn parties_include_sub_parties_and_tags_their_members() {
    let emu = corp().await;
    let v = emu.send(to("", "2", "1")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!((count(&emu, "lisi"), count(&emu, "wangwu"), count(&emu, "admin")), (1, 1, 1));
    assert_eq!((count(&emu, "zhangsan"), count(&emu, "zhaoliu")), (0, 0));
    assert_eq!(emu.handle.counters().delivered, 3);
}

#[tokio::test]
async fn no_valid_recipient_is_81013_and_nothing_is_sent() {
    let emu = corp().await;
    let v = emu.send(to("ghost|zhaoliu", "99", "")).await;
    assert_errmsg(&v, 81013, "user & party & tag all invalid");
    assert_eq!(v["invaliduser"], "ghost|zhaoliu");
    assert!(v.get("msgid").is_none());
    assert_eq!(emu.handle.counters().delivered, 0);
}

#[tokio::test]
async fn at_all_is_the_visible_range_and_ignores_parties_and_tags() {
    let emu = corp().await;
    let v = emu.send(to("@all", "99", "2")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["invalidparty"], "");
    for user in ["zhangsan", "lisi", "wangwu", "admin"] {
        assert_eq!(count(&emu, user), 1, "{user}");
    }
    assert_eq!(count(&emu, "zhaoliu"), 0);
}
