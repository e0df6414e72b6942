//! news and mpnews: 1–8 articles, titles required, long fields cut to WeCom's byte limits.

use super::{Checked, Ctx, check_url, cut_bytes, text_field};
use crate::emulator::wire::WeComError;
use serde_json::{Map, Value};

/// The `articles` array: 1 to 8 objects (more → 45008).
fn articles<'a>(obj: &'a Map<String, Value>, path: &str) -> Result<Vec<&'a Map<String, Value>>, WeComError> {
    let list = match obj.get("articles") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => return Err(WeComError::param(format!("{path}.articles missing"))),
        Some(_) => return Err(WeComError::param(format!("{path}.articles should be an array"))),
    };
    if list.is_empty() {
        return Err(WeComError::param(format!("{path}.articles empty")));
    }
    if list.len() > 8 {
        return Err(WeComError::code(45008));
    }
    list.iter()
        .map(|a| {
            a.as_object().ok_or_else(|| WeComError::param(format!("{path}.articles[] should be objects")))
        })
        .collect()
}

/// Cuts `field` of `art` to `max` bytes in `shown`; returns the kept text and whether it was cut.
fn cut_field(
    art: &Map<String, Value>,
    shown: &mut Map<String, Value>,
    path: &str,
    field: &str,
    max: usize,
) -> Result<(String, bool), WeComError> {
    let Some(v) = text_field(art, path, field)? else {
        return Ok((String::new(), false));
    };
    let (kept, cut) = cut_bytes(v, max);
    shown.insert(field.into(), kept.into());
    Ok((kept.to_owned(), cut))
}

/// The common walk of news and mpnews: 1–8 articles, each with a title (41016) and passing
/// `check`; the title is cut to 128 bytes and `summary` (description/digest) to 512.
fn walk(
    obj: &Map<String, Value>,
    msgtype: &str,
    summary: &str,
    check: impl Fn(&Map<String, Value>) -> Result<(), WeComError>,
) -> Result<Checked, WeComError> {
    let path = format!("{msgtype}.articles");
    let mut shown_list = Vec::new();
    let mut lines = Vec::new();
    let mut truncated = false;
    for art in articles(obj, msgtype)? {
        if text_field(art, &path, "title")?.is_none() {
            return Err(WeComError::code(41016));
        }
        check(art)?;
        let mut shown = art.clone();
        let (title, c1) = cut_field(art, &mut shown, &path, "title", 128)?;
        let (text, c2) = cut_field(art, &mut shown, &path, summary, 512)?;
        truncated |= c1 || c2;
        lines.push(if text.is_empty() { title } else { format!("{title}\n{text}") });
        shown_list.push(Value::Object(shown));
    }
    Ok(Checked {
        content: lines.join("\n\n"),
        shown: serde_json::json!({ "articles": shown_list }),
        truncated,
        interactive: false,
    })
}

/// news: title ≤128 B and description ≤512 B (truncated), appid+pagepath together, and for apps
/// a url with its protocol (the robot doc's own sample sends `"url":"www.qq.com"`).
pub(crate) fn news(obj: &Map<String, Value>, url_needs_protocol: bool) -> Result<Checked, WeComError> {
    let path = "news.articles";
    walk(obj, "news", "description", |art| {
        if let Some(url) = text_field(art, path, "url")? {
            if url_needs_protocol {
                check_url(url)?;
            }
        }
        let appid = text_field(art, path, "appid")?;
        let page = text_field(art, path, "pagepath")?;
        if appid.is_some() != page.is_some() {
            return Err(WeComError::param("news.articles appid and pagepath must be given together"));
        }
        Ok(())
    })
}

/// mpnews: title and thumb_media_id (an image) and content required; author ≤64 B (45032),
/// content ≤666 KB (45002); title ≤128 B and digest ≤512 B.
pub(super) fn mpnews(obj: &Map<String, Value>, ctx: &Ctx<'_>) -> Result<Checked, WeComError> {
    let path = "mpnews.articles";
    walk(obj, "mpnews", "digest", |art| {
        let thumb = text_field(art, path, "thumb_media_id")?.ok_or_else(|| WeComError::code(41006))?;
        if (ctx.media)(thumb, "image").is_none() {
            return Err(WeComError::code(40007));
        }
        let content = text_field(art, path, "content")?
            .ok_or_else(|| WeComError::param("mpnews.articles.content missing"))?;
        if content.len() > 666 * 1024 {
            return Err(WeComError::code(45002));
        }
        if text_field(art, path, "author")?.is_some_and(|a| a.len() > 64) {
            return Err(WeComError::code(45032));
        }
        Ok(())
    })
}
