//! `POST /notify/{event}`: parse, validate, render, hand to delivery, answer 202 (or the outcome
//! with `?wait=true`). Handlers never build WeCom JSON and never wait on WeCom unless asked to.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::Authorized;
use super::body::{self, BodyKind};
use super::error::ApiError;
use crate::delivery::{NewNotification, Outcome, SubmitError};
use crate::render::{Overrides, RenderError};
use crate::wecom::{MsgType, Recipients};

/// The manual alert's own fields; anything else in the body is template context.
#[derive(Deserialize)]
struct AlertFields {
    msgtype: Option<MsgType>,
    to_user: Option<Vec<String>>,
    to_party: Option<Vec<String>>,
    to_tag: Option<Vec<String>>,
}

pub async fn notify(
    _: Authorized,
    req: HttpRequest,
    event: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let event = event.into_inner();
    if !state.renderer.knows(&event) {
        return Err(ApiError::NotFound(format!(
            "unknown event `{event}`: known events are {} (add more under [events.<name>] in config.toml)",
            state.renderer.event_names().join(", ")
        )));
    }
    let wait = wants_wait(req.query_string())?;
    let idempotency_key = idempotency_key(&req)?;
    let kind = body::kind(&req)?;
    let bytes = body::read_limited(&req, payload, state.max_body_bytes).await?;
    let context = match kind {
        BodyKind::Json => parse_object(&bytes)?,
        BodyKind::Text if event == "alert" => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| ApiError::BadRequest("the text body is not valid UTF-8".into()))?;
            json!({ "content": text.trim_end_matches(['\r', '\n']) })
        }
        BodyKind::Text => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "event `{event}` takes a JSON object: send Content-Type: application/json \
                 (curl: -H 'Content-Type: application/json'); only `alert` also takes text/plain"
            )));
        }
    };
    for path in state.renderer.required_fields(&event) {
        require_string(&context, path)?;
    }
    let overrides = if event == "alert" { alert_overrides(&context)? } else { Overrides::default() };
    let rendered = state.renderer.render(&event, &context, overrides).map_err(|e| match e {
        RenderError::Invalid(detail) => ApiError::BadRequest(format!("event {event}: {detail}")),
        RenderError::Template { .. } => {
            log::error!("rendering event {event} failed: {e}");
            ApiError::Internal(format!(
                "{e}: fix the template (check it with `wecom-relay render {event} --data '<json>'`)"
            ))
        }
    })?;
    let targets: Vec<String> = rendered.iter().map(|r| r.destination.describe()).collect();
    let notifications = rendered
        .into_iter()
        .map(|r| NewNotification {
            event: event.clone(),
            destination: r.destination,
            body: r.body,
            summary: r.summary,
            label: r.label,
            idempotency_key: idempotency_key.clone(),
        })
        .collect();
    let accepted = state.delivery.submit(notifications).await.map_err(|e| match e {
        SubmitError::Store(e) => ApiError::from(e),
        other => {
            ApiError::Unavailable { message: format!("{other}; try again shortly"), retry_after_secs: 5 }
        }
    })?;
    let Some(head) = accepted.first() else {
        return Err(ApiError::Internal(format!("event {event} rendered no message: check its targets")));
    };
    let (first, duplicate) = (head.id.clone(), head.duplicate);
    if !wait {
        let list: Vec<Value> =
            accepted.iter().zip(&targets).map(|(a, t)| json!({ "id": a.id, "target": t })).collect();
        return Ok(HttpResponse::Accepted().json(json!({
            "id": first,
            "status": "queued",
            "duplicate": duplicate,
            "targets": list,
        })));
    }
    let outcomes = futures_util::future::join_all(
        accepted.iter().map(|a| state.delivery.wait(&a.id, state.wait_timeout)),
    )
    .await;
    let list: Vec<Value> = accepted
        .iter()
        .zip(&targets)
        .zip(&outcomes)
        .map(|((a, target), outcome)| match outcome {
            Some(Outcome::Sent { receipt, held_for }) => json!({
                "id": a.id, "target": target, "status": "sent",
                "msgid": Some(&receipt.msgid).filter(|m| !m.is_empty()),
                "invalid_users": receipt.invalid_users, "held_for": held_for,
            }),
            Some(Outcome::Failed(f)) => json!({
                "id": a.id, "target": target, "status": "failed",
                "errcode": f.errcode, "errmsg": f.errmsg, "error": f.error, "hint": f.hint,
            }),
            None => json!({ "id": a.id, "target": target, "status": "pending" }),
        })
        .collect();
    if let Some(failure) = outcomes.iter().find_map(|o| match o {
        Some(Outcome::Failed(f)) => Some(f.clone()),
        _ => None,
    }) {
        return Err(ApiError::DeliveryFailed { id: first, failure: Box::new(failure), targets: list });
    }
    if outcomes.iter().any(Option::is_none) {
        return Err(ApiError::WaitTimedOut { id: first, targets: list });
    }
    // The first target's receipt at the top, as a single-target caller expects it.
    let Some(Some(Outcome::Sent { receipt, held_for })) = outcomes.into_iter().next() else {
        return Err(ApiError::Internal("no outcome for the first target".into()));
    };
    Ok(HttpResponse::Ok().json(json!({
        "id": first,
        "status": "sent",
        "msgid": Some(receipt.msgid).filter(|m| !m.is_empty()),
        "invalid_users": receipt.invalid_users,
        "invalid_parties": receipt.invalid_parties,
        "invalid_tags": receipt.invalid_tags,
        "unlicensed_users": receipt.unlicensed_users,
        "held_for": held_for,
        "targets": list,
    })))
}

fn wants_wait(query: &str) -> Result<bool, ApiError> {
    let mut wait = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match (&*key, &*value) {
            ("wait", "true" | "1" | "") => wait = true,
            ("wait", "false" | "0") => wait = false,
            ("wait", other) => {
                return Err(ApiError::BadRequest(format!(
                    "wait={other} is not understood: use wait=true or wait=false"
                )));
            }
            (other, _) => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter `{other}`: only `wait` is accepted"
                )));
            }
        }
    }
    Ok(wait)
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= 255);
    key.map(|k| Some(k.to_owned()))
        .ok_or_else(|| ApiError::BadRequest("Idempotency-Key must be 1-255 visible ASCII characters".into()))
}

fn parse_object(bytes: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON ({e}): send a JSON object")))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(format!(
            "the body must be a JSON object, got {}: e.g. {{\"user\": {{\"username\": \"alice\"}}}}",
            kind_of(&value)
        )));
    }
    Ok(value)
}

/// Checks that the dotted `path` is a non-empty string, naming the first part that is not.
fn require_string(context: &Value, path: &str) -> Result<(), ApiError> {
    let mut current = context;
    let mut walked = String::new();
    for part in path.split('.') {
        if !walked.is_empty() {
            if current.is_null() {
                break;
            }
            if !current.is_object() {
                return Err(ApiError::BadRequest(format!(
                    "`{walked}` must be a JSON object holding `{part}`, got {}",
                    kind_of(current)
                )));
            }
            walked.push('.');
        }
        walked.push_str(part);
        current = current.get(part).unwrap_or(&Value::Null);
    }
    match current {
        Value::String(s) if !s.trim().is_empty() => Ok(()),
        Value::String(_) => {
            Err(ApiError::BadRequest(format!("`{path}` is empty: it must be a non-empty string")))
        }
        Value::Null => Err(ApiError::BadRequest(format!("`{path}` is required: a non-empty string"))),
        other => Err(ApiError::BadRequest(format!("`{path}` must be a string, got {}", kind_of(other)))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn alert_overrides(context: &Value) -> Result<Overrides, ApiError> {
    let fields: AlertFields = serde_json::from_value(context.clone())
        .map_err(|e| ApiError::BadRequest(format!("alert: {e} (msgtype is \"text\" or \"markdown\"; to_user, to_party, to_tag are arrays of strings)")))?;
    let recipients = match (&fields.to_user, &fields.to_party, &fields.to_tag) {
        (None, None, None) => None,
        (u, p, t) => {
            let none = Vec::new();
            let r = Recipients::new(
                u.as_ref().unwrap_or(&none),
                p.as_ref().unwrap_or(&none),
                t.as_ref().unwrap_or(&none),
            )
            .map_err(|e| ApiError::BadRequest(format!("alert: {e}")))?;
            Some(r)
        }
    };
    Ok(Overrides { msgtype: fields.msgtype, recipients })
}
