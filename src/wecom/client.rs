//! `WeComClient`: the one place that calls WeCom. It owns the HTTP client, the app's secret and
//! its token cache, and turns WeCom's "HTTP 200 with errcode" answers into typed errors.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::WeComError;
use super::body::MsgType;
use super::errcode::ErrorClass;
use super::message::{AgentInfo, AgentResponse, Message, SendReceipt, SendResponse, send_request};
use super::redact::redact;
use super::token::{AccessToken, TokenCache, TokenKey};
use crate::config::WeComSettings;
use crate::metrics::Metrics;

/// After `gettoken` fails for a reason only the operator can fix (wrong secret, untrusted IP),
/// the relay does not ask again for this long: a wrong secret repeated gets the IP banned for
/// an hour (DOC 90313, 45009).
const GETTOKEN_REFUSAL_PAUSE: Duration = Duration::from_secs(30);

/// How one send is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendOptions {
    /// Ask WeCom to drop an identical request seen within this window (`enable_duplicate_check`);
    /// set on a resend after an ambiguous outcome. WeCom caps the window at 4 h.
    pub duplicate_check: Option<Duration>,
}

pub struct WeComClient {
    pub(super) http: reqwest::Client,
    pub(super) api_base: url::Url,
    pub(super) key: TokenKey,
    pub(super) secret: SecretString,
    refresh_margin: Duration,
    tokens: TokenCache,
    last_refusal: Mutex<Option<(Instant, WeComError)>>,
    /// media_id by content, for image and file messages (a media_id lasts 3 days).
    pub(super) media: moka::future::Cache<(MsgType, String), String>,
    pub(super) metrics: Arc<Metrics>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default = "default_expires_in")]
    expires_in: u64,
}

fn default_expires_in() -> u64 {
    7200
}

impl WeComClient {
    pub fn new(
        cfg: &WeComSettings,
        secret: SecretString,
        metrics: Arc<Metrics>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .user_agent(concat!("wecom-relay/", env!("CARGO_PKG_VERSION")))
            // WeCom never redirects an API call; following one could send the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut api_base = cfg.api_base.clone();
        if !api_base.path().ends_with('/') {
            api_base.set_path(&format!("{}/", api_base.path()));
        }
        Ok(WeComClient {
            http,
            api_base,
            key: (cfg.corp_id.clone(), cfg.agent_id),
            secret,
            refresh_margin: cfg.token_refresh_margin,
            tokens: TokenCache::new(),
            last_refusal: Mutex::new(None),
            media: super::media::cache(),
            metrics,
        })
    }

    /// Sends one app message. A token WeCom refuses (40001/40014/42001) is dropped and the send
    /// is made once more with a fresh one; a cached media_id WeCom no longer knows (40007) is
    /// uploaded again once; any other failure is returned for the caller to retry or report.
    pub async fn send(&self, msg: &Message, opts: SendOptions) -> Result<SendReceipt, WeComError> {
        // WeCom's window is in seconds, at most 4 h.
        let window = opts.duplicate_check.map(|d| d.as_secs().clamp(1, 4 * 3600) as u32);
        let response = match self.send_once(msg, window).await {
            Err(e) if e.errcode() == Some(40007) && self.forget_media(&msg.body).await => {
                log::info!("WeCom no longer knows the cached media_id (40007); uploading again");
                self.send_once(msg, window).await?
            }
            other => other?,
        };
        let receipt = SendReceipt::from(response);
        if receipt.has_invalid() {
            log::warn!(
                "WeCom accepted msgid {} but could not reach: users {:?}, parties {:?}, tags {:?}, unlicensed {:?}",
                receipt.msgid,
                receipt.invalid_users,
                receipt.invalid_parties,
                receipt.invalid_tags,
                receipt.unlicensed_users
            );
        }
        Ok(receipt)
    }

    async fn send_once(&self, msg: &Message, window: Option<u32>) -> Result<SendResponse, WeComError> {
        let token = self.token().await?;
        let media = self.app_media(&msg.body, &token).await?;
        let body = send_request(msg, self.key.1, window, media.as_deref());
        match self.post("message/send", &token, &body).await {
            Err(e) if e.class() == ErrorClass::RefreshToken => {
                log::info!(
                    "WeCom refused the access_token (errcode {:?}); fetching a new one and resending once",
                    e.errcode()
                );
                self.tokens.invalidate_if_current(&self.key, &token).await;
                let token = self.token().await?;
                // A second refusal right after a fresh token is not cured by a third token:
                // leave it to the retry schedule.
                self.post("message/send", &token, &body).await.map_err(demote_token_error)
            }
            other => other,
        }
    }

    /// The app as WeCom sees it (`agent/get`): its name, whether it is enabled, its visible range.
    pub async fn agent(&self) -> Result<AgentInfo, WeComError> {
        let token = self.token().await?;
        let request = self
            .http
            .get(self.url("cgi-bin/agent/get"))
            .query(&[("access_token", token.expose()), ("agentid", &self.key.1.to_string())]);
        let raw: AgentResponse = self.call("agent/get", request, Some(token.expose())).await?;
        Ok(raw.into())
    }

    /// Looks a member up (`user/get`); 60011 means outside the app's visible range, 60111 unknown.
    pub async fn member_departments(&self, userid: &str) -> Result<Vec<i64>, WeComError> {
        #[derive(Deserialize)]
        struct Member {
            #[serde(default)]
            department: Vec<i64>,
        }
        let token = self.token().await?;
        let request = self
            .http
            .get(self.url("cgi-bin/user/get"))
            .query(&[("access_token", token.expose()), ("userid", userid)]);
        let member: Member = self.call("user/get", request, Some(token.expose())).await?;
        Ok(member.department)
    }

    /// Whether a token can be had (from the cache, or WeCom): for readiness checks.
    pub async fn check_token(&self) -> Result<(), WeComError> {
        self.token().await.map(drop)
    }

    pub(super) async fn token(&self) -> Result<Arc<AccessToken>, WeComError> {
        self.tokens.get_or_fetch(&self.key, self.fetch_token()).await
    }

    async fn fetch_token(&self) -> Result<AccessToken, WeComError> {
        if let Some((at, err)) = &*self.last_refusal.lock().expect("poisoned") {
            if at.elapsed() < GETTOKEN_REFUSAL_PAUSE {
                return Err(WeComError::TokenBackoff {
                    errcode: err.errcode().unwrap_or(0),
                    hint: err.hint(),
                });
            }
        }
        let url = self.url("cgi-bin/gettoken");
        let request = self
            .http
            .get(url)
            .query(&[("corpid", self.key.0.as_str()), ("corpsecret", self.secret.expose_secret())]);
        let result: Result<TokenResponse, WeComError> = self.call("gettoken", request, None).await;
        match result {
            Ok(t) => {
                log::debug!(
                    "gettoken for corp {} app {}: ok, expires_in {} s",
                    self.key.0,
                    self.key.1,
                    t.expires_in
                );
                Ok(AccessToken::new(t.access_token, Duration::from_secs(t.expires_in), self.refresh_margin))
            }
            Err(e) => {
                log::warn!(
                    "gettoken for corp {} app {} failed: {e}; fix: {}",
                    self.key.0,
                    self.key.1,
                    e.hint()
                );
                if e.class() == ErrorClass::Permanent && e.errcode().is_some() {
                    *self.last_refusal.lock().expect("poisoned") = Some((Instant::now(), e.clone()));
                }
                Err(e)
            }
        }
    }

    async fn post<B: serde::Serialize, R: DeserializeOwned>(
        &self,
        api: &'static str,
        token: &AccessToken,
        body: &B,
    ) -> Result<R, WeComError> {
        // WeCom takes the token only in the query string ("access_token需要拼接在URL中", 41001).
        let request = self
            .http
            .post(self.url(&format!("cgi-bin/{api}")))
            .query(&[("access_token", token.expose())])
            .json(body);
        self.call(api, request, Some(token.expose())).await
    }

    pub(super) fn url(&self, path: &str) -> url::Url {
        self.api_base.join(path).expect("static API path")
    }

    /// Makes the call and reads WeCom's envelope: HTTP status, then `errcode` (which may be missing
    /// on success), then the typed body.
    /// Makes a call; `hidden` (a token or a robot key in the URL) is scrubbed from any error
    /// text, as is the app secret.
    pub(super) async fn call<R: DeserializeOwned>(
        &self,
        api: &'static str,
        request: reqwest::RequestBuilder,
        hidden: Option<&str>,
    ) -> Result<R, WeComError> {
        let started = Instant::now();
        let result = self.exchange(api, request, hidden, started).await;
        self.metrics.observe_call(api, result.is_ok(), started.elapsed());
        result
    }

    async fn exchange<R: DeserializeOwned>(
        &self,
        api: &'static str,
        request: reqwest::RequestBuilder,
        hidden: Option<&str>,
        started: Instant,
    ) -> Result<R, WeComError> {
        let scrub = |text: &str| {
            let mut secrets = vec![self.secret.expose_secret()];
            secrets.extend(hidden);
            redact(text, &secrets)
        };
        let response = request.send().await.map_err(|e| transport_error(api, e, &scrub))?;
        let status = response.status();
        if !status.is_success() {
            log::debug!("WeCom {api}: HTTP {status} after {:?}", started.elapsed());
            return Err(WeComError::Http { api, status: status.as_u16() });
        }
        let bytes = response.bytes().await.map_err(|e| transport_error(api, e, &scrub))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| WeComError::Decode { api, detail: e.to_string() })?;
        let errcode = match value.get("errcode") {
            None | Some(Value::Null) => 0,
            Some(Value::String(s)) => s.trim().parse().unwrap_or(-1),
            Some(v) => v.as_i64().unwrap_or(-1),
        };
        log::debug!("WeCom {api}: errcode {errcode} after {:?}", started.elapsed());
        if errcode != 0 {
            let errmsg = value.get("errmsg").and_then(Value::as_str).unwrap_or_default();
            return Err(WeComError::api(api, errcode, scrub(errmsg)));
        }
        serde_json::from_value(value).map_err(|e| WeComError::Decode { api, detail: e.to_string() })
    }
}

/// reqwest's errors name the URL, which carries the secret or the token: drop it, keep the cause.
fn transport_error(api: &'static str, e: reqwest::Error, scrub: &dyn Fn(&str) -> String) -> WeComError {
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    let detail = scrub(&detail);
    if e.is_connect() {
        WeComError::Connect { api, detail }
    } else {
        // A timeout or a connection lost after the request went out: WeCom may have acted on it.
        WeComError::Timeout { api, detail }
    }
}

fn demote_token_error(e: WeComError) -> WeComError {
    match e {
        WeComError::Api { api, errcode, errmsg, class: ErrorClass::RefreshToken, hint } => {
            WeComError::Api { api, errcode, errmsg, class: ErrorClass::RetryLater, hint }
        }
        other => other,
    }
}
