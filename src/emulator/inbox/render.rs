//! Message content → HTML, roughly as the WeCom client draws it. Everything is escaped;
//! only the few tags WeCom itself honours (links, `<br>`, `<div class>`, `<font color>`)
//! are rebuilt, from parsed parts, never passed through.

use serde_json::Value;

/// HTML-escapes text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn safe_url(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then(|| escape(url.trim()))
}

fn link(url: &str, label_html: &str) -> String {
    match safe_url(url) {
        Some(u) => format!("<a href=\"{u}\" target=\"_blank\" rel=\"noopener noreferrer\">{label_html}</a>"),
        None => label_html.to_owned(),
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `<a href="URL">label</a>` at the start of `s`: (url, label, bytes consumed).
fn anchor(s: &str) -> Option<(&str, &str, usize)> {
    if !starts_with_ci(s, "<a ") {
        return None;
    }
    let href = s.find("href=")? + 5;
    let quote = s[href..].chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let url_end = href + 1 + s[href + 1..].find(quote)?;
    let open_end = url_end + s[url_end..].find('>')? + 1;
    let close = open_end + s[open_end..].to_ascii_lowercase().find("</a>")?;
    Some((&s[href + 1..url_end], &s[open_end..close], close + 4))
}

/// App/robot text: escaped, line breaks kept, `<a href>` links made clickable.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some((url, label, used)) = anchor(rest) {
            out.push_str(&link(url, &escape(label)));
            rest = &rest[used..];
            continue;
        }
        match c {
            '\n' => out.push_str("<br>"),
            _ => out.push_str(&escape(&c.to_string())),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// textcard descriptions: `<br>` and `<div class="gray|normal|highlight">` honoured.
pub(crate) fn card_description(s: &str) -> String {
    let mut out = String::new();
    let mut open = 0usize;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let tag = ["<br>", "<br/>", "<br />"].iter().find(|t| starts_with_ci(rest, t));
        if let Some(t) = tag {
            out.push_str("<br>");
            rest = &rest[t.len()..];
            continue;
        }
        let div = ["gray", "normal", "highlight"]
            .iter()
            .map(|k| (k, format!("<div class=\"{k}\">")))
            .find(|(_, t)| starts_with_ci(rest, t));
        if let Some((k, t)) = div {
            out.push_str(&format!("<div class=\"tc-{k}\">"));
            open += 1;
            rest = &rest[t.len()..];
            continue;
        }
        if open > 0 && starts_with_ci(rest, "</div>") {
            out.push_str("</div>");
            open -= 1;
            rest = &rest[6..];
            continue;
        }
        out.push_str(&if c == '\n' { "<br>".into() } else { escape(&c.to_string()) });
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&"</div>".repeat(open));
    out
}

/// `<font color="X">` at the start of `s`: (colour, bytes consumed).
fn font_open(s: &str) -> Option<(String, usize)> {
    if !starts_with_ci(s, "<font color=") {
        return None;
    }
    let q = s[12..].chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let end = 13 + s[13..].find(q)?;
    let close = end + 1 + s[end + 1..].find('>')?;
    Some((s[13..end].to_ascii_lowercase(), close + 1))
}

/// One markdown line's inline syntax: bold, code, links, font colours, `<@userid>` mentions.
fn inline(line: &str) -> String {
    let mut out = String::new();
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if let Some((colour, used)) = font_open(rest) {
            let class = match colour.as_str() {
                "info" | "comment" | "warning" => colour.as_str(),
                _ => "plain",
            };
            out.push_str(&format!("<span class=\"c-{class}\">"));
            stack.push("</span>");
            rest = &rest[used..];
        } else if starts_with_ci(rest, "</font>") {
            if stack.last() == Some(&"</span>") {
                out.push_str(stack.pop().unwrap_or_default());
            }
            rest = &rest[7..];
        } else if let Some(r) = rest.strip_prefix("**") {
            if stack.last() == Some(&"</strong>") {
                out.push_str(stack.pop().unwrap_or_default());
            } else {
                out.push_str("<strong>");
                stack.push("</strong>");
            }
            rest = r;
        } else if let Some((label, url, used)) = md_link(rest) {
            out.push_str(&link(url, &escape(label)));
            rest = &rest[used..];
        } else if let Some(end) = rest.strip_prefix("<@").and_then(|r| r.find('>')) {
            out.push_str(&format!("<span class=\"mention\">@{}</span>", escape(&rest[2..2 + end])));
            rest = &rest[end + 3..];
        } else if let Some(end) = rest.strip_prefix('`').and_then(|r| r.find('`')) {
            out.push_str(&format!("<code>{}</code>", escape(&rest[1..1 + end])));
            rest = &rest[end + 2..];
        } else {
            out.push_str(&escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    while let Some(close) = stack.pop() {
        out.push_str(close);
    }
    out
}

/// `[label](url)` at the start of `s`: (label, url, bytes consumed).
fn md_link(s: &str) -> Option<(&str, &str, usize)> {
    let r = s.strip_prefix('[')?;
    let label_end = r.find("](")?;
    let url_start = 1 + label_end + 2;
    let url_end = url_start + s[url_start..].find(')')?;
    Some((&s[1..1 + label_end], &s[url_start..url_end], url_end + 1))
}

/// WeCom's markdown subset: headings, quotes, bold, links, code, font colours, mentions.
pub(crate) fn markdown(s: &str) -> String {
    s.lines()
        .map(|line| {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
                return format!("<div class=\"md-h md-h{hashes}\">{}</div>", inline(line[hashes..].trim()));
            }
            if let Some(q) = line.strip_prefix('>') {
                return format!("<div class=\"md-quote\">{}</div>", inline(q.trim_start()));
            }
            if line.trim().is_empty() {
                return "<div class=\"md-gap\"></div>".into();
            }
            format!("<div>{}</div>", inline(line))
        })
        .collect()
}

/// A string field of a JSON object, or "".
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name).and_then(Value::as_str).unwrap_or("")
}

/// textcard: title, grey/highlight description, and the button.
pub(crate) fn textcard(v: &Value) -> String {
    format!(
        "<div class=\"card\"><div class=\"card-title\">{}</div><div class=\"card-desc\">{}</div><div class=\"card-btn\">{}</div></div>",
        escape(field(v, "title")),
        card_description(field(v, "description")),
        link(field(v, "url"), &escape(field(v, "btntxt")))
    )
}

/// news / mpnews: one block per article.
pub(crate) fn articles(v: &Value) -> String {
    let list = v.get("articles").and_then(Value::as_array).cloned().unwrap_or_default();
    let items: String = list
        .iter()
        .map(|a| {
            let desc = [field(a, "description"), field(a, "digest")].concat();
            let pic = safe_url(field(a, "picurl"))
                .map(|u| format!("<img class=\"news-pic\" src=\"{u}\" alt=\"\">"))
                .unwrap_or_default();
            let url = [field(a, "url"), field(a, "content_source_url")].concat();
            format!(
                "<div class=\"news\">{pic}<div class=\"news-title\">{}</div><div class=\"news-desc\">{}</div></div>",
                link(&url, &escape(field(a, "title"))),
                escape(&desc)
            )
        })
        .collect();
    format!("<div class=\"card\">{items}</div>")
}
