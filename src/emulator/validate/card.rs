//! template_card (app and robot): card types, required parts, list sizes, keys and task_id.
//!
//! The per-field character limits of the docs are recommendations ("建议不超过"); whether
//! WeCom enforces them is UNCONFIRMED, so only structure, counts and byte limits are checked.
//! Structural errors answer 40058 naming the field (their real errcodes are UNCONFIRMED).

use super::{Checked, check_url, text_field};
use crate::emulator::wire::WeComError;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Where the card is sent: apps take all five types, robots only the two notice cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    App,
    Robot,
}

type Obj = Map<String, Value>;

/// The objects of array `name`, which must hold `min..=max` of them when present.
pub(super) fn list<'a>(
    card: &'a Obj,
    name: &str,
    min: usize,
    max: usize,
) -> Result<Vec<&'a Obj>, WeComError> {
    let items = match card.get(name) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(WeComError::param(format!("template_card.{name} should be an array"))),
    };
    if items.len() < min || items.len() > max {
        return Err(WeComError::param(format!("template_card.{name} must have {min} to {max} items")));
    }
    items
        .iter()
        .map(|v| {
            v.as_object()
                .ok_or_else(|| WeComError::param(format!("template_card.{name}[] should be objects")))
        })
        .collect()
}

pub(super) fn object<'a>(card: &'a Obj, name: &str) -> Result<Option<&'a Obj>, WeComError> {
    match card.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(WeComError::param(format!("template_card.{name} should be an object"))),
    }
}

pub(super) fn int(obj: &Obj, name: &str) -> i64 {
    obj.get(name).and_then(crate::emulator::wire::int_field).unwrap_or(0)
}

pub(super) fn need<'a>(obj: &'a Obj, path: &str, name: &str) -> Result<&'a str, WeComError> {
    text_field(obj, path, name)?.ok_or_else(|| WeComError::param(format!("{path}.{name} missing")))
}

/// Keys (callback keys, option ids) are unique and within `max` bytes.
pub(super) fn unique(
    keys: &mut HashSet<String>,
    path: &str,
    key: &str,
    max: usize,
) -> Result<(), WeComError> {
    if key.len() > max {
        return Err(WeComError::param(format!("{path} exceed max length {max}")));
    }
    if !keys.insert(key.to_owned()) {
        return Err(WeComError::param(format!("{path} duplicated: {key}")));
    }
    Ok(())
}

/// task_id: `[A-Za-z0-9_\-@]`, at most 128 bytes (42014 otherwise).
fn check_task_id(id: &str) -> Result<(), WeComError> {
    let ok = id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || "_-@".contains(c));
    if ok { Ok(()) } else { Err(WeComError::new(42014, "invalid task_id")) }
}

/// Where a url-or-mini-program target (card_action, jump, quote) points.
fn target(obj: &Obj, path: &str) -> Result<(), WeComError> {
    match int(obj, "type") {
        1 => check_url(need(obj, path, "url")?),
        2 => need(obj, path, "appid").map(|_| ()),
        _ => Ok(()),
    }
}

/// Validates a template_card object and renders it as readable lines.
pub(crate) fn check(card: &Obj, scope: Scope) -> Result<Checked, WeComError> {
    let kind = need(card, "template_card", "card_type")?;
    let allowed: &[&str] = match scope {
        Scope::App => {
            &["text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction"]
        }
        Scope::Robot => &["text_notice", "news_notice"],
    };
    if !allowed.contains(&kind) {
        return Err(WeComError::param(format!("template_card.card_type {kind} not supported")));
    }
    let interactive = kind.ends_with("_interaction");
    let mut lines = Vec::new();
    let task_id = text_field(card, "template_card", "task_id")?;
    if let Some(id) = task_id {
        check_task_id(id)?;
    }
    // Interaction cards need a task_id to be clicked and updated (mandatory: UNCONFIRMED).
    if task_id.is_none() && (interactive || card.contains_key("action_menu")) {
        return Err(WeComError::param("template_card.task_id missing"));
    }
    if let Some(src) = object(card, "source")? {
        if !(0..=3).contains(&int(src, "desc_color")) {
            return Err(WeComError::param("template_card.source.desc_color invalid"));
        }
        if let Some(d) = text_field(src, "template_card.source", "desc")? {
            lines.push(format!("[{d}]"));
        }
    }
    if let Some(menu) = object(card, "action_menu")? {
        let mut keys = HashSet::new();
        for a in list(menu, "action_list", 1, 3)? {
            need(a, "template_card.action_menu.action_list", "text")?;
            let key = need(a, "template_card.action_menu.action_list", "key")?;
            unique(&mut keys, "template_card.action_menu.action_list.key", key, 1024)?;
        }
    }
    let title = object(card, "main_title")?
        .map(|m| -> Result<_, WeComError> {
            Ok((
                text_field(m, "template_card.main_title", "title")?,
                text_field(m, "template_card.main_title", "desc")?,
            ))
        })
        .transpose()?
        .unwrap_or((None, None));
    let sub = text_field(card, "template_card", "sub_title_text")?;
    match (kind, title.0) {
        ("text_notice", None) if sub.is_none() => {
            return Err(WeComError::param("template_card.main_title.title and sub_title_text both empty"));
        }
        ("text_notice", _) => {}
        (_, None) => return Err(WeComError::param("template_card.main_title.title missing")),
        _ => {}
    }
    lines.extend([title.0, title.1].into_iter().flatten().map(str::to_owned));
    if let Some(e) = object(card, "emphasis_content")? {
        for f in ["title", "desc"] {
            if let Some(v) = text_field(e, "template_card.emphasis_content", f)? {
                lines.push(v.to_owned());
            }
        }
    }
    lines.extend(sub.map(str::to_owned));
    for h in list(card, "horizontal_content_list", 0, 6)? {
        let path = "template_card.horizontal_content_list";
        let key = need(h, path, "keyname")?;
        match int(h, "type") {
            1 => check_url(need(h, path, "url")?)?,
            2 if text_field(h, path, "media_id")?.is_none() => {
                return Err(WeComError::new(42029, "media_id missing in horizontal_content_list"));
            }
            3 => {
                need(h, path, "userid")?;
            }
            _ => {}
        }
        lines.push(format!("{key}: {}", text_field(h, path, "value")?.unwrap_or("")));
    }
    for v in list(card, "vertical_content_list", 0, 4)? {
        lines.push(need(v, "template_card.vertical_content_list", "title")?.to_owned());
    }
    for j in list(card, "jump_list", 0, 3)? {
        let t = need(j, "template_card.jump_list", "title")?;
        target(j, "template_card.jump_list")?;
        lines.push(format!("→ {t}"));
    }
    if let Some(q) = object(card, "quote_area")? {
        target(q, "template_card.quote_area")?;
    }
    match object(card, "card_action")? {
        Some(a) => target(a, "template_card.card_action")?,
        None if kind == "text_notice" => return Err(WeComError::param("template_card.card_action missing")),
        None => {}
    }
    if let Some(img) = object(card, "card_image")? {
        check_url(need(img, "template_card.card_image", "url")?)?;
        let r = img.get("aspect_ratio").and_then(Value::as_f64).unwrap_or(1.3);
        if !(1.3..=2.25).contains(&r) {
            return Err(WeComError::param("template_card.card_image.aspect_ratio out of range"));
        }
    }
    if kind == "news_notice" && !card.contains_key("card_image") && !card.contains_key("image_text_area") {
        return Err(WeComError::param("template_card.card_image or image_text_area missing"));
    }
    super::card_parts::interaction(card, kind, &mut lines)?;
    Ok(Checked {
        content: lines.join("\n"),
        shown: Value::Object(card.clone()),
        truncated: false,
        interactive,
    })
}
