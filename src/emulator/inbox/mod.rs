//! The inbox page at `/`: every member's messages and every robot's group, as chat bubbles,
//! redrawn by a little polling script when the emulator's version changes.

mod card;
mod render;

use super::model::{Received, RobotReceived};
use super::state::Shared;
use actix_web::{HttpResponse, web};
use render::escape;
use serde_json::json;
use std::sync::Arc;

type St = web::Data<Arc<Shared>>;

const PAGE: &str = include_str!("page.html");

/// Registers `/`, `/_emulator/inbox` (the HTML fragment) and `/_emulator/version`.
/// They must be registered before the `/_emulator` control scope.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/_emulator/inbox", web::get().to(fragment))
        .route("/_emulator/version", web::get().to(version));
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

async fn page(st: St) -> HttpResponse {
    let (body, v) = draw(&st);
    html(
        PAGE.replace("{{corp}}", &escape(&st.config.corp_id))
            .replace("{{version}}", &v.to_string())
            .replace("{{body}}", &body),
    )
}

async fn fragment(st: St) -> HttpResponse {
    html(draw(&st).0)
}

async fn version(st: St) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"version": st.lock().version}))
}

fn clock(at: &time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[month]-[day] [hour]:[minute]:[second] UTC");
    at.format(f).unwrap_or_default()
}

/// The page body (members, then robots) and the version it shows.
fn draw(st: &Shared) -> (String, u64) {
    let inner = st.lock();
    let mut out = String::from("<h2 class=\"section\">Members</h2><div class=\"grid\">");
    for m in &st.config.members {
        let mut items: Vec<&Received> =
            inner.inbox.get(&m.userid).into_iter().chain(inner.dropped.get(&m.userid)).flatten().collect();
        items.sort_by_key(|r| r.at);
        out.push_str(&format!(
            "<div class=\"member\"><div class=\"who\"><span class=\"avatar\">{}</span>{} <small>{}</small></div><div class=\"chat\">",
            escape(&m.name.chars().next().map(String::from).unwrap_or_default()),
            escape(&m.name),
            escape(&m.userid)
        ));
        if items.is_empty() {
            out.push_str("<div class=\"empty\">No messages yet</div>");
        }
        for r in items {
            let app = st.config.app(r.agentid).map(|a| a.name.as_str()).unwrap_or("?");
            out.push_str(&bubble(app, r));
        }
        out.push_str("</div></div>");
    }
    out.push_str("</div><h2 class=\"section\">Group robots</h2><div class=\"grid\">");
    for key in &st.config.robot_keys {
        out.push_str(&format!(
            "<div class=\"member\"><div class=\"who\"><span class=\"avatar robot\">R</span>robot <small>{}</small></div><div class=\"chat\">",
            escape(key)
        ));
        let list = inner.robot.get(key).map(Vec::as_slice).unwrap_or_default();
        if list.is_empty() {
            out.push_str("<div class=\"empty\">No messages yet</div>");
        }
        for r in list {
            out.push_str(&robot_bubble(r));
        }
        out.push_str("</div></div>");
    }
    out.push_str("</div>");
    (out, inner.version)
}

fn bubble(app: &str, r: &Received) -> String {
    let mut badges = String::new();
    if r.truncated {
        badges.push_str("<span class=\"badge warn\">truncated</span>");
    }
    if r.recalled {
        badges.push_str("<span class=\"badge\">recalled</span>");
    }
    if let Some(reason) = &r.reason {
        badges.push_str(&format!("<span class=\"badge bad\">dropped: {}</span>", escape(reason)));
    }
    let class = match (&r.reason, r.recalled) {
        (Some(_), _) => "bubble dropped",
        (None, true) => "bubble recalled",
        _ => "bubble",
    };
    format!(
        "<div class=\"{class}\"><div class=\"meta\">{} · {} · {}{badges}</div><div class=\"content\">{}</div></div>",
        escape(app),
        clock(&r.at),
        escape(&r.msgtype),
        content(&r.msgtype, &r.shown, &r.content)
    )
}

fn robot_bubble(r: &RobotReceived) -> String {
    let mentions = r
        .mentioned_list
        .iter()
        .chain(&r.mentioned_mobile_list)
        .map(|m| format!("<span class=\"mention\">@{}</span> ", escape(m)))
        .collect::<String>();
    format!(
        "<div class=\"bubble\"><div class=\"meta\">{} · {}</div><div class=\"content\">{}{}</div></div>",
        clock(&r.at),
        escape(&r.msgtype),
        content(&r.msgtype, &r.body, &r.content),
        if mentions.is_empty() { String::new() } else { format!("<div class=\"mentions\">{mentions}</div>") }
    )
}

/// The bubble's inside for one msgtype.
fn content(msgtype: &str, shown: &serde_json::Value, text: &str) -> String {
    match msgtype {
        "text" => render::text(text),
        "markdown" | "markdown_v2" => render::markdown(text),
        "textcard" => render::textcard(shown),
        "news" | "mpnews" => render::articles(shown),
        "template_card" => card::template_card(shown),
        "image" => card::image(shown, text),
        _ => format!("<div class=\"file\">{}</div>", render::text(text)),
    }
}
