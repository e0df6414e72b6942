//! message/recall: within 24 h, flags the message; too old is 42052.

use crate::helpers::{spawn, text};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn recall_flags_every_copy() {
    let emu = spawn().await;
    let msgid = emu.send(text("zhangsan|lisi", "oops")).await["msgid"].clone();
    let token = emu.token().await;
    let v =
        emu.post(&format!("/cgi-bin/message/recall?access_token={token}"), &json!({"msgid": msgid})).await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok"}));
    assert!(emu.handle.received("zhangsan")[0].recalled);
    assert!(emu.handle.received("lisi")[0].recalled);
    let again =
        emu.post(&format!("/cgi-bin/message/recall?access_token={token}"), &json!({"msgid": msgid})).await;
    assert_eq!(again["errcode"], 40058);
}

#[tokio::test]
async fn older_than_24_hours_is_42052_and_unknown_is_40058() {
    let emu = spawn().await;
    let msgid = emu.send(text("zhangsan", "old")).await["msgid"].clone();
    emu.handle.advance_clock(Duration::from_secs(24 * 3600 + 1));
    let token = emu.token().await;
    let path = format!("/cgi-bin/message/recall?access_token={token}");
    let v = emu.post(&path, &json!({"msgid": msgid})).await;
    crate::helpers::assert_errmsg(&v, 42052, "msgid exceed recall time limit");
    assert!(!emu.handle.received("zhangsan")[0].recalled);
    assert_eq!(emu.post(&path, &json!({"msgid": "nope"})).await["errcode"], 40058);
}
