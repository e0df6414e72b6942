//! `wecom-relay check`: everything that can be verified before the first real notification:
//! configuration and templates, the token, the app, and whether each configured recipient can be
//! reached. Every failure comes with its fix.

use std::sync::Arc;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::render::Renderer;
use crate::wecom::{AgentInfo, WeComClient};

#[derive(Default)]
struct Report {
    failures: usize,
}

impl Report {
    fn ok(&self, what: impl AsRef<str>) {
        println!("ok    {}", what.as_ref());
    }

    fn warn(&self, what: impl AsRef<str>) {
        println!("warn  {}", what.as_ref());
    }

    fn fail(&mut self, what: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failures += 1;
        println!("FAIL  {}\n      fix: {}", what.as_ref(), fix.as_ref());
    }
}

/// Runs every check and prints one line each; true when nothing failed.
pub async fn run(settings: &Settings) -> bool {
    let mut report = Report::default();
    match Renderer::load(settings) {
        Ok(r) => report.ok(format!(
            "configuration and templates ({} events: {})",
            r.event_names().len(),
            r.event_names().join(", ")
        )),
        Err(e) => report.fail(format!("templates: {e}"), "fix the template or templates.dir"),
    }
    let secret = match settings.require_wecom() {
        Ok(s) => s,
        Err(e) => {
            report.fail(e.to_string(), "see config.toml for every key");
            return false;
        }
    };
    let client = match WeComClient::new(&settings.wecom, secret, Arc::new(Metrics::default())) {
        Ok(c) => c,
        Err(e) => {
            report.fail(format!("cannot build the HTTP client: {e}"), "check the system's TLS setup");
            return false;
        }
    };
    let (corp, agent) = (&settings.wecom.corp_id, settings.wecom.agent_id);
    if let Err(e) = client.check_token().await {
        report.fail(format!("access_token for corp {corp}, app {agent}: {e}"), e.hint());
        return false;
    }
    report.ok(format!("access_token for corp {corp}, app {agent}"));
    let app = match client.agent().await {
        Ok(app) => app,
        Err(e) => {
            report.fail(format!("agent/get for app {agent}: {e}"), e.hint());
            return false;
        }
    };
    if app.closed {
        report.fail(format!("app `{}` ({agent}) is disabled", app.name), "enable it in 应用管理 → the app");
    } else {
        report.ok(format!("app `{}` ({agent}) is enabled", app.name));
    }
    for (name, event) in &settings.events {
        for user in &event.to_user {
            check_user(&mut report, &client, &app, name, user).await;
        }
        for party in &event.to_party {
            if app.parties.iter().any(|p| p.to_string() == *party) {
                report.ok(format!("events.{name}: department {party} is in the app's visible range"));
            } else {
                // A sub-department of a visible one is visible too, and agent/get lists only the
                // departments chosen, so this is a warning, not a failure.
                report.warn(format!(
                    "events.{name}: department {party} is not itself in the app's visible range {:?}; \
                     it is reachable only if it sits inside one of them (else add it in 应用管理 → 可见范围)",
                    app.parties
                ));
            }
        }
        for tag in &event.to_tag {
            if app.tags.iter().any(|t| t.to_string() == *tag) {
                report.ok(format!("events.{name}: tag {tag} is in the app's visible range"));
            } else {
                report.fail(
                    format!("events.{name}: tag {tag} is not in the app's visible range"),
                    "add the tag to the app's 可见范围 (应用管理 → the app), or fix to_tag",
                );
            }
        }
    }
    if report.failures == 0 {
        println!("all checks passed");
    } else {
        println!("{} check(s) failed", report.failures);
    }
    report.failures == 0
}

async fn check_user(report: &mut Report, client: &WeComClient, app: &AgentInfo, event: &str, user: &str) {
    if user == "@all" {
        report.ok(format!("events.{event}: @all reaches the app's whole visible range"));
        return;
    }
    if app.users.iter().any(|u| u.eq_ignore_ascii_case(user)) {
        report.ok(format!("events.{event}: member {user} is in the app's visible range"));
        return;
    }
    match client.member_departments(user).await {
        Ok(departments) => {
            report.ok(format!("events.{event}: member {user} is reachable (departments {departments:?})"))
        }
        Err(e) => match e.errcode() {
            Some(60111) => report.fail(format!("events.{event}: there is no member `{user}`"), e.hint()),
            Some(60011) => report.fail(
                format!("events.{event}: member {user} is outside the app's visible range"),
                format!("add {user} (or their department) to the app's 可见范围 in 应用管理 → the app, or fix to_user"),
            ),
            // Some apps may not read members at all (48002): nothing to conclude.
            _ => report.warn(format!("events.{event}: cannot verify member {user}: {e} ({})", e.hint())),
        },
    }
}
