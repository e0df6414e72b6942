//! Reading request bodies: the size limit (413) and the content type (415).

use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::StreamExt;

use super::error::ApiError;

/// What the caller said it sent.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    /// `text/plain`, or curl's default form type for `curl -d 'disk full'` (not URL-decoded: curl
    /// sends `-d` data as it is).
    Text,
}

pub fn kind(req: &HttpRequest) -> Result<BodyKind, ApiError> {
    let mime = req.mime_type().map_err(|_| {
        ApiError::UnsupportedMediaType(
            "the Content-Type header cannot be parsed: send Content-Type: application/json".into(),
        )
    })?;
    let Some(mime) = mime else {
        return Ok(BodyKind::Json);
    };
    match (mime.type_().as_str(), mime.subtype().as_str(), mime.suffix().map(|s| s.as_str())) {
        ("application", "json", _) | (_, _, Some("json")) => Ok(BodyKind::Json),
        ("text", "plain", _) | ("application", "x-www-form-urlencoded", _) => Ok(BodyKind::Text),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {mime} is not accepted: send JSON with Content-Type: application/json \
             (curl: -H 'Content-Type: application/json')"
        ))),
    }
}

/// Reads the whole body, refusing it as soon as it passes `limit` bytes.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
