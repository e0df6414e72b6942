//! enable_duplicate_check: an identical request within the interval is not delivered again.

use crate::helpers::{spawn, text};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn identical_request_within_the_default_interval_is_suppressed() {
    let emu = spawn().await;
    let mut body = text("zhangsan", "部署完成");
    body["enable_duplicate_check"] = json!(1);
    let first = emu.send(body.clone()).await;
    let second = emu.send(body.clone()).await;
    assert_eq!(second["errcode"], 0);
    assert_eq!(second["msgid"], first["msgid"], "the repeat gets the first answer");
    assert_eq!(emu.handle.received("zhangsan").len(), 1);
    let dropped = emu.handle.dropped("zhangsan");
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].reason.as_deref().unwrap().starts_with("duplicate"), "{:?}", dropped[0].reason);
    assert_eq!(emu.handle.counters().duplicates, 1);

    // 1800 s is the default interval: after it, the same request is delivered again.
    emu.handle.advance_clock(Duration::from_secs(1800));
    let third = emu.send(body).await;
    assert_ne!(third["msgid"], first["msgid"]);
    assert_eq!(emu.handle.received("zhangsan").len(), 2);
}

#[tokio::test]
async fn interval_is_honoured_and_the_check_is_opt_in() {
    let emu = spawn().await;
    let mut body = text("lisi", "x");
    body["enable_duplicate_check"] = json!(1);
    body["duplicate_check_interval"] = json!(10);
    emu.send(body.clone()).await;
    emu.handle.advance_clock(Duration::from_secs(11));
    emu.send(body).await;
    assert_eq!(emu.handle.received("lisi").len(), 2);

    let plain = text("wangwu", "same");
    emu.send(plain.clone()).await;
    emu.send(plain).await;
    assert_eq!(emu.handle.received("wangwu").len(), 2);
    // A different body is not a duplicate.
    let mut a = text("admin", "a");
    a["enable_duplicate_check"] = json!(1);
    let mut b = text("admin", "b");
    b["enable_duplicate_check"] = json!(1);
    emu.send(a).await;
    emu.send(b).await;
    assert_eq!(emu.handle.received("admin").len(), 2);
}
