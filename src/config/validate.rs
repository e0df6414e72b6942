//! Validation of loaded settings: every check names the key and says how to fix it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, EventSettings, RobotSettings, Settings, TargetSettings, invalid};

impl Settings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if s.auth_tokens.is_empty() && !s.listen.ip().is_loopback() {
            return Err(invalid(format!(
                "server.auth_tokens is empty but server.listen = {} is not a loopback address: \
                 anyone on the network could send WeCom messages. Set tokens \
                 (server.auth_tokens = [\"...\"] or WECOM_RELAY_SERVER__AUTH_TOKENS='[\"...\"]') \
                 or listen on 127.0.0.1",
                s.listen
            )));
        }
        if let Some(i) = s.auth_tokens.iter().position(|t| t.expose_secret().len() < 16) {
            return Err(invalid(format!(
                "server.auth_tokens[{i}] is shorter than 16 characters: use a long random token \
                 (e.g. `openssl rand -hex 32`)"
            )));
        }
        if s.max_body_bytes < 256 {
            return Err(invalid("server.max_body_bytes must be at least 256"));
        }
        let w = &self.wecom;
        if !matches!(w.api_base.scheme(), "http" | "https") {
            return Err(invalid("wecom.api_base must be an http(s) URL"));
        }
        if w.secret.is_some() && w.secret_file.is_some() {
            return Err(invalid("both wecom.secret and wecom.secret_file are set: keep only one"));
        }
        let d = &self.delivery;
        if d.retry_schedule.is_empty() {
            return Err(invalid("delivery.retry_schedule must list at least one delay"));
        }
        if !(0.0..=1.0).contains(&d.jitter) {
            return Err(invalid("delivery.jitter must be between 0.0 and 1.0"));
        }
        if d.max_attempts == 0 || d.queue_capacity == 0 || d.concurrency == 0 {
            return Err(invalid(
                "delivery.max_attempts, delivery.queue_capacity and delivery.concurrency must be at least 1",
            ));
        }
        if d.duplicate_check_window < Duration::from_secs(1)
            || d.duplicate_check_window > Duration::from_secs(4 * 3600)
        {
            return Err(invalid("delivery.duplicate_check_window must be between 1s and 4h (WeCom's limit)"));
        }
        let l = &self.limits;
        if l.per_member_per_minute < 2 || l.per_member_per_hour < 2 {
            return Err(invalid(
                "limits.per_member_per_minute and limits.per_member_per_hour must be at least 2 (one slot is kept for digests)",
            ));
        }
        if self.events.contains_key("digest") {
            return Err(invalid(
                "events.digest: `digest` is the relay's own event for merged messages; pick another name",
            ));
        }
        for (name, event) in &self.events {
            validate_event(name, event, &self.robots)?;
        }
        Ok(())
    }

    /// Everything `serve` needs beyond `load`: a corp, an app and its secret.
    pub fn require_wecom(&self) -> Result<SecretString, ConfigError> {
        let w = &self.wecom;
        if w.corp_id.trim().is_empty() {
            return Err(invalid(
                "wecom.corp_id is empty: copy the corp ID (企业ID, starts with `ww`) from the WeCom \
                 admin console, 我的企业 → 企业信息, or set WECOM_RELAY_WECOM__CORP_ID; \
                 no WeCom account? try `wecom-relay demo`",
            ));
        }
        if w.agent_id <= 0 {
            return Err(invalid(
                "wecom.agent_id is not set: copy the app's AgentId from 应用管理 → your app \
                 (e.g. 1000002), or set WECOM_RELAY_WECOM__AGENT_ID",
            ));
        }
        let secret = match (&w.secret, &w.secret_file) {
            (Some(s), _) => s.clone(),
            (None, Some(path)) => read_secret_file(path)?,
            (None, None) => {
                return Err(invalid(
                    "wecom.secret is not set: set WECOM_RELAY_WECOM__SECRET, or wecom.secret_file = \
                     \"/run/secrets/wecom\" (the app's Secret from 应用管理 → your app)",
                ));
            }
        };
        if secret.expose_secret().trim().is_empty() {
            return Err(invalid("wecom.secret is empty: set the app's Secret"));
        }
        Ok(secret)
    }
}

fn read_secret_file(path: &Path) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(format!(
            "wecom.secret_file `{}` cannot be read ({e}): fix the path or its permissions",
            path.display()
        ))
    })?;
    Ok(SecretString::from(text.trim().to_owned()))
}

fn validate_event(
    name: &str,
    event: &EventSettings,
    robots: &BTreeMap<String, RobotSettings>,
) -> Result<(), ConfigError> {
    let ok_name = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok_name {
        return Err(invalid(format!("events.{name}: event names may use only a-z, 0-9, `-` and `_`")));
    }
    let own = |t: &TargetSettings| !(t.to_user.is_empty() && t.to_party.is_empty() && t.to_tag.is_empty());
    // App targets without recipients of their own (and an event without targets) use the event's.
    let uses_event_recipients =
        event.targets.is_empty() || event.targets.iter().any(|t| t.robot.is_none() && !own(t));
    if uses_event_recipients {
        if event.to_user.is_empty() && event.to_party.is_empty() && event.to_tag.is_empty() {
            return Err(invalid(format!(
                "events.{name} has no recipients: set to_user (member ids or \"@all\"), to_party or to_tag"
            )));
        }
        crate::wecom::Recipients::new(&event.to_user, &event.to_party, &event.to_tag)
            .map_err(|e| invalid(format!("events.{name}: {e}")))?;
    }
    for (i, target) in event.targets.iter().enumerate() {
        match &target.robot {
            Some(robot) => match robots.get(robot) {
                None => {
                    return Err(invalid(format!(
                        "events.{name}.targets[{i}]: robot `{robot}` is not configured: add [robots.{robot}] \
                         and set its key (WECOM_RELAY_ROBOTS__{}__KEY)",
                        robot.to_uppercase()
                    )));
                }
                Some(r) if r.key.as_ref().is_none_or(|k| k.expose_secret().trim().is_empty()) => {
                    return Err(invalid(format!(
                        "robots.{robot}.key is not set: copy the key from the robot's webhook URL (…/webhook/send?key=KEY) \
                         into WECOM_RELAY_ROBOTS__{}__KEY",
                        robot.to_uppercase()
                    )));
                }
                Some(_) if own(target) => {
                    return Err(invalid(format!(
                        "events.{name}.targets[{i}]: a robot target posts to its group; to_user/to_party/to_tag are for app targets"
                    )));
                }
                Some(_) => {}
            },
            None if own(target) => {
                crate::wecom::Recipients::new(&target.to_user, &target.to_party, &target.to_tag)
                    .map_err(|e| invalid(format!("events.{name}.targets[{i}]: {e}")))?;
            }
            None if !target.mentioned_list.is_empty() => {
                return Err(invalid(format!(
                    "events.{name}.targets[{i}]: mentioned_list is for robot targets"
                )));
            }
            None => {}
        }
    }
    Ok(())
}
