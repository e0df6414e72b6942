//! App message bodies (`message/send`): required fields, byte limits, truncation, errcodes.

pub(crate) mod articles;
pub(crate) mod card;
mod card_parts;
pub(crate) mod robot;

use super::wire::WeComError;
use serde_json::{Map, Value};

/// A body that passed: what the member sees, and whether WeCom cut something.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Checked {
    /// The text/markdown as delivered, or a readable rendering for other types.
    pub content: String,
    /// The msgtype object as delivered (truncated fields replaced).
    pub shown: Value,
    pub truncated: bool,
    /// An interaction card: the reply carries a `response_code`.
    pub interactive: bool,
}

/// What validation needs from the rest of the emulator.
pub(crate) struct Ctx<'a> {
    /// 0 = no cap; above it text/markdown get 45002 instead of truncation.
    pub hard_cap: usize,
    /// A label for a media_id of this type (image|voice|video|file) if it is valid now.
    pub media: &'a dyn Fn(&str, &str) -> Option<String>,
}

/// The longest prefix of `s` within `max` bytes that ends on a UTF-8 boundary.
pub(crate) fn cut_bytes(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// The first `max` characters of `s`.
pub(crate) fn cut_chars(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (&s[..i], true),
        None => (s, false),
    }
}

/// The `msgtype` object of the request; a missing one reads as empty.
pub(crate) fn section<'a>(
    req: &'a Map<String, Value>,
    msgtype: &str,
) -> Result<&'a Map<String, Value>, WeComError> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    match req.get(msgtype) {
        None | Some(Value::Null) => Ok(EMPTY.get_or_init(Map::new)),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(WeComError::param(format!("{msgtype} should be an object"))),
    }
}

/// A string field: `None` when absent or empty; a non-string is a parameter error.
pub(crate) fn text_field<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<Option<&'a str>, WeComError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(WeComError::param(format!("{path}.{name} should be a string"))),
    }
}

/// URLs must carry their protocol (45034 otherwise).
pub(crate) fn check_url(url: &str) -> Result<(), WeComError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(())
    } else {
        Err(WeComError::code(45034))
    }
}

/// Validates one app message body for `msgtype`.
pub(crate) fn app_message(
    msgtype: &str,
    req: &Map<String, Value>,
    ctx: &Ctx<'_>,
) -> Result<Checked, WeComError> {
    match msgtype {
        "text" | "markdown" => text_like(msgtype, section(req, msgtype)?, ctx),
        "textcard" => textcard(section(req, msgtype)?),
        "news" => articles::news(section(req, msgtype)?, true),
        "mpnews" => articles::mpnews(section(req, msgtype)?, ctx),
        "image" | "voice" | "file" | "video" => media(msgtype, section(req, msgtype)?, ctx),
        "template_card" => card::check(section(req, msgtype)?, card::Scope::App),
        // Only apps linked to a mini program may send these; emulated apps are not linked.
        "miniprogram_notice" => Err(WeComError::code(48002)),
        _ => Err(WeComError::code(40008)),
    }
}

/// text and markdown: 2048 bytes, cut on a UTF-8 boundary beyond that ("超过将截断");
/// above the configurable hard cap, 45002 as observed. Markdown follows text here: whether
/// WeCom truncates or rejects markdown over 2048 bytes is UNCONFIRMED.
fn text_like(msgtype: &str, obj: &Map<String, Value>, ctx: &Ctx<'_>) -> Result<Checked, WeComError> {
    let content = text_field(obj, msgtype, "content")?.ok_or_else(|| WeComError::code(44004))?;
    if ctx.hard_cap > 0 && content.len() > ctx.hard_cap {
        return Err(WeComError::code(45002));
    }
    let (kept, truncated) = cut_bytes(content, 2048);
    let mut shown = obj.clone();
    shown.insert("content".into(), Value::String(kept.into()));
    Ok(Checked { content: kept.into(), shown: Value::Object(shown), truncated, interactive: false })
}

fn textcard(obj: &Map<String, Value>) -> Result<Checked, WeComError> {
    let title = text_field(obj, "textcard", "title")?.ok_or_else(|| WeComError::code(41016))?;
    let desc = text_field(obj, "textcard", "description")?.ok_or_else(|| WeComError::code(41033))?;
    let url = text_field(obj, "textcard", "url")?.ok_or_else(|| WeComError::param("textcard.url missing"))?;
    check_url(url)?;
    let btntxt = text_field(obj, "textcard", "btntxt")?.unwrap_or("详情");
    let (title, t1) = cut_bytes(title, 128);
    let (desc, t2) = cut_bytes(desc, 512);
    let (btn, t3) = cut_chars(btntxt, 4);
    let mut shown = obj.clone();
    shown.insert("title".into(), title.into());
    shown.insert("description".into(), desc.into());
    shown.insert("btntxt".into(), btn.into());
    Ok(Checked {
        content: format!("{title}\n{desc}\n[{btn}] {url}"),
        shown: Value::Object(shown),
        truncated: t1 || t2 || t3,
        interactive: false,
    })
}

/// image, voice, file and video: a media_id of the same type, uploaded less than 3 days ago.
fn media(msgtype: &str, obj: &Map<String, Value>, ctx: &Ctx<'_>) -> Result<Checked, WeComError> {
    let id = text_field(obj, msgtype, "media_id")?.ok_or_else(|| WeComError::code(41006))?;
    let label = (ctx.media)(id, msgtype).ok_or_else(|| WeComError::code(40007))?;
    let mut shown = obj.clone();
    let mut truncated = false;
    let mut content = format!("[{msgtype}] {label}");
    if msgtype == "video" {
        // video title/description: "超过会自动截断".
        for (field, max) in [("title", 128), ("description", 512)] {
            if let Some(v) = text_field(obj, "video", field)? {
                let (kept, cut) = cut_bytes(v, max);
                truncated |= cut;
                shown.insert(field.into(), kept.into());
                content.push('\n');
                content.push_str(kept);
            }
        }
    }
    Ok(Checked { content, shown: Value::Object(shown), truncated, interactive: false })
}
