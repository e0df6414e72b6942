//! `POST /cgi-bin/message/send`: an app message checked, resolved, rate-limited and delivered.

use crate::emulator::gate;
use crate::emulator::limits::Over;
use crate::emulator::model::{Endpoint, Received};
use crate::emulator::recipients;
use crate::emulator::state::{Sent, Shared};
use crate::emulator::validate::{self, Ctx};
use crate::emulator::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Largest accepted request body (mpnews content may reach 666 KB).
const MAX_BODY: usize = 2 * 1024 * 1024;

pub(crate) async fn send(
    req: HttpRequest,
    payload: web::Payload,
    st: web::Data<Arc<Shared>>,
) -> HttpResponse {
    if let Some(reply) = gate::enter(&st, Endpoint::MessageSend, &req).await {
        return reply;
    }
    let ip = wire::caller_ip(&req);
    let body = wire::read_body(payload, MAX_BODY).await;
    match handle(&st, &req, body) {
        Ok(answer) => wire::ok_json(answer),
        Err(e) => e.reply(&ip),
    }
}

/// A random id of `len` characters from WeCom's msgid alphabet.
pub(crate) fn random_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

fn handle(st: &Shared, req: &HttpRequest, body: Option<Vec<u8>>) -> Result<Value, WeComError> {
    let agent_id = gate::authorize(st, req)?;
    let body = body.ok_or_else(|| WeComError::new(40206, "request body too large"))?;
    let msg = wire::parse_json_object(&body)?;
    check_agent(&msg, agent_id)?;
    let app = st.config.app(agent_id).ok_or_else(|| WeComError::code(40056))?;
    let msgtype = match msg.get("msgtype") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(WeComError::code(40008)),
    };
    if msgtype == "news" && msg.get("safe").and_then(wire::int_field).unwrap_or(0) != 0 {
        return Err(WeComError::code(40074));
    }
    let (res, named_valid) = recipients::resolve(&st.config, app, &msg)?;
    let checked = {
        let now = st.clock.now();
        let ttl = st.media_ttl();
        let media = |id: &str, kind: &str| st.lock().media_label(id, kind, None, now, ttl);
        validate::app_message(
            &msgtype,
            &msg,
            &Ctx { hard_cap: st.config.text_hard_cap_bytes, media: &media },
        )?
    };
    let mut invalid = Map::new();
    for (field, ids) in [
        ("invaliduser", &res.invalid_user),
        ("invalidparty", &res.invalid_party),
        ("invalidtag", &res.invalid_tag),
    ] {
        invalid.insert(field.into(), json!(ids.join("|")));
    }
    invalid.insert("unlicenseduser".into(), json!(""));
    if !named_valid {
        // Every recipient invalid: nothing is sent (the 81013 errmsg text is UNCONFIRMED).
        let mut e = WeComError::code(81013);
        e.extra = invalid;
        return Err(e);
    }
    let msgid = random_id(60);
    let response_code = checked.interactive.then(|| random_id(64));
    let mut answer = Map::new();
    answer.insert("errcode".into(), json!(0));
    answer.insert("errmsg".into(), json!("ok"));
    answer.extend(invalid);
    answer.insert("msgid".into(), json!(msgid));
    if let Some(code) = &response_code {
        answer.insert("response_code".into(), json!(code));
    }
    let answer = Value::Object(answer);
    let record = Received {
        msgid,
        agentid: agent_id,
        msgtype: msgtype.clone(),
        content: checked.content,
        body: msg.get(&msgtype).cloned().unwrap_or(Value::Null),
        shown: checked.shown,
        truncated: checked.truncated,
        at: st.clock.wall(),
        reason: None,
        recalled: false,
        response_code,
    };
    Ok(deliver(st, &msg, record, &res.users, answer))
}

/// `agentid` is required and must be the token's app; a numeric string is accepted.
fn check_agent(msg: &Map<String, Value>, agent_id: i64) -> Result<(), WeComError> {
    let given = msg.get("agentid").ok_or_else(|| WeComError::code(41011))?;
    let given = wire::int_field(given).ok_or_else(|| WeComError::code(40056))?;
    if given != agent_id {
        return Err(WeComError::code(301002));
    }
    Ok(())
}

/// `enable_duplicate_check` with `duplicate_check_interval` (default 1800 s, at most 4 h).
fn duplicate_interval(msg: &Map<String, Value>) -> Option<Duration> {
    let on = msg.get("enable_duplicate_check").and_then(wire::int_field) == Some(1);
    let secs = msg.get("duplicate_check_interval").and_then(wire::int_field).unwrap_or(1800).clamp(1, 14400);
    on.then(|| Duration::from_secs(secs.unsigned_abs()))
}

/// Records the message for each recipient, or drops it (rate rule, duplicate), and answers.
fn deliver(
    st: &Shared,
    msg: &Map<String, Value>,
    record: Received,
    users: &[String],
    answer: Value,
) -> Value {
    let now = st.clock.now();
    let agent_id = record.agentid;
    let mut inner = st.lock();
    inner.version += 1;
    let dup_key = Value::Object(msg.clone()).to_string();
    if let Some(interval) = duplicate_interval(msg) {
        if let Some(earlier) = inner.duplicates.earlier(agent_id, &dup_key, now, interval) {
            // Not delivered again; what WeCom answers to the repeat is UNCONFIRMED: the first answer.
            let reason = format!(
                "duplicate: identical request within {} s (enable_duplicate_check)",
                interval.as_secs()
            );
            for u in users {
                let mut copy = record.clone();
                copy.reason = Some(reason.clone());
                inner.dropped.entry(u.clone()).or_default().push(copy);
                inner.counters.duplicates += 1;
            }
            return earlier;
        }
        inner.duplicates.remember(agent_id, dup_key, now, answer.clone());
    }
    let (per_min, per_hour) = (st.config.member_per_minute, st.config.member_per_hour);
    for u in users {
        let key = (agent_id, u.to_lowercase());
        match inner.member_windows.admit(key, now, per_min, Some(per_hour)) {
            Ok(()) => {
                inner.inbox.entry(u.clone()).or_default().push(record.clone());
                inner.counters.delivered += 1;
            }
            Err(over) => {
                // "超过部分会被丢弃不下发": dropped silently, the send still answers errcode 0.
                let limit = match over {
                    Over::Minute(n) => format!("{n} messages/minute"),
                    Over::Hour(n) => format!("{n} messages/hour"),
                };
                let mut copy = record.clone();
                copy.reason = Some(format!("rate: over {limit} to this member from app {agent_id}"));
                inner.dropped.entry(u.clone()).or_default().push(copy);
                inner.counters.dropped += 1;
            }
        }
    }
    inner
        .sent
        .insert(record.msgid.clone(), Sent { agent_id, at: now, users: users.to_vec(), recalled: false });
    answer
}
