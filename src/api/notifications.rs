//! `GET /notifications/{id}`: where a notification is in its life.

use actix_web::{HttpResponse, web};

use super::AppState;
use super::auth::Authorized;
use super::error::ApiError;

pub async fn get(
    _: Authorized,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match state.delivery.get(&id).await {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(ApiError::NotFound(format!(
            "no notification `{id}`: ids come from the 202 answer of POST /notify/{{event}} and are kept 24 h"
        ))),
    }
}
