//! `POST /cgi-bin/webhook/send?key=`: group-robot messages, 20 a minute per robot.

use crate::emulator::gate;
use crate::emulator::model::{Endpoint, RobotReceived};
use crate::emulator::state::Shared;
use crate::emulator::validate::robot::robot_message;
use crate::emulator::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::sync::Arc;

/// Robot images may be 2 MB before base64, so the JSON body may approach 3 MB.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub(crate) async fn webhook_send(
    req: HttpRequest,
    payload: web::Payload,
    st: web::Data<Arc<Shared>>,
) -> HttpResponse {
    if let Some(reply) = gate::enter(&st, Endpoint::Webhook, &req).await {
        return reply;
    }
    let body = wire::read_body(payload, MAX_BODY).await;
    // Every robot error, a bad key included, comes back as HTTP 200 with an errcode.
    match handle(&st, &req, body) {
        Ok(()) => wire::ok_json(json!({"errcode": 0, "errmsg": "ok"})),
        Err(e) => e.reply(&wire::caller_ip(&req)),
    }
}

fn handle(st: &Shared, req: &HttpRequest, body: Option<Vec<u8>>) -> Result<(), WeComError> {
    let key = wire::query(req, "key")
        .filter(|k| st.config.robot_keys.contains(k))
        .ok_or_else(|| WeComError::code(93000))?;
    let body = body.ok_or_else(|| WeComError::new(40206, "request body too large"))?;
    let msg = wire::parse_json_object(&body)?;
    let now = st.clock.now();
    let ttl = st.media_ttl();
    let media = |id: &str, kind: &str| st.lock().media_label(id, kind, Some(&key), now, ttl);
    let checked = robot_message(&msg, &media)?;
    let mut inner = st.lock();
    // "每个机器人发送的消息不能超过20条/分钟". The over-limit errcode 45009 is UNCONFIRMED
    // (said in public reports, no real log known); refused messages do not count.
    if inner.robot_windows.admit(key.clone(), now, st.config.robot_per_minute, None).is_err() {
        return Err(WeComError::code(45009));
    }
    let record = RobotReceived {
        key: key.clone(),
        msgtype: checked.msgtype.clone(),
        content: checked.content,
        body: msg.get(&checked.msgtype).cloned().unwrap_or(Value::Null),
        mentioned_list: checked.mentioned_list,
        mentioned_mobile_list: checked.mentioned_mobile_list,
        at: st.clock.wall(),
    };
    inner.robot.entry(key).or_default().push(record);
    inner.version += 1;
    Ok(())
}
