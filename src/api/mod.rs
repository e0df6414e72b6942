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
use crate::render::Renderer;

/// What every handler may use.
pub struct AppState {
    pub renderer: Renderer,
    pub delivery: Arc<Delivery>,
    pub max_body_bytes: usize,
    pub wait_timeout: Duration,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/notify/{event}", web::post().to(notify::notify))
        .route("/notifications", web::get().to(notifications::list))
        .route("/notifications/{id}", web::get().to(notifications::get))
        .route("/notifications/{id}/retry", web::post().to(notifications::retry))
        .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}: the relay serves POST /notify/{{event}}, GET /notifications[/{{id}}], POST /notifications/{{id}}/retry and GET /healthz",
        req.method(),
        req.path()
    )))
}
