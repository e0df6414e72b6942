//! Bearer-token authentication for `/notify/*` and the admin API, compared in constant time.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// The accepted tokens. Empty means no authentication (allowed only on loopback, see config).
pub struct AuthTokens(pub Vec<SecretString>);

impl AuthTokens {
    fn accepts(&self, presented: &str) -> bool {
        // Every token is compared, so the time taken does not tell which one nearly matched.
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |found, t| {
                found | t.expose_secret().as_bytes().ct_eq(presented.as_bytes())
            })
            .into()
    }
}

/// Extractor that admits a request only with a valid `Authorization: Bearer` token.
pub struct Authorized;

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let tokens = req.app_data::<web::Data<AuthTokens>>().expect("AuthTokens registered");
        if tokens.0.is_empty() {
            return ready(Ok(Authorized));
        }
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        ready(match presented {
            None => Err(ApiError::Unauthorized(
                "missing bearer token: send `Authorization: Bearer <token>` with one of server.auth_tokens",
            )),
            Some(t) if tokens.accepts(t.trim()) => Ok(Authorized),
            Some(_) => {
                Err(ApiError::Unauthorized("wrong bearer token: use one of the relay's server.auth_tokens"))
            }
        })
    }
}
