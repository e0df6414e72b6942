//! The access_token type and its cache: one token per (corp, app), shared by every send, fetched
//! by a single `gettoken` however many sends miss at once, and dropped early only when it fails.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use moka::ops::compute::Op;
use secrecy::{ExposeSecret, SecretString};

use super::WeComError;

/// A token as WeCom issued it. `Debug` never shows the value.
pub struct AccessToken {
    value: SecretString,
    /// How long the cache may serve it: WeCom's `expires_in` minus a safety margin.
    lifetime: Duration,
}

impl AccessToken {
    /// `expires_in` is WeCom's validity (7200 s); the token is dropped `margin` earlier so that a
    /// send never races its expiry. The margin is capped at half the validity.
    pub fn new(value: String, expires_in: Duration, margin: Duration) -> Self {
        let margin = margin.min(expires_in / 2);
        AccessToken { value: SecretString::from(value), lifetime: expires_in - margin }
    }

    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("value", &"[redacted]").field("lifetime", &self.lifetime).finish()
    }
}

/// Cache key: tokens belong to one app of one corp (two apps of a corp have different tokens,
/// and using one app's token for another gets 301002).
pub type TokenKey = (String, i64);

struct ByLifetime;

impl Expiry<TokenKey, Arc<AccessToken>> for ByLifetime {
    fn expire_after_create(&self, _: &TokenKey, token: &Arc<AccessToken>, _: Instant) -> Option<Duration> {
        Some(token.lifetime)
    }
}

pub struct TokenCache {
    cache: Cache<TokenKey, Arc<AccessToken>>,
}

impl TokenCache {
    pub fn new() -> Self {
        TokenCache { cache: Cache::builder().max_capacity(64).expire_after(ByLifetime).build() }
    }

    /// The cached token, or the result of `fetch`. Concurrent callers that miss together share
    /// one `fetch`; a failed fetch is not cached, so the next caller asks again.
    pub async fn get_or_fetch<F>(&self, key: &TokenKey, fetch: F) -> Result<Arc<AccessToken>, WeComError>
    where
        F: std::future::Future<Output = Result<AccessToken, WeComError>>,
    {
        self.cache
            .try_get_with(key.clone(), async { fetch.await.map(Arc::new) })
            .await
            .map_err(|shared: Arc<WeComError>| (*shared).clone())
    }

    /// Drops `failed` if it is still the cached token. Another send may already have replaced
    /// it with a fresh one, which must not be thrown away (peers.md 2: an old token overwriting
    /// a new one).
    pub async fn invalidate_if_current(&self, key: &TokenKey, failed: &Arc<AccessToken>) {
        self.cache
            .entry(key.clone())
            .and_compute_with(|current| {
                let op = match current {
                    Some(entry) if Arc::ptr_eq(entry.value(), failed) => Op::Remove,
                    _ => Op::Nop,
                };
                std::future::ready(op)
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let t =
            AccessToken::new("tok-secret-value".into(), Duration::from_secs(7200), Duration::from_secs(300));
        assert!(!format!("{t:?}").contains("tok-secret-value"));
        assert_eq!(t.lifetime, Duration::from_secs(6900));
    }

    #[test]
    fn margin_never_exceeds_half_the_validity() {
        let t = AccessToken::new("x".into(), Duration::from_secs(60), Duration::from_secs(300));
        assert_eq!(t.lifetime, Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_stale_failure_does_not_evict_a_fresh_token() {
        let cache = TokenCache::new();
        let key: TokenKey = ("ww1".into(), 1);
        let mk = |v: &str| AccessToken::new(v.into(), Duration::from_secs(7200), Duration::ZERO);
        let old = cache.get_or_fetch(&key, async { Ok(mk("old")) }).await.unwrap();
        cache.invalidate_if_current(&key, &old).await;
        let fresh = cache.get_or_fetch(&key, async { Ok(mk("fresh")) }).await.unwrap();
        cache.invalidate_if_current(&key, &old).await; // a late report about the old token
        let still = cache.get_or_fetch(&key, async { Ok(mk("other")) }).await.unwrap();
        assert_eq!(still.expose(), "fresh");
        assert!(Arc::ptr_eq(&still, &fresh));
    }
}
