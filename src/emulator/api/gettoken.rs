//! `GET /cgi-bin/gettoken`: corp id and app secret in, the app's access_token out.

use crate::emulator::gate;
use crate::emulator::model::Endpoint;
use crate::emulator::state::Shared;
use crate::emulator::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use std::sync::Arc;

pub(crate) async fn gettoken(req: HttpRequest, st: web::Data<Arc<Shared>>) -> HttpResponse {
    if let Some(reply) = gate::enter(&st, Endpoint::GetToken, &req).await {
        return reply;
    }
    let ip = wire::caller_ip(&req);
    match issue(&st, &req) {
        Ok((token, expires_in)) => wire::ok_json(json!({
            "errcode": 0,
            "errmsg": "ok",
            "access_token": token,
            "expires_in": expires_in,
        })),
        Err(e) => e.reply(&ip),
    }
}

/// Trusted IPs are not enforced here: whether WeCom does so for gettoken is UNCONFIRMED.
fn issue(st: &Shared, req: &HttpRequest) -> Result<(String, u64), WeComError> {
    // WeCom checks corpsecret before corpid: with neither, the answer is 41004.
    let secret = wire::query(req, "corpsecret").ok_or_else(|| WeComError::code(41004))?;
    let corp_id = wire::query(req, "corpid").ok_or_else(|| WeComError::code(41002))?;
    if corp_id != st.config.corp_id {
        return Err(WeComError::code(40013));
    }
    let app = st.config.apps.iter().find(|a| a.secret == secret).ok_or_else(|| WeComError::code(40001))?;
    let mut inner = st.lock();
    let (token, left, fresh) = inner.tokens.get_or_issue(app.agent_id, st.clock.now(), st.token_ttl());
    if fresh {
        inner.counters.tokens_issued += 1;
    }
    Ok((token, left.as_secs()))
}
