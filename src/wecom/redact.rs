//! Keeps secrets out of text that leaves the client: reqwest errors carry the URL, whose query
//! holds `corpsecret` or `access_token`, and an errmsg could in principle echo either.

/// Removes the value of any `access_token=` / `corpsecret=` query parameter and any occurrence of
/// the given secrets from `text`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    for key in ["access_token=", "corpsecret="] {
        let mut from = 0;
        while let Some(pos) = out[from..].find(key) {
            let start = from + pos + key.len();
            let end = out[start..].find(['&', ' ', '"', ')']).map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "[redacted]");
            from = start + "[redacted]".len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn query_secrets_and_known_values_are_removed() {
        let text = "error sending request for url (http://h/cgi-bin/gettoken?corpid=ww1&corpsecret=S3CR3T&x=1) token tok-123";
        let out = redact(text, &["tok-123"]);
        assert!(!out.contains("S3CR3T") && !out.contains("tok-123"), "{out}");
        assert!(out.contains("corpid=ww1"));
    }
}
