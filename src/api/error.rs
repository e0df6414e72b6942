//! `ApiError`: every error the HTTP API answers, mapped once to a status and a JSON body that says
//! what is wrong and how to fix it.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::delivery::Failure;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("the body is larger than server.max_body_bytes ({0} bytes): send less, or raise the limit")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Unavailable { message: String, retry_after_secs: u64 },
    #[error("WeCom refused notification {id}: {}", failure.error)]
    DeliveryFailed { id: String, failure: Box<Failure>, targets: Vec<serde_json::Value> },
    #[error(
        "notification {id} was not delivered within server.wait_timeout; the relay keeps trying: GET /notifications/{id} shows its progress"
    )]
    WaitTimedOut { id: String, targets: Vec<serde_json::Value> },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
}

impl From<crate::delivery::store::StoreError> for ApiError {
    fn from(e: crate::delivery::store::StoreError) -> Self {
        log::error!("{e}");
        ApiError::Unavailable {
            message: format!("{e}: the relay cannot use its queue right now; try again shortly"),
            retry_after_secs: 5,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::DeliveryFailed { .. } => StatusCode::BAD_GATEWAY,
            ApiError::WaitTimedOut { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let mut body = json!({ "error": self.to_string() });
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::Unavailable { retry_after_secs, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::DeliveryFailed { id, failure, targets } => {
                body["targets"] = json!(targets);
                body["id"] = json!(id);
                body["status"] = json!("failed");
                body["errcode"] = json!(failure.errcode);
                body["errmsg"] = json!(failure.errmsg);
                body["hint"] = json!(failure.hint);
            }
            ApiError::WaitTimedOut { id, targets } => {
                body["id"] = json!(id);
                body["targets"] = json!(targets);
            }
            _ => {}
        }
        response.json(body)
    }
}
