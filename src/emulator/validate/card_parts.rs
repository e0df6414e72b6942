//! The interactive parts of app template cards: buttons, selections, checkboxes, submit.

use super::card::{int, list, need, object, unique};
use crate::emulator::wire::WeComError;
use serde_json::{Map, Value};
use std::collections::HashSet;

type Obj = Map<String, Value>;

/// Options of a selection or checkbox: `min..=max` of them, ids unique and ≤128 bytes.
fn options(parent: &Obj, path: &str, max: usize, lines: &mut Vec<String>) -> Result<(), WeComError> {
    let mut ids = HashSet::new();
    for o in list(parent, "option_list", 1, max)? {
        let id = need(o, path, "id")?;
        unique(&mut ids, &format!("{path}.id"), id, 128)?;
        lines.push(format!("○ {}", need(o, path, "text")?));
    }
    if !parent.contains_key("option_list") {
        return Err(WeComError::param(format!("{path} missing")));
    }
    Ok(())
}

fn submit(card: &Obj, lines: &mut Vec<String>) -> Result<(), WeComError> {
    let s = object(card, "submit_button")?
        .ok_or_else(|| WeComError::param("template_card.submit_button missing"))?;
    let key = need(s, "template_card.submit_button", "key")?;
    if key.len() > 1024 {
        return Err(WeComError::param("template_card.submit_button.key exceed max length 1024"));
    }
    let text = super::text_field(s, "template_card.submit_button", "text")?.unwrap_or("提交");
    lines.push(format!("[{text}]"));
    Ok(())
}

/// Checks what each interaction card type requires and renders it.
pub(super) fn interaction(card: &Obj, kind: &str, lines: &mut Vec<String>) -> Result<(), WeComError> {
    match kind {
        "button_interaction" => {
            if let Some(sel) = object(card, "button_selection")? {
                need(sel, "template_card.button_selection", "question_key")?;
                options(sel, "template_card.button_selection.option_list", 10, lines)?;
            }
            let buttons = list(card, "button_list", 1, 6)?;
            if buttons.is_empty() {
                return Err(WeComError::param("template_card.button_list missing"));
            }
            let mut keys = HashSet::new();
            for b in buttons {
                let path = "template_card.button_list";
                let text = need(b, path, "text")?;
                if !(0..=4).contains(&int(b, "style")) {
                    return Err(WeComError::param("template_card.button_list.style invalid"));
                }
                if int(b, "type") == 1 {
                    super::check_url(need(b, path, "url")?)?;
                } else {
                    unique(&mut keys, "template_card.button_list.key", need(b, path, "key")?, 1024)?;
                }
                lines.push(format!("[{text}]"));
            }
        }
        "vote_interaction" => {
            let cb = object(card, "checkbox")?
                .ok_or_else(|| WeComError::param("template_card.checkbox missing"))?;
            need(cb, "template_card.checkbox", "question_key")?;
            if !(0..=1).contains(&int(cb, "mode")) {
                return Err(WeComError::param("template_card.checkbox.mode invalid"));
            }
            options(cb, "template_card.checkbox.option_list", 20, lines)?;
            submit(card, lines)?;
        }
        "multiple_interaction" => {
            let selects = list(card, "select_list", 1, 3)?;
            if selects.is_empty() {
                return Err(WeComError::param("template_card.select_list missing"));
            }
            for s in selects {
                need(s, "template_card.select_list", "question_key")?;
                if let Some(t) = super::text_field(s, "template_card.select_list", "title")? {
                    lines.push(t.to_owned());
                }
                options(s, "template_card.select_list.option_list", 10, lines)?;
            }
            submit(card, lines)?;
        }
        _ => {}
    }
    Ok(())
}
