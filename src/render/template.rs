//! One template file: optional TOML front matter between `+++` lines that declares the msgtype
//! and its fields, then the body. Every string is a minijinja template. For example:
//!
//! ```text
//! +++
//! msgtype = "textcard"
//! title = "新用户：{{ user.username }}"
//! url = "https://admin.example.com/users/{{ user.username }}"
//! btntxt = "详情"
//! +++
//! {{ user.display_name }} 加入了 {{ user.department }}
//! ```
//!
//! The body is the content of text and markdown, the description of a textcard, and the card JSON
//! of a template_card (values are escaped for a JSON string). news takes `[[articles]]` with
//! title, description, url and picurl; image and file take `source` (a path or an http(s) URL).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use minijinja::Environment;
use serde::Deserialize;

use crate::wecom::{Article, Body, MsgType};

/// How values are escaped when they are inserted into a compiled template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    None,
    Markdown,
    /// textcard descriptions take a little HTML (`<div class="gray">`): values must not add any.
    Html,
    Json,
}

/// Compiled template names → their escaping, read by the formatter.
pub type Escapes = Arc<RwLock<HashMap<String, Escape>>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    msgtype: Option<MsgType>,
    title: Option<String>,
    url: Option<String>,
    btntxt: Option<String>,
    source: Option<String>,
    #[serde(default)]
    articles: Vec<ArticleFields>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct ArticleFields {
    title: String,
    #[serde(default)]
    description: String,
    url: String,
    #[serde(default)]
    picurl: String,
}

/// A loaded template: its msgtype and the names of its compiled parts.
#[derive(Debug, Clone)]
pub struct Template {
    pub msgtype: MsgType,
    body: String,
    fields: BTreeMap<&'static str, String>,
    articles: Vec<BTreeMap<&'static str, String>>,
}

/// Splits `+++` front matter from the body.
fn split(source: &str) -> Result<(Option<&str>, &str), String> {
    let Some(rest) = source.strip_prefix("+++\n").or_else(|| source.strip_prefix("+++\r\n")) else {
        return Ok((None, source));
    };
    let end = rest
        .find("\n+++")
        .ok_or("the front matter opened by `+++` on line 1 is never closed by a `+++` line")?;
    let body = rest[end + 4..].trim_start_matches(['\r']).strip_prefix('\n').unwrap_or(&rest[end + 4..]);
    Ok((Some(&rest[..end]), body))
}

impl Template {
    /// Parses `source` (file `name`) and compiles its parts into `env`. `default` is the msgtype
    /// of a template without front matter.
    pub fn compile(
        env: &mut Environment<'static>,
        escapes: &Escapes,
        name: &str,
        source: &str,
        default: MsgType,
    ) -> Result<Template, String> {
        let (front, body) = split(source).map_err(|e| format!("{name}: {e}"))?;
        let front: FrontMatter = match front {
            Some(text) => toml::from_str(text).map_err(|e| format!("{name}: front matter: {e}"))?,
            None => FrontMatter::default(),
        };
        let msgtype = front.msgtype.unwrap_or(default);
        let escape = match msgtype {
            MsgType::Markdown => Escape::Markdown,
            MsgType::TemplateCard => Escape::Json,
            MsgType::Textcard => Escape::Html,
            _ if name.ends_with(".md") => Escape::Markdown,
            _ => Escape::None,
        };
        let mut add = |part: String, text: String, escape: Escape| -> Result<String, String> {
            env.add_template_owned(part.clone(), text).map_err(|e| super::describe(&part, &e))?;
            escapes.write().expect("poisoned").insert(part.clone(), escape);
            Ok(part)
        };
        // Line numbers in errors count from the body's first line when there is front matter.
        let body = add(name.to_owned(), body.to_owned(), escape)?;
        let mut fields = BTreeMap::new();
        for (key, value) in
            [("title", front.title), ("url", front.url), ("btntxt", front.btntxt), ("source", front.source)]
        {
            if let Some(text) = value {
                fields.insert(key, add(format!("{name}#{key}"), text, Escape::None)?);
            }
        }
        let mut articles = Vec::new();
        for (i, a) in front.articles.iter().enumerate() {
            let mut parts = BTreeMap::new();
            for (key, text) in
                [("title", &a.title), ("description", &a.description), ("url", &a.url), ("picurl", &a.picurl)]
            {
                parts.insert(key, add(format!("{name}#articles[{i}].{key}"), text.clone(), Escape::None)?);
            }
            articles.push(parts);
        }
        let needs = |field: &str| -> Result<(), String> {
            if fields.contains_key(field) {
                Ok(())
            } else {
                Err(format!("{name}: a {} template needs `{field}` in its front matter", msgtype.as_str()))
            }
        };
        match msgtype {
            MsgType::Textcard => needs("title").and(needs("url"))?,
            MsgType::Image | MsgType::File => needs("source")?,
            MsgType::News if articles.is_empty() => {
                return Err(format!("{name}: a news template needs [[articles]]"));
            }
            _ => {}
        }
        Ok(Template { msgtype, body, fields, articles })
    }

    /// Renders every part with `render` and builds the body, held to WeCom's limits. `msgtype`
    /// may override a plain text/markdown template's own.
    pub fn build(
        &self,
        msgtype: MsgType,
        render: &dyn Fn(&str) -> Result<String, minijinja::Error>,
    ) -> Result<Result<Body, String>, minijinja::Error> {
        let field = |key: &str| -> Result<String, minijinja::Error> {
            self.fields.get(key).map_or(Ok(String::new()), |name| render(name))
        };
        let text = render(&self.body)?;
        let body = match msgtype {
            MsgType::Text => Ok(Body::text(&text)),
            MsgType::Markdown => Ok(Body::markdown(&text)),
            MsgType::Textcard => Body::textcard(&field("title")?, &text, &field("url")?, &field("btntxt")?),
            MsgType::News => {
                let mut list = Vec::new();
                for parts in &self.articles {
                    let get = |k: &str| render(&parts[k]);
                    list.push(Article {
                        title: get("title")?,
                        description: get("description")?,
                        url: get("url")?,
                        picurl: get("picurl")?,
                    });
                }
                Body::news(list)
            }
            MsgType::Image => Body::image(&field("source")?),
            MsgType::File => Body::file(&field("source")?),
            MsgType::TemplateCard => match serde_json::from_str(&text) {
                Ok(card) => Body::template_card(card),
                Err(e) => Err(crate::wecom::BodyError(format!("the card is not valid JSON: {e}"))),
            },
        };
        Ok(body.map_err(|e| e.0))
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn front_matter_is_split_from_the_body() {
        assert_eq!(
            split("+++\nmsgtype = \"text\"\n+++\nhello\n").unwrap(),
            (Some("msgtype = \"text\""), "hello\n")
        );
        assert_eq!(split("hello").unwrap(), (None, "hello"));
        assert!(split("+++\nmsgtype = 1\n").is_err());
    }
}
