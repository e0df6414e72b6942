//! WeCom's errcode table (developer.work.weixin.qq.com DOC 90313): for each code, what the relay does
//! with it and what the operator should do about it.

/// What the relay does with a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The access_token was refused: drop that token, fetch a new one, resend once.
    RefreshToken,
    /// WeCom is busy or rate limiting: try again later, with backoff.
    RetryLater,
    /// Retrying cannot help until someone changes the configuration or the request.
    Permanent,
}

use ErrorClass::{Permanent, RefreshToken, RetryLater};

/// Class and operator hint for an errcode returned by WeCom.
pub fn classify(errcode: i64) -> (ErrorClass, &'static str) {
    match errcode {
        // The doc says "system busy, retry" (at most 3 times).
        -1 => (RetryLater, "WeCom is busy; the relay retries with backoff"),
        6000 => (RetryLater, "WeCom data version conflict; transient, retried"),
        // 45009: blocked for the window (60 s / 60 min / a day); 45033: too many parallel calls.
        45009 => (
            RetryLater,
            "WeCom rate limit hit; retried after a pause. If it persists: the app's daily quota (seats × 200) or an IP ban after repeated wrong secrets",
        ),
        45033 => (RetryLater, "too many concurrent calls to WeCom; retried with backoff"),
        // Only on message calls: a token WeCom revoked early or that ran out. On gettoken,
        // 40001 means the secret is wrong and is permanent (see `classify_gettoken`).
        40014 | 42001 => (
            RefreshToken,
            "the access_token was revoked or expired; the relay fetched a new one. If this repeats, another process may be resetting the app's secret",
        ),
        40001 => (
            RefreshToken,
            "WeCom rejected the credential: check wecom.corp_id and wecom.secret (was the secret reset?) and that the app is enabled",
        ),
        40003 => (Permanent, "a member id is invalid (1-64 of A-Za-z0-9-_.): fix to_user"),
        40004 | 40005 | 40006 | 40009 | 40011 => (Permanent, "WeCom rejected the attachment's type or size"),
        40007 => {
            (Permanent, "the media_id is invalid or expired (media lasts 3 days): upload the file again")
        }
        40008 | 40074 => (
            Permanent,
            "WeCom rejected the msgtype or its `safe` flag: this is a relay bug, please report it",
        ),
        40013 => (
            Permanent,
            "the corp ID is wrong: copy wecom.corp_id (starts with `ww`) from 我的企业 → 企业信息",
        ),
        40031 | 40032 => {
            (Permanent, "the recipient list is invalid or has more than 1000 members: fix to_user")
        }
        40033 => (Permanent, "WeCom rejected characters in the content (illegal \\uXXXX characters)"),
        40035 | 40063 => (Permanent, "WeCom says a parameter is invalid or empty: see errmsg"),
        40056 => (
            Permanent,
            "the agent id is wrong: set wecom.agent_id to the app's AgentId (应用管理 → your app)",
        ),
        40058 => (
            Permanent,
            "WeCom rejected a parameter (errmsg names the field), e.g. content too long or a malformed value",
        ),
        40091 => (
            Permanent,
            "the secret is invalid (perhaps another corp's): set wecom.secret to this app's Secret",
        ),
        40206 => (Permanent, "the request body is too large for WeCom"),
        41001 => (Permanent, "access_token missing in the URL: this is a relay bug, please report it"),
        41002 => (Permanent, "corp ID missing: set wecom.corp_id"),
        41004 => (Permanent, "secret missing: set wecom.secret or wecom.secret_file"),
        41011 => (Permanent, "agent id missing: set wecom.agent_id"),
        41006 | 41016 | 41033 => (
            Permanent,
            "the message lacks a required field (media_id, title or description): fix the template",
        ),
        42009 => (Permanent, "this is a third-party suite token; the relay needs a self-built app's secret"),
        42014 | 42015 => (Permanent, "the card's task_id is invalid or belongs to another app"),
        42052 => (Permanent, "the message is older than 24 h and can no longer be recalled"),
        44001 => (Permanent, "the uploaded media is empty"),
        44004 => (Permanent, "the message content is empty: check the template and the event's fields"),
        45001 => (Permanent, "the attachment is too large for WeCom"),
        45002 => (Permanent, "the content is too long for WeCom (text: 2048 bytes)"),
        45007 | 45008 => (Permanent, "a WeCom limit was exceeded (voice over 60 s, or more than 8 articles)"),
        45034 => (Permanent, "a URL lacks its protocol: write http:// or https://"),
        48002 => (
            Permanent,
            "this secret may not call this API (contacts-sync secret, or a feature the app lacks): use the app's own Secret",
        ),
        48009 => (Permanent, "the contacts-sync assistant may not be called from a new IP"),
        50001 => (Permanent, "the redirect URL is not one of the app's trusted domains"),
        50002 | 60011 => (
            Permanent,
            "a member, department or tag is outside the app's visible range: extend the range in 应用管理 → your app → 可见范围",
        ),
        50003 => (Permanent, "the app is disabled: enable it in 应用管理"),
        60111 => (
            Permanent,
            "no member has that userid: use the member's 账号 from 通讯录 (ids are case-insensitive)",
        ),
        60020 => (Permanent, "the relay's egress IP is not in the app's trusted IPs (企业可信IP)"),
        60140 => (Permanent, "the card's response_code is invalid or expired"),
        80001 => (Permanent, "the trusted domain is wrong or not ICP-filed"),
        81013 => (
            Permanent,
            "none of the recipients is valid or visible to the app: check to_user/to_party/to_tag and the app's 可见范围",
        ),
        82001 => (Permanent, "the message has no recipients: set to_user, to_party or to_tag"),
        82002 | 82003 => (Permanent, "more than 100 departments or tags in one message"),
        82004 => (Permanent, "WeCom rejected the content as unsafe for its clients"),
        82101 | 82102 => (Permanent, "the card update names no recipients or ones that did not get the card"),
        90201 | 90208 => (Permanent, "the mini-program notice is invalid (too many items or wrong appid)"),
        93000 => (
            Permanent,
            "the group robot's webhook key is invalid or the robot was removed: create the robot again and update its key",
        ),
        93004 | 93006 | 93008 => (Permanent, "the group robot is disabled or not in the group"),
        301002 => (
            Permanent,
            "wecom.agent_id and wecom.secret belong to different apps: use the AgentId and Secret of the same app",
        ),
        86000..=86999 => (Permanent, "WeCom app-chat error: see errmsg"),
        // Not in the table: safest is not to hammer WeCom with a request it refused.
        _ => (
            Permanent,
            "unknown WeCom errcode: look it up at https://open.work.weixin.qq.com/devtool/query?e=<errcode>",
        ),
    }
}

/// The same table, for answers to `gettoken`, where a credential error cannot be cured by fetching
/// again: retrying a wrong secret gets the server's IP banned for an hour (DOC 90313, 45009).
pub fn classify_gettoken(errcode: i64) -> (ErrorClass, &'static str) {
    match errcode {
        40001 => (
            Permanent,
            "WeCom refused the secret: set wecom.secret to the app's Secret (应用管理 → your app; was it reset?) and check that wecom.corp_id belongs to the same corp and the app is enabled",
        ),
        other => match classify(other) {
            (RefreshToken, hint) => (Permanent, hint),
            found => found,
        },
    }
}

/// For 60020, the caller's egress IP, which WeCom echoes as `from ip: X` in errmsg.
pub fn from_ip(errmsg: &str) -> Option<&str> {
    let rest = &errmsg[errmsg.find("from ip:")? + "from ip:".len()..];
    let ip = rest.trim_start().split([',', ' ']).next()?.trim();
    (!ip.is_empty()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_refresh_on_sends_but_are_permanent_on_gettoken() {
        for code in [40001, 40014, 42001] {
            assert_eq!(classify(code).0, RefreshToken, "{code}");
            assert_eq!(classify_gettoken(code).0, Permanent, "{code}");
        }
    }

    #[test]
    fn busy_and_rate_limits_retry_and_config_errors_do_not() {
        for code in [-1, 45009, 45033, 6000] {
            assert_eq!(classify(code).0, RetryLater, "{code}");
        }
        for code in [60020, 81013, 40058, 301002, 40013, 82001, 12345] {
            assert_eq!(classify(code).0, Permanent, "{code}");
        }
    }

    #[test]
    fn the_ip_to_trust_is_taken_from_errmsg() {
        let errmsg = "not allow to access from your ip, hint: [1658286717354964018506079], from ip: 115.227.127.185, more info at https://open.work.weixin.qq.com/devtool/query?e=60020";
        assert_eq!(from_ip(errmsg), Some("115.227.127.185"));
        assert_eq!(from_ip("invalid access_token"), None);
    }
}
