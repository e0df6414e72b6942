//! `POST /cgi-bin/message/recall`: withdraw a message sent less than 24 h ago.

use crate::emulator::gate;
use crate::emulator::model::Endpoint;
use crate::emulator::state::Shared;
use crate::emulator::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const RECALL_WINDOW: Duration = Duration::from_secs(24 * 3600);

pub(crate) async fn recall(
    req: HttpRequest,
    payload: web::Payload,
    st: web::Data<Arc<Shared>>,
) -> HttpResponse {
    if let Some(reply) = gate::enter(&st, Endpoint::Recall, &req).await {
        return reply;
    }
    let body = wire::read_body(payload, 64 * 1024).await;
    match handle(&st, &req, body) {
        Ok(()) => wire::ok_json(json!({"errcode": 0, "errmsg": "ok"})),
        Err(e) => e.reply(&wire::caller_ip(&req)),
    }
}

fn handle(st: &Shared, req: &HttpRequest, body: Option<Vec<u8>>) -> Result<(), WeComError> {
    let agent_id = gate::authorize(st, req)?;
    let body = body.ok_or_else(|| WeComError::new(40206, "request body too large"))?;
    let msg = wire::parse_json_object(&body)?;
    let msgid = match msg.get("msgid") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(WeComError::param("msgid missing")),
    };
    let now = st.clock.now();
    let mut inner = st.lock();
    // Unknown, already recalled, or another app's message: 40058 (the first two are UNCONFIRMED).
    let sent = inner
        .sent
        .get_mut(&msgid)
        .filter(|s| !s.recalled && s.agent_id == agent_id)
        .ok_or_else(|| WeComError::param("invalid msgid"))?;
    if now.saturating_duration_since(sent.at) > RECALL_WINDOW {
        return Err(WeComError::code(42052));
    }
    sent.recalled = true;
    let users = sent.users.clone();
    for u in users {
        if let Some(list) = inner.inbox.get_mut(&u) {
            list.iter_mut().filter(|r| r.msgid == msgid).for_each(|r| r.recalled = true);
        }
    }
    inner.version += 1;
    Ok(())
}
