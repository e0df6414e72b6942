//! `POST /cgi-bin/media/upload` (apps) and `POST /cgi-bin/webhook/upload_media` (robots).

use crate::emulator::api::message::random_id;
use crate::emulator::gate;
use crate::emulator::model::Endpoint;
use crate::emulator::multipart;
use crate::emulator::state::{Media, Shared};
use crate::emulator::validate::robot::image_format;
use crate::emulator::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use std::sync::Arc;

const MB: usize = 1024 * 1024;
/// Bodies beyond this are answered 45001 without being read further (the largest limit is 20 MB).
const MAX_BODY: usize = 21 * MB;

pub(crate) async fn upload(
    req: HttpRequest,
    payload: web::Payload,
    st: web::Data<Arc<Shared>>,
) -> HttpResponse {
    if let Some(reply) = gate::enter(&st, Endpoint::MediaUpload, &req).await {
        return reply;
    }
    let body = wire::read_body(payload, MAX_BODY).await;
    let result = gate::authorize(&st, &req).and_then(|_| store(&st, &req, body, None));
    reply(result, &req)
}

pub(crate) async fn robot_upload(
    req: HttpRequest,
    payload: web::Payload,
    st: web::Data<Arc<Shared>>,
) -> HttpResponse {
    if let Some(reply) = gate::enter(&st, Endpoint::WebhookUpload, &req).await {
        return reply;
    }
    let body = wire::read_body(payload, MAX_BODY).await;
    let key = wire::query(&req, "key").unwrap_or_default();
    reply(store(&st, &req, body, Some(key)), &req)
}

fn reply(result: Result<(String, String, i64), WeComError>, req: &HttpRequest) -> HttpResponse {
    match result {
        Ok((kind, media_id, created)) => wire::ok_json(json!({
            "errcode": 0,
            "errmsg": "ok",
            "type": kind,
            "media_id": media_id,
            // A string in the official sample.
            "created_at": created.to_string(),
        })),
        Err(e) => e.reply(&wire::caller_ip(req)),
    }
}

/// Size limit per type (DOC 2024: image 10 MB, voice 2 MB, video 10 MB, file 20 MB).
fn limit(kind: &str) -> usize {
    match kind {
        "image" | "video" => 10 * MB,
        "voice" => 2 * MB,
        _ => 20 * MB,
    }
}

/// The format each type requires: JPG/PNG images, AMR voice, MP4 video (40005 otherwise).
fn format_ok(kind: &str, data: &[u8]) -> bool {
    match kind {
        "image" => image_format(data).is_some(),
        "voice" => data.starts_with(b"#!AMR"),
        "video" => data.get(4..8) == Some(b"ftyp"),
        _ => true,
    }
}

/// Checks and stores the `media` part; `robot_key` is set for robot uploads.
fn store(
    st: &Shared,
    req: &HttpRequest,
    body: Option<Vec<u8>>,
    robot_key: Option<String>,
) -> Result<(String, String, i64), WeComError> {
    let part = match body {
        None => None,
        Some(body) => {
            let ctype = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            let parts = multipart::parse(ctype, &body).ok_or_else(|| WeComError::code(41005))?;
            Some(parts.into_iter().find(|p| p.name == "media").ok_or_else(|| WeComError::code(41005))?)
        }
    };
    // An empty file is refused before the robot key is looked at (observed).
    if part.as_ref().is_some_and(|p| p.data.is_empty()) {
        return Err(WeComError::code(44001));
    }
    if let Some(key) = &robot_key {
        if !st.config.robot_keys.contains(key) {
            return Err(WeComError::code(93000));
        }
    }
    let kind = wire::query(req, "type").unwrap_or_default();
    let allowed: &[&str] =
        if robot_key.is_some() { &["file", "voice"] } else { &["image", "voice", "video", "file"] };
    if !allowed.contains(&kind.as_str()) {
        return Err(WeComError::code(40004));
    }
    let part = part.ok_or_else(|| WeComError::code(45001))?;
    if part.data.len() > limit(&kind) {
        return Err(WeComError::code(45001));
    }
    if part.data.len() <= 5 {
        // "所有文件size必须大于5个字节".
        return Err(WeComError::code(40006));
    }
    if !format_ok(&kind, &part.data) {
        return Err(WeComError::code(40005));
    }
    let media_id = random_id(44);
    let mut inner = st.lock();
    inner.media.insert(
        media_id.clone(),
        Media {
            kind: kind.clone(),
            filename: part.filename.unwrap_or_default(),
            size: part.data.len(),
            at: st.clock.now(),
            robot_key,
        },
    );
    Ok((kind, media_id, st.clock.wall().unix_timestamp()))
}
