//! The per-member rule: 30 a minute and 1000 an hour per app; the excess silently dropped.

use crate::helpers::{spawn, text};
use std::time::Duration;

#[tokio::test]
async fn the_31st_message_in_a_minute_is_dropped_silently() {
    let emu = spawn().await;
    for i in 0..30 {
        assert_eq!(emu.send(text("zhangsan", &format!("m{i}"))).await["errcode"], 0);
    }
    let v = emu.send(text("zhangsan|lisi", "one too many")).await;
    assert_eq!(v["errcode"], 0, "WeCom answers 0 and drops: {v}");
    assert!(v["msgid"].as_str().is_some());
    assert_eq!(emu.handle.received("zhangsan").len(), 30);
    assert_eq!(emu.handle.received("lisi").len(), 1, "the rule is per member");
    let dropped = emu.handle.dropped("zhangsan");
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].content, "one too many");
    assert!(dropped[0].reason.as_deref().unwrap().contains("30 messages/minute"), "{:?}", dropped[0].reason);
    assert_eq!(emu.handle.counters().dropped, 1);

    // The window slides: a minute later the member receives again.
    emu.handle.advance_clock(Duration::from_secs(60));
    emu.send(text("zhangsan", "later")).await;
    assert_eq!(emu.handle.received("zhangsan").len(), 31);
}

#[tokio::test]
async fn over_1000_an_hour_is_dropped_even_when_each_minute_is_fine() {
    let emu = spawn().await;
    let token = emu.token().await;
    let path = format!("/cgi-bin/message/send?access_token={token}");
    let body = text("wangwu", "tick");
    for i in 0..1000 {
        if i > 0 && i % 30 == 0 {
            emu.handle.advance_clock(Duration::from_secs(61));
        }
        assert_eq!(emu.post(&path, &body).await["errcode"], 0);
    }
    emu.handle.advance_clock(Duration::from_secs(61));
    assert_eq!(emu.post(&path, &text("wangwu", "1001st")).await["errcode"], 0);
    assert_eq!(emu.handle.received("wangwu").len(), 1000);
    let dropped = emu.handle.dropped("wangwu");
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].reason.as_deref().unwrap().contains("1000 messages/hour"));
}
