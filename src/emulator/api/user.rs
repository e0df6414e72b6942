//! `GET /cgi-bin/user/get`: one member, as an app sees it. An app reads only members inside its
//! visible range (60011 otherwise); an unknown userid is 60111. Since 2022 WeCom returns few
//! fields to apps (no mobile, email or avatar); the emulator returns the userid, name and
//! departments.

use crate::emulator::gate;
use crate::emulator::model::Endpoint;
use crate::emulator::recipients::visible_users;
use crate::emulator::state::Shared;
use crate::emulator::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn user_get(req: HttpRequest, st: web::Data<Arc<Shared>>) -> HttpResponse {
    if let Some(reply) = gate::enter(&st, Endpoint::UserGet, &req).await {
        return reply;
    }
    match describe(&st, &req) {
        Ok(body) => wire::ok_json(body),
        Err(e) => e.reply(&wire::caller_ip(&req)),
    }
}

fn describe(st: &Shared, req: &HttpRequest) -> Result<Value, WeComError> {
    let own = gate::authorize(st, req)?;
    let userid =
        wire::query(req, "userid").filter(|u| !u.trim().is_empty()).ok_or_else(|| WeComError::code(41009))?;
    // Member ids are case-insensitive.
    let member = st
        .config
        .members
        .iter()
        .find(|m| m.userid.eq_ignore_ascii_case(userid.trim()))
        .ok_or_else(|| WeComError::code(60111))?;
    let app = st.config.app(own).ok_or_else(|| WeComError::code(40056))?;
    if !visible_users(&st.config, app).contains(&member.userid.to_lowercase()) {
        return Err(WeComError::code(60011));
    }
    Ok(json!({
        "errcode": 0,
        "errmsg": "ok",
        "userid": member.userid,
        "name": member.name,
        "department": member.department,
    }))
}
