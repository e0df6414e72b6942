//! Message bodies: every msgtype the relay sends, each field held to WeCom's limits
//! (DOC 90236 for apps, DOC 91770 for group robots). Where WeCom cuts a field silently, the relay
//! cuts it first, on a UTF-8 boundary and with a visible marker; where WeCom rejects, the relay
//! rejects with the reason.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The kinds of message a template can produce. Markdown is not shown by the WeChat plugin
/// ("暂不支持此消息类型"), so text is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgType {
    #[default]
    Text,
    Markdown,
    Textcard,
    News,
    Image,
    File,
    TemplateCard,
}

impl MsgType {
    pub fn as_str(self) -> &'static str {
        match self {
            MsgType::Text => "text",
            MsgType::Markdown => "markdown",
            MsgType::Textcard => "textcard",
            MsgType::News => "news",
            MsgType::Image => "image",
            MsgType::File => "file",
            MsgType::TemplateCard => "template_card",
        }
    }

    /// WeCom's limit for text and markdown content, in UTF-8 bytes (2048 for apps).
    pub fn content_limit(self) -> usize {
        2048
    }
}

/// Marker appended when content is cut so that the reader knows something is missing.
pub(super) const TRUNCATION_MARKER: &str = "…（内容过长，已截断）";
/// The shorter marker for short fields (titles, descriptions).
const SHORT_MARKER: &str = "…";

/// Cuts `text` to `limit` bytes on a UTF-8 boundary, ending with `marker` when cut. C0 control
/// characters other than tab and newlines are dropped: they draw 40033 ("illegal characters").
pub fn fit(text: &str, limit: usize, marker: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r')).collect();
    if clean.len() <= limit {
        return clean;
    }
    let mut cut = limit.saturating_sub(marker.len());
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{marker}", &clean[..cut])
}

/// Keeps at most `max` characters (WeCom counts btntxt in characters, not bytes).
fn chars(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}

/// One article of a `news` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Article {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub url: String,
    #[serde(default)]
    pub picurl: String,
}

/// A message body, ready for the wire. Built only through the checked constructors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msgtype", rename_all = "snake_case")]
pub enum Body {
    Text {
        content: String,
    },
    Markdown {
        content: String,
    },
    Textcard {
        title: String,
        description: String,
        url: String,
        btntxt: String,
    },
    News {
        articles: Vec<Article>,
    },
    /// `source` is a file path or an http(s) URL; it is uploaded (and the media_id cached) when sent.
    Image {
        source: String,
    },
    File {
        source: String,
    },
    TemplateCard {
        card: Value,
    },
}

/// Why a template's output is not a message WeCom would take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub String);

fn invalid(msg: impl Into<String>) -> BodyError {
    BodyError(msg.into())
}

fn url(field: &str, value: &str) -> Result<String, BodyError> {
    let value = value.trim();
    // 45034: a URL without its protocol. Over 2048 bytes is not documented: refused to be safe.
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        return Err(invalid(format!(
            "{field} must start with http:// or https:// (WeCom 45034), got {value:?}"
        )));
    }
    if value.len() > 2048 {
        return Err(invalid(format!("{field} is longer than WeCom's 2048 bytes")));
    }
    Ok(value.to_owned())
}

impl Body {
    pub fn text(content: &str) -> Body {
        Body::Text { content: fit(content.trim(), MsgType::Text.content_limit(), TRUNCATION_MARKER) }
    }

    pub fn markdown(content: &str) -> Body {
        Body::Markdown { content: fit(content.trim(), MsgType::Markdown.content_limit(), TRUNCATION_MARKER) }
    }

    /// title ≤128 bytes, description ≤512 bytes (both cut, as WeCom cuts them), url http(s),
    /// btntxt ≤4 characters (default "详情").
    pub fn textcard(title: &str, description: &str, link: &str, btntxt: &str) -> Result<Body, BodyError> {
        if title.trim().is_empty() {
            return Err(invalid("textcard needs a title (WeCom 41016)"));
        }
        if description.trim().is_empty() {
            return Err(invalid("textcard needs a description (WeCom 41033)"));
        }
        Ok(Body::Textcard {
            title: fit(title.trim(), 128, SHORT_MARKER),
            description: fit(description.trim(), 512, SHORT_MARKER),
            url: url("textcard url", link)?,
            btntxt: if btntxt.trim().is_empty() { "详情".into() } else { chars(btntxt, 4) },
        })
    }

    /// 1 to 8 articles (45008 beyond); each needs a title (41016) and an http(s) url; title
    /// ≤128 bytes and description ≤512 bytes are cut.
    pub fn news(articles: Vec<Article>) -> Result<Body, BodyError> {
        if articles.is_empty() || articles.len() > 8 {
            return Err(invalid(format!("news takes 1 to 8 articles (WeCom 45008), got {}", articles.len())));
        }
        let articles = articles
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                if a.title.trim().is_empty() {
                    return Err(invalid(format!("news article {} needs a title (WeCom 41016)", i + 1)));
                }
                Ok(Article {
                    title: fit(a.title.trim(), 128, SHORT_MARKER),
                    description: fit(a.description.trim(), 512, SHORT_MARKER),
                    url: url(&format!("news article {} url", i + 1), &a.url)?,
                    picurl: if a.picurl.trim().is_empty() {
                        String::new()
                    } else {
                        url("picurl", &a.picurl)?
                    },
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Body::News { articles })
    }

    pub fn image(source: &str) -> Result<Body, BodyError> {
        Self::media_source(source).map(|source| Body::Image { source })
    }

    pub fn file(source: &str) -> Result<Body, BodyError> {
        Self::media_source(source).map(|source| Body::File { source })
    }

    fn media_source(source: &str) -> Result<String, BodyError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(invalid("image and file messages need a `source`: a file path or an http(s) URL"));
        }
        Ok(source.to_owned())
    }

    /// A template card: text_notice, news_notice or button_interaction, with the parts WeCom
    /// requires of each. (The per-field character counts in the doc are recommendations.)
    pub fn template_card(card: Value) -> Result<Body, BodyError> {
        let obj = card.as_object().ok_or_else(|| invalid("template_card must be a JSON object"))?;
        let kind = obj.get("card_type").and_then(Value::as_str).unwrap_or_default();
        let has = |field: &str| obj.get(field).is_some_and(|v| !v.is_null());
        let title =
            obj.get("main_title").and_then(|t| t.get("title")).and_then(Value::as_str).unwrap_or_default();
        match kind {
            "text_notice" => {
                if title.is_empty() && !has("sub_title_text") {
                    return Err(invalid("text_notice needs main_title.title or sub_title_text"));
                }
                if !has("card_action") {
                    return Err(invalid(
                        "text_notice needs a card_action (type 1 with url, or 2 with appid)",
                    ));
                }
            }
            "news_notice" => {
                if title.is_empty() {
                    return Err(invalid("news_notice needs main_title.title"));
                }
                if !has("card_image") && !has("image_text_area") {
                    return Err(invalid("news_notice needs card_image or image_text_area"));
                }
                if !has("card_action") {
                    return Err(invalid("news_notice needs a card_action"));
                }
            }
            "button_interaction" => {
                if !has("task_id") {
                    return Err(invalid(
                        "button_interaction needs a task_id (unique per app; A-Za-z0-9_-@, ≤128 bytes)",
                    ));
                }
                let buttons = obj.get("button_list").and_then(Value::as_array).map_or(0, Vec::len);
                if !(1..=6).contains(&buttons) {
                    return Err(invalid("button_interaction needs 1 to 6 buttons in button_list"));
                }
            }
            other => {
                return Err(invalid(format!(
                    "template_card card_type {other:?} is not supported: use text_notice, news_notice or button_interaction"
                )));
            }
        }
        Ok(Body::TemplateCard { card })
    }

    pub fn msgtype(&self) -> MsgType {
        match self {
            Body::Text { .. } => MsgType::Text,
            Body::Markdown { .. } => MsgType::Markdown,
            Body::Textcard { .. } => MsgType::Textcard,
            Body::News { .. } => MsgType::News,
            Body::Image { .. } => MsgType::Image,
            Body::File { .. } => MsgType::File,
            Body::TemplateCard { .. } => MsgType::TemplateCard,
        }
    }

    /// The text a reader would see first: for the log, `render`, and digests.
    pub fn preview(&self) -> String {
        match self {
            Body::Text { content } | Body::Markdown { content } => content.clone(),
            Body::Textcard { title, description, url, .. } => format!("{title}\n{description}\n{url}"),
            Body::News { articles } => {
                articles.iter().map(|a| format!("{}\n{}", a.title, a.url)).collect::<Vec<_>>().join("\n")
            }
            Body::Image { source } => format!("[image] {source}"),
            Body::File { source } => format!("[file] {source}"),
            Body::TemplateCard { card } => {
                let title = card.pointer("/main_title/title").and_then(Value::as_str).unwrap_or_default();
                let sub = card.get("sub_title_text").and_then(Value::as_str).unwrap_or_default();
                [title, sub].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\n")
            }
        }
    }

    /// What a member on the WeChat plugin can read instead (the plugin shows neither markdown
    /// nor template cards): the same words as plain text. `None` when this body is fine as it is.
    pub fn plugin_fallback(&self) -> Option<Body> {
        match self {
            Body::Markdown { content } => Some(Body::text(&strip_markdown(content))),
            Body::TemplateCard { .. } => Some(Body::text(&self.preview())),
            _ => None,
        }
    }

    /// Appends invisible zero-width spaces to the visible text, so that a new message identical
    /// to a recent one is not taken for a duplicate by WeCom's duplicate check.
    pub fn distinguished(self, repeats: usize) -> Body {
        let salt = "\u{200B}".repeat(repeats);
        match self {
            Body::Text { content } => Body::text(&format!("{content}{salt}")),
            Body::Markdown { content } => Body::markdown(&format!("{content}{salt}")),
            Body::Textcard { title, description, url, btntxt } => Body::Textcard {
                title,
                description: fit(&format!("{description}{salt}"), 512, SHORT_MARKER),
                url,
                btntxt,
            },
            other => other,
        }
    }

    /// The app (`message/send`) JSON of this msgtype; media must already be a media_id.
    pub(super) fn app_json(&self, media_id: Option<&str>) -> Value {
        match self {
            Body::Text { content } => json!({ "content": content }),
            Body::Markdown { content } => json!({ "content": content }),
            Body::Textcard { title, description, url, btntxt } => {
                json!({ "title": title, "description": description, "url": url, "btntxt": btntxt })
            }
            Body::News { articles } => json!({ "articles": articles }),
            Body::Image { .. } | Body::File { .. } => json!({ "media_id": media_id.unwrap_or_default() }),
            Body::TemplateCard { card } => card.clone(),
        }
    }
}

/// The characters markdown escapes with a backslash.
const ESCAPABLE: &str = "\\`*_{}[]()#+-.!<>|~";

/// Turns each escaped character (`\*`, `\<`) into a private-use stand-in, so that stripping
/// the syntax leaves it alone; `restore` turns the stand-ins back.
fn protect(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek().and_then(|next| ESCAPABLE.chars().position(|e| e == *next)) {
            Some(i) if c == '\\' => {
                out.push(char::from_u32(0xE000 + i as u32).expect("private-use range"));
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

fn restore(text: &str) -> String {
    text.chars()
        .map(|c| match (c as u32).checked_sub(0xE000).and_then(|i| ESCAPABLE.chars().nth(i as usize)) {
            Some(original) => original,
            None => c,
        })
        .collect()
}

/// Markdown as plain text: WeCom's subset (`**bold**`, `> quote`, `[text](url)`, `<font>`,
/// headings, back-ticks) without its syntax.
pub fn strip_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        // Escaped characters (`\*`, `\<`) are literal: they survive, their backslash does not.
        let protected = protect(line);
        let line = protected.as_str();
        let line = line.trim_start_matches(['#', '>', ' ']).trim_end();
        let mut rest = line;
        let mut plain = String::new();
        while let Some(start) = rest.find(['[', '<', '*', '`']) {
            plain.push_str(&rest[..start]);
            let tail = &rest[start..];
            if let Some(after) = tail.strip_prefix('[') {
                if let (Some(close), Some(open)) = (after.find("]("), after.find(')'))
                    && close < open
                {
                    plain.push_str(&format!("{} ({})", &after[..close], &after[close + 2..open]));
                    rest = &after[open + 1..];
                    continue;
                }
                plain.push('[');
                rest = after;
            } else if let Some(after) = tail.strip_prefix('<') {
                match after.find('>') {
                    Some(end)
                        if after[..end]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || " =\"'/_-".contains(c)) =>
                    {
                        rest = &after[end + 1..]
                    }
                    _ => {
                        plain.push('<');
                        rest = after;
                    }
                }
            } else {
                rest = &tail[1..]; // `*` and back-ticks are emphasis only
            }
        }
        plain.push_str(rest);
        out.push_str(&plain);
        out.push('\n');
    }
    restore(out.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_over_the_limit_is_cut_on_a_char_boundary_with_a_marker() {
        let Body::Text { content } = Body::text(&"用".repeat(1000)) else { unreachable!() };
        assert!(content.len() <= 2048, "{} bytes", content.len());
        assert!(content.ends_with(TRUNCATION_MARKER));
        assert!(content.trim_end_matches(TRUNCATION_MARKER).chars().all(|c| c == '用'));
    }

    #[test]
    fn text_within_the_limit_is_kept_verbatim() {
        let text = "a \"quoted\" `tick` <b>html</b>\nline two";
        assert_eq!(Body::text(text), Body::Text { content: text.into() });
    }

    #[test]
    fn textcard_fields_follow_wecoms_limits() {
        let Body::Textcard { title, description, url, btntxt } =
            Body::textcard(&"标".repeat(100), &"述".repeat(300), "https://x.cn/u", "查看详情页").unwrap()
        else {
            unreachable!()
        };
        assert!(title.len() <= 128 && description.len() <= 512);
        assert_eq!((url.as_str(), btntxt.as_str()), ("https://x.cn/u", "查看详情"));
        assert!(Body::textcard("t", "d", "x.cn/u", "").unwrap_err().0.contains("45034"));
        assert!(Body::textcard("t", " ", "https://x.cn", "").unwrap_err().0.contains("41033"));
    }

    #[test]
    fn news_takes_one_to_eight_articles() {
        let a = Article { title: "t".into(), url: "https://x.cn".into(), ..Default::default() };
        assert!(Body::news(vec![a.clone(); 8]).is_ok());
        assert!(Body::news(vec![a.clone(); 9]).unwrap_err().0.contains("45008"));
        assert!(Body::news(vec![]).is_err());
    }

    #[test]
    fn template_cards_need_their_parts() {
        let ok = json!({"card_type": "text_notice", "main_title": {"title": "t"}, "card_action": {"type": 1, "url": "https://x.cn"}});
        assert!(Body::template_card(ok).is_ok());
        let no_action = json!({"card_type": "text_notice", "main_title": {"title": "t"}});
        assert!(Body::template_card(no_action).unwrap_err().0.contains("card_action"));
        let vote = json!({"card_type": "vote_interaction"});
        assert!(Body::template_card(vote).is_err());
    }

    #[test]
    fn markdown_reads_as_plain_text_for_plugin_users() {
        let md =
            "## 新用户\n> **alice** 加入了 <font color=\"info\">研发部</font>\n[查看](https://x.cn/u/alice)";
        assert_eq!(strip_markdown(md), "新用户\nalice 加入了 研发部\n查看 (https://x.cn/u/alice)");
        assert_eq!(strip_markdown("姓名：Alice \\<Liu\\> a\\*b\\*"), "姓名：Alice <Liu> a*b*");
        assert_eq!(Body::markdown(md).plugin_fallback().unwrap().msgtype(), MsgType::Text);
        assert_eq!(Body::text("x").plugin_fallback(), None);
    }
}
