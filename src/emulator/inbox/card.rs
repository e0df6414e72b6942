//! template_card and image bubbles for the inbox page.

use super::render::{escape, field, text};
use serde_json::Value;

fn each<'a>(v: &'a Value, name: &str) -> impl Iterator<Item = &'a Value> {
    v.get(name).and_then(Value::as_array).into_iter().flatten()
}

/// A template card drawn as WeCom lays it out: source, titles, emphasis, lists, buttons.
pub(super) fn template_card(v: &Value) -> String {
    let mut out = String::from("<div class=\"card tpl\">");
    if let Some(src) = v.get("source") {
        out.push_str(&format!("<div class=\"tpl-source\">{}</div>", escape(field(src, "desc"))));
    }
    if let Some(t) = v.get("main_title") {
        out.push_str(&format!(
            "<div class=\"card-title\">{}</div><div class=\"tpl-desc\">{}</div>",
            escape(field(t, "title")),
            escape(field(t, "desc"))
        ));
    }
    if let Some(e) = v.get("emphasis_content") {
        out.push_str(&format!(
            "<div class=\"tpl-emph\">{}</div><div class=\"tpl-desc\">{}</div>",
            escape(field(e, "title")),
            escape(field(e, "desc"))
        ));
    }
    let sub = field(v, "sub_title_text");
    if !sub.is_empty() {
        out.push_str(&format!("<div class=\"tpl-sub\">{}</div>", text(sub)));
    }
    for h in each(v, "horizontal_content_list") {
        out.push_str(&format!(
            "<div class=\"tpl-row\"><span class=\"k\">{}</span><span>{}</span></div>",
            escape(field(h, "keyname")),
            escape(field(h, "value"))
        ));
    }
    for vc in each(v, "vertical_content_list") {
        out.push_str(&format!(
            "<div class=\"tpl-vert\"><b>{}</b><br>{}</div>",
            escape(field(vc, "title")),
            escape(field(vc, "desc"))
        ));
    }
    let choices = ["checkbox", "button_selection"].into_iter().filter_map(|k| v.get(k));
    for o in choices.flat_map(|c| each(c, "option_list")) {
        out.push_str(&format!("<div class=\"tpl-opt\">☐ {}</div>", escape(field(o, "text"))));
    }
    for s in each(v, "select_list") {
        out.push_str(&format!(
            "<div class=\"tpl-row\"><span class=\"k\">{}</span>",
            escape(field(s, "title"))
        ));
        let opts: Vec<String> = each(s, "option_list").map(|o| escape(field(o, "text"))).collect();
        out.push_str(&format!("<span>▾ {}</span></div>", opts.join(" / ")));
    }
    for j in each(v, "jump_list") {
        out.push_str(&format!("<div class=\"tpl-jump\">{} ›</div>", escape(field(j, "title"))));
    }
    let mut buttons: Vec<String> = each(v, "button_list")
        .map(|b| format!("<button disabled>{}</button>", escape(field(b, "text"))))
        .collect();
    if let Some(s) = v.get("submit_button") {
        let t = field(s, "text");
        buttons.push(format!("<button disabled>{}</button>", escape(if t.is_empty() { "提交" } else { t })));
    }
    if !buttons.is_empty() {
        out.push_str(&format!("<div class=\"tpl-buttons\">{}</div>", buttons.concat()));
    }
    out.push_str(&format!("<div class=\"tpl-type\">{}</div></div>", escape(field(v, "card_type"))));
    out
}

/// Robot images arrive as base64: shown inline when the data is plain base64, else a label.
pub(super) fn image(v: &Value, label: &str) -> String {
    let data = field(v, "base64").trim();
    let plain = !data.is_empty() && data.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
    if plain {
        let mime = if data.starts_with("/9j/") { "jpeg" } else { "png" };
        format!("<img class=\"robot-img\" src=\"data:image/{mime};base64,{data}\" alt=\"{}\">", escape(label))
    } else {
        format!("<div class=\"file\">{}</div>", escape(label))
    }
}
