//! Group-robot bodies (`webhook/send`): text, markdown(_v2), image, news, file/voice, notice cards.

use super::{Checked, articles, card, section, text_field};
use crate::emulator::wire::WeComError;
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{Map, Value};

/// A robot body that passed, with its mentions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RobotChecked {
    pub msgtype: String,
    pub content: String,
    pub mentioned_list: Vec<String>,
    pub mentioned_mobile_list: Vec<String>,
}

/// Validates a robot message; `media(id, type)` labels a valid media this key uploaded.
pub(crate) fn robot_message(
    req: &Map<String, Value>,
    media: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<RobotChecked, WeComError> {
    let msgtype = match req.get("msgtype") {
        Some(Value::String(s)) => s.as_str(),
        _ => return Err(WeComError::code(40008)),
    };
    let obj = section(req, msgtype)?;
    let mut out = RobotChecked {
        msgtype: msgtype.to_owned(),
        content: String::new(),
        mentioned_list: Vec::new(),
        mentioned_mobile_list: Vec::new(),
    };
    out.content = match msgtype {
        // text: 2048 bytes. Over it the robot is assumed to reject like markdown (UNCONFIRMED;
        // a 5120-byte cap with 40058 was once observed, perhaps from a robot).
        "text" => {
            out.mentioned_list = mentions(obj, "mentioned_list")?;
            out.mentioned_mobile_list = mentions(obj, "mentioned_mobile_list")?;
            bounded(obj, "text", 2048)?
        }
        // Observed: "markdown.content exceed max length 4096. invalid Request Parameter, hint: …" (40058).
        "markdown" | "markdown_v2" => bounded(obj, msgtype, 4096)?,
        "image" => image(obj)?,
        "news" => articles::news(obj, false)?.content,
        "file" | "voice" => {
            let id = text_field(obj, msgtype, "media_id")?.ok_or_else(|| WeComError::code(41006))?;
            let label = media(id, msgtype).ok_or_else(|| WeComError::code(40007))?;
            format!("[{msgtype}] {label}")
        }
        "template_card" => {
            let Checked { content, .. } = card::check(obj, card::Scope::Robot)?;
            content
        }
        _ => return Err(WeComError::code(40008)),
    };
    Ok(out)
}

fn bounded(obj: &Map<String, Value>, msgtype: &str, max: usize) -> Result<String, WeComError> {
    let content = text_field(obj, msgtype, "content")?.ok_or_else(|| WeComError::code(44004))?;
    if content.len() > max {
        return Err(WeComError::param(format!("{msgtype}.content exceed max length {max}")));
    }
    Ok(content.to_owned())
}

/// `mentioned_list` / `mentioned_mobile_list` must be arrays of strings. Whether WeCom accepts
/// a `|`-joined string here is UNCONFIRMED; refusing it catches the common client bug.
fn mentions(obj: &Map<String, Value>, field: &str) -> Result<Vec<String>, WeComError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| WeComError::param(format!("text.{field} should be an array of strings")))
            })
            .collect(),
        Some(_) => Err(WeComError::param(format!("text.{field} should be an array"))),
    }
}

/// image: base64 of a JPG/PNG of at most 2 MB, and the hex MD5 of the raw bytes.
/// The errcodes for a bad image (40009 size, 40005 format, 40058 md5) are UNCONFIRMED.
fn image(obj: &Map<String, Value>) -> Result<String, WeComError> {
    let data =
        text_field(obj, "image", "base64")?.ok_or_else(|| WeComError::param("image.base64 missing"))?;
    let sum = text_field(obj, "image", "md5")?.ok_or_else(|| WeComError::param("image.md5 missing"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| WeComError::param("image.base64 invalid"))?;
    if raw.len() > 2 * 1024 * 1024 {
        return Err(WeComError::code(40009));
    }
    let format = image_format(&raw).ok_or_else(|| WeComError::code(40005))?;
    if !format!("{:x}", Md5::digest(&raw)).eq_ignore_ascii_case(sum.trim()) {
        return Err(WeComError::param("image.md5 not match"));
    }
    Ok(format!("[image {format}, {} bytes]", raw.len()))
}

/// "png" or "jpg" from the file's magic bytes.
pub(crate) fn image_format(raw: &[u8]) -> Option<&'static str> {
    if raw.starts_with(&[0x89, b'P', b'N', b'G']) {
        Some("png")
    } else if raw.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else {
        None
    }
}
