//! The admin API: `GET /notifications/{id}`, `GET /notifications?status=…`,
//! `POST /notifications/{id}/retry`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::Authorized;
use super::error::ApiError;
use crate::delivery::Status;
use crate::delivery::store::Requeue;

fn unknown(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no notification `{id}`: ids come from the 202 answer of POST /notify/{{event}}; sent ones are kept for queue.retention"
    ))
}

pub async fn get(
    _: Authorized,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match state.delivery.get(&id).await? {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(unknown(&id)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    _: Authorized,
    query: Result<web::Query<ListQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.map_err(|e| ApiError::BadRequest(format!("{e}: use ?status=dead&limit=100")))?;
    let status =
        query.status.as_deref().map(str::parse::<Status>).transpose().map_err(ApiError::BadRequest)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let items = state.delivery.list(status, limit).await?;
    Ok(HttpResponse::Ok().json(json!({ "notifications": items })))
}

pub async fn retry(
    _: Authorized,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match state.delivery.retry(&id).await? {
        Requeue::Done => Ok(HttpResponse::Accepted().json(json!({ "id": *id, "status": "queued" }))),
        Requeue::NotFound => Err(unknown(&id)),
        Requeue::NotRetryable(status) => Err(ApiError::Conflict(format!(
            "notification `{id}` is {}: only dead or failed notifications can be retried",
            status.as_str()
        ))),
    }
}
