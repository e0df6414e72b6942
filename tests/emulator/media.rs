//! media/upload: types, size limits, empty files, media_id lifetime.

use crate::helpers::{AGENT, assert_errmsg, png, spawn};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn upload_answers_type_media_id_and_created_at_as_a_string() {
    let emu = spawn().await;
    let v = emu.upload("image", png(), "a.png").await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["type"], "image");
    assert!(v["media_id"].as_str().is_some_and(|s| s.len() > 20));
    let created = v["created_at"].as_str().expect("created_at is a string");
    assert!(created.parse::<i64>().is_ok());
    assert_eq!(emu.handle.counters().media_upload, 1);
}

#[tokio::test]
async fn bad_type_empty_tiny_and_wrong_format() {
    let emu = spawn().await;
    assert_errmsg(&emu.upload("gif", png(), "a.gif").await, 40004, "invalid media type");
    assert_errmsg(&emu.upload("file", Vec::new(), "e.txt").await, 44001, "empty media data");
    assert_eq!(
        emu.upload("file", b"12345".to_vec(), "five.txt").await["errcode"],
        40006,
        "files must exceed 5 bytes"
    );
    assert_eq!(emu.upload("image", b"not an image".to_vec(), "a.png").await["errcode"], 40005);
    assert_eq!(emu.upload("voice", b"#!AMR\n1234".to_vec(), "v.amr").await["errcode"], 0);
}

#[tokio::test]
async fn over_the_type_limit_is_45001() {
    let emu = spawn().await;
    let mut voice = b"#!AMR\n".to_vec();
    voice.resize(2 * 1024 * 1024 + 1, 0);
    assert_errmsg(&emu.upload("voice", voice, "v.amr").await, 45001, "media size out of limit");
    let mut image = png();
    image.resize(10 * 1024 * 1024 + 1, 0);
    assert_eq!(emu.upload("image", image, "big.png").await["errcode"], 45001);
}

#[tokio::test]
async fn a_media_id_lasts_three_days() {
    let emu = spawn().await;
    let id = emu.upload("image", png(), "a.png").await["media_id"].as_str().unwrap().to_owned();
    let body = json!({"touser": "zhangsan", "msgtype": "image", "agentid": AGENT, "image": {"media_id": id}});
    emu.handle.advance_clock(Duration::from_secs(3 * 24 * 3600 - 60));
    assert_eq!(emu.send(body.clone()).await["errcode"], 0);
    emu.handle.advance_clock(Duration::from_secs(60));
    assert_eq!(emu.send(body).await["errcode"], 40007);
}
