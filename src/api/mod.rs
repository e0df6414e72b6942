//! The HTTP API: routes, shared state, authentication and the one error type.

mod auth;
mod body;
mod error;
mod health;
mod notifications;
mod notify;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, web};

pub use auth::AuthTokens;
pub use error::ApiError;

use crate::delivery::Delivery;
use crate::metrics::{Metrics, StatusLabel};
use crate::render::Renderer;
use crate::wecom::WeComClient;

/// What every handler may use.
pub struct AppState {
    pub renderer: Renderer,
    pub client: Arc<WeComClient>,
    pub metrics: Arc<Metrics>,
    pub delivery: Arc<Delivery>,
    pub max_body_bytes: usize,
    pub wait_timeout: Duration,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/notify/{event}", web::post().to(notify::notify))
        .route("/notifications", web::get().to(notifications::list))
        .route("/notifications/{id}", web::get().to(notifications::get))
        .route("/notifications/{id}/retry", web::post().to(notifications::retry))
        .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}: the relay serves POST /notify/{{event}}, GET /notifications[/{{id}}], POST /notifications/{{id}}/retry, GET /healthz, /readyz and /metrics",
        req.method(),
        req.path()
    )))
}

/// Middleware: counts every response by status for `/metrics`.
pub async fn count_responses(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<AppState>>().map(|s| s.metrics.clone());
    let response = next.call(req).await?;
    if let Some(m) = metrics {
        m.responses.get_or_create(&StatusLabel { status: response.status().as_u16() }).inc();
    }
    Ok(response)
}
