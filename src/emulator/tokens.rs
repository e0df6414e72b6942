//! access_tokens: one current token per app, reused while valid, revocable and expirable.

use super::config::random_alnum;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Why a token was refused, mapped to 41001/40014/42001 by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    Invalid,
    Expired,
}

#[derive(Debug, Clone)]
struct Issued {
    agent_id: i64,
    expires_at: Instant,
    revoked: bool,
}

/// Every token ever issued (so an old one answers 42001 rather than 40014) and each app's current one.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    issued: HashMap<String, Issued>,
    current: HashMap<i64, String>,
}

impl Tokens {
    /// The app's token and its remaining validity: the current one while valid, else a new one.
    /// The bool says whether a new token was issued.
    pub(crate) fn get_or_issue(
        &mut self,
        agent_id: i64,
        now: Instant,
        ttl: Duration,
    ) -> (String, Duration, bool) {
        if let Some(tok) = self.current.get(&agent_id) {
            if let Some(rec) = self.issued.get(tok) {
                if !rec.revoked && now < rec.expires_at {
                    return (tok.clone(), rec.expires_at - now, false);
                }
            }
        }
        // Real tokens are long opaque strings (≤512 bytes); 128 characters is typical of today's.
        let tok = random_alnum(128);
        self.issued.insert(tok.clone(), Issued { agent_id, expires_at: now + ttl, revoked: false });
        self.current.insert(agent_id, tok.clone());
        (tok, ttl, true)
    }

    /// The app a token belongs to, if it is usable now.
    pub(crate) fn check(&self, token: &str, now: Instant) -> Result<i64, TokenError> {
        let rec = self.issued.get(token).ok_or(TokenError::Invalid)?;
        if rec.revoked {
            Err(TokenError::Invalid)
        } else if now >= rec.expires_at {
            Err(TokenError::Expired)
        } else {
            Ok(rec.agent_id)
        }
    }

    /// Invalidates every token early (next use → 40014).
    pub(crate) fn revoke_all(&mut self) {
        self.issued.values_mut().for_each(|r| r.revoked = true);
        self.current.clear();
    }

    /// Ends every token's validity now (next use → 42001).
    pub(crate) fn expire_all(&mut self, now: Instant) {
        for rec in self.issued.values_mut() {
            rec.expires_at = rec.expires_at.min(now);
        }
        self.current.clear();
    }
}
