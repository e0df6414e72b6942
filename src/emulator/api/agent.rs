//! `GET /cgi-bin/agent/get`: the app's own details and visible range.

use crate::emulator::gate;
use crate::emulator::model::Endpoint;
use crate::emulator::state::Shared;
use crate::emulator::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn agent_get(req: HttpRequest, st: web::Data<Arc<Shared>>) -> HttpResponse {
    if let Some(reply) = gate::enter(&st, Endpoint::AgentGet, &req).await {
        return reply;
    }
    match describe(&st, &req) {
        Ok(body) => wire::ok_json(body),
        Err(e) => e.reply(&wire::caller_ip(&req)),
    }
}

fn describe(st: &Shared, req: &HttpRequest) -> Result<Value, WeComError> {
    let own = gate::authorize(st, req)?;
    let raw = wire::query(req, "agentid").ok_or_else(|| WeComError::code(41011))?;
    let asked: i64 = raw.trim().parse().map_err(|_| WeComError::code(40056))?;
    // A token reads only its own app (301002 for another agentid is UNCONFIRMED but expected).
    if asked != own {
        return Err(WeComError::code(301002));
    }
    let app = st.config.app(own).ok_or_else(|| WeComError::code(40056))?;
    let users: Vec<Value> = app.allow_users.iter().map(|u| json!({ "userid": u })).collect();
    Ok(json!({
        "errcode": 0,
        "errmsg": "ok",
        "agentid": app.agent_id,
        "name": app.name,
        "square_logo_url": "https://p.qlogo.cn/bizmail/emulator/0",
        "description": format!("{} (emulated)", app.name),
        "allow_userinfos": { "user": users },
        "allow_partys": { "partyid": app.allow_parties },
        "allow_tags": { "tagid": app.allow_tags },
        "close": 0,
        "redirect_domain": "",
        "report_location_flag": 0,
        "isreportenter": 0,
        "home_url": "",
        "customized_publish_status": 0,
    }))
}
