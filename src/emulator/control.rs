//! The control API under `/_emulator/`: faults, tokens, latency, down, clock, records, reset.
//! It is never subject to faults, latency or "down", so tests can always steer and read.

use super::handle::EmulatorHandle;
use super::model::{Endpoint, Fault, FaultKind};
use super::state::Shared;
use super::wire;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

type St = web::Data<Arc<Shared>>;

fn handle(st: &St) -> EmulatorHandle {
    EmulatorHandle { shared: st.get_ref().clone() }
}

fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}

fn bad(msg: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": msg}))
}

/// `{"endpoint": "message_send" | null, "times": 2, "errcode": 45009}`; instead of `errcode`,
/// one of `"http_status": 502`, `"delay_ms": 3000` or `"drop_connection": true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultDto {
    #[serde(default)]
    endpoint: Option<Endpoint>,
    #[serde(default = "one")]
    times: u32,
    errcode: Option<i64>,
    http_status: Option<u16>,
    delay_ms: Option<u64>,
    #[serde(default)]
    drop_connection: bool,
}

fn one() -> u32 {
    1
}

impl FaultDto {
    fn into_fault(self) -> Result<Fault, &'static str> {
        let kinds = [
            self.errcode.map(FaultKind::Errcode),
            self.http_status.map(FaultKind::HttpStatus),
            self.delay_ms.map(|ms| FaultKind::Delay(Duration::from_millis(ms))),
            self.drop_connection.then_some(FaultKind::DropConnection),
        ];
        let mut given = kinds.into_iter().flatten();
        let kind = given.next().ok_or("give one of errcode, http_status, delay_ms, drop_connection")?;
        if given.next().is_some() {
            return Err("give only one of errcode, http_status, delay_ms, drop_connection");
        }
        if let FaultKind::HttpStatus(s) = kind {
            if !(100..=599).contains(&s) {
                return Err("http_status must be 100..=599");
            }
        }
        Ok(Fault { endpoint: self.endpoint, kind, times: self.times })
    }
}

fn fault_json(f: &Fault) -> Value {
    let kind = match &f.kind {
        FaultKind::Errcode(c) => json!({"errcode": c}),
        FaultKind::HttpStatus(s) => json!({"http_status": s}),
        FaultKind::Delay(d) => json!({"delay_ms": d.as_millis() as u64}),
        FaultKind::DropConnection => json!({"drop_connection": true}),
    };
    json!({"endpoint": f.endpoint, "times": f.times, "kind": kind})
}

async fn push_fault(st: St, body: web::Bytes) -> HttpResponse {
    let dto: FaultDto = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return bad(&format!("bad fault: {e}")),
    };
    match dto.into_fault() {
        Ok(f) => {
            handle(&st).push_fault(f);
            ok()
        }
        Err(e) => bad(e),
    }
}

async fn list_faults(st: St) -> HttpResponse {
    let list: Vec<Value> = handle(&st).pending_faults().iter().map(fault_json).collect();
    HttpResponse::Ok().json(list)
}

async fn clear_faults(st: St) -> HttpResponse {
    handle(&st).clear_faults();
    ok()
}

/// `{"ms": 250}` (or `{"secs": n}`), used by latency and clock/advance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DurationDto {
    ms: Option<u64>,
    secs: Option<u64>,
}

fn duration(body: &[u8]) -> Result<Duration, String> {
    let dto: DurationDto = serde_json::from_slice(body)
        .map_err(|e| format!("expected {{\"ms\": n}} or {{\"secs\": n}}: {e}"))?;
    match (dto.ms, dto.secs) {
        (Some(ms), None) => Ok(Duration::from_millis(ms)),
        (None, Some(s)) => Ok(Duration::from_secs(s)),
        _ => Err("give exactly one of ms, secs".into()),
    }
}

async fn latency(st: St, body: web::Bytes) -> HttpResponse {
    match duration(&body) {
        Ok(d) => {
            handle(&st).set_latency(d);
            ok()
        }
        Err(e) => bad(&e),
    }
}

async fn advance(st: St, body: web::Bytes) -> HttpResponse {
    match duration(&body) {
        Ok(d) => {
            handle(&st).advance_clock(d);
            ok()
        }
        Err(e) => bad(&e),
    }
}

/// `?user=ID` → that member's list; without it, every member's lists by userid.
fn per_user(st: &St, req: &HttpRequest, dropped: bool) -> HttpResponse {
    let h = handle(st);
    match (wire::query(req, "user"), dropped) {
        (Some(user), false) => HttpResponse::Ok().json(h.received(&user)),
        (Some(user), true) => HttpResponse::Ok().json(h.dropped(&user)),
        (None, false) => HttpResponse::Ok().json(h.all_received()),
        (None, true) => HttpResponse::Ok().json(h.all_dropped()),
    }
}

async fn messages(st: St, req: HttpRequest) -> HttpResponse {
    per_user(&st, &req, false)
}

async fn dropped(st: St, req: HttpRequest) -> HttpResponse {
    per_user(&st, &req, true)
}

async fn robots(st: St, req: HttpRequest) -> HttpResponse {
    match wire::query(&req, "key") {
        Some(key) => HttpResponse::Ok().json(handle(&st).robot_messages(&key)),
        None => HttpResponse::Ok().json(&st.lock().robot),
    }
}

async fn counters(st: St) -> HttpResponse {
    HttpResponse::Ok().json(handle(&st).counters())
}

/// Registers the control routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_emulator")
            .route("/faults", web::post().to(push_fault))
            .route("/faults", web::get().to(list_faults))
            .route("/faults", web::delete().to(clear_faults))
            .route(
                "/tokens/revoke",
                web::post().to(|st: St| async move {
                    handle(&st).revoke_tokens();
                    ok()
                }),
            )
            .route(
                "/tokens/expire",
                web::post().to(|st: St| async move {
                    handle(&st).expire_tokens();
                    ok()
                }),
            )
            .route("/latency", web::post().to(latency))
            .route(
                "/down",
                web::post().to(|st: St| async move {
                    handle(&st).set_down(true);
                    ok()
                }),
            )
            .route(
                "/up",
                web::post().to(|st: St| async move {
                    handle(&st).set_down(false);
                    ok()
                }),
            )
            .route("/clock/advance", web::post().to(advance))
            .route("/messages", web::get().to(messages))
            .route("/dropped", web::get().to(dropped))
            .route("/robots", web::get().to(robots))
            .route("/counters", web::get().to(counters))
            .route(
                "/reset",
                web::post().to(|st: St| async move {
                    handle(&st).reset();
                    ok()
                }),
            ),
    );
}
