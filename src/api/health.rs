//! `GET /healthz` (the process serves), `GET /readyz` (it can deliver: a token can be had and the
//! queue takes writes) and `GET /metrics` (Prometheus text format).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut problems = Vec::new();
    if let Err(e) = state.client.check_token().await {
        problems.push(format!("no WeCom access_token: {e}; fix: {}", e.hint()));
    }
    if let Err(e) = state.delivery.ping().await {
        problems.push(format!("the queue does not take writes: {e}"));
    }
    if problems.is_empty() {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, "10"))
            .json(json!({ "status": "not ready", "error": problems.join("; "), "problems": problems }))
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = state.delivery.refresh_gauges().await {
        log::warn!("queue gauges not refreshed: {e}");
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}
