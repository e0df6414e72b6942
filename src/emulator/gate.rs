//! What happens to every WeCom call before its handler: counting, "down", latency, faults,
//! the token check and the app's trusted-IP list.

use super::model::{Endpoint, FaultKind};
use super::state::Shared;
use super::tokens::TokenError;
use super::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse};
use std::net::IpAddr;

/// Counts the call, then applies "down", the global latency and the next matching fault.
/// `Some(reply)` means the call ends here with that reply.
pub(crate) async fn enter(st: &Shared, ep: Endpoint, req: &HttpRequest) -> Option<HttpResponse> {
    let (down, latency, fault) = {
        let mut inner = st.lock();
        inner.count(ep);
        let fault = if inner.down { None } else { inner.take_fault(ep) };
        (inner.down, inner.latency, fault)
    };
    if down {
        return Some(wire::dropped_connection());
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault?.kind {
        FaultKind::Errcode(code) => Some(WeComError::code(code).reply(&wire::caller_ip(req))),
        FaultKind::HttpStatus(status) => Some(wire::status_only(status)),
        FaultKind::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
        FaultKind::DropConnection => Some(wire::dropped_connection()),
    }
}

/// Checks the `access_token` query parameter and the app's trusted IPs; returns the agent id.
pub(crate) fn authorize(st: &Shared, req: &HttpRequest) -> Result<i64, WeComError> {
    // A token in a header or the body does not count: WeCom only reads the URL.
    let token = wire::query(req, "access_token").ok_or_else(|| WeComError::code(41001))?;
    let agent_id = st.lock().tokens.check(&token, st.clock.now()).map_err(|e| match e {
        TokenError::Invalid => WeComError::code(40014),
        TokenError::Expired => WeComError::code(42001),
    })?;
    let trusted = st.config.app(agent_id).and_then(|a| a.trusted_ips.as_ref());
    if let Some(list) = trusted {
        let ip = req.peer_addr().map(|a| a.ip());
        if !ip.is_some_and(|ip| list.iter().any(|t| same_ip(*t, ip))) {
            return Err(WeComError::code(60020));
        }
    }
    Ok(agent_id)
}

/// IPv4 and its IPv4-mapped IPv6 form are the same caller.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a == b || a.to_canonical() == b.to_canonical()
}
