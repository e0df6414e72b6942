//! Events and their templates: the only code that knows the `templates/` files. Every template is
//! compiled and trial-rendered at start-up, so a broken one is reported with file and line then,
//! not at the first request.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, Value};

use crate::config::{EventSettings, TemplateSettings};
use crate::wecom::{Content, Message, MsgType, Recipients};

/// One configured event: its template, msgtype, recipients and required fields.
struct EventSpec {
    template: String,
    /// Name of the compiled one-line summary template, if the event has one.
    summary: Option<String>,
    label: String,
    msgtype: MsgType,
    recipients: Recipients,
    required: Vec<String>,
}

/// Per-request changes to an event's defaults (a manual alert may pick its msgtype and recipients).
#[derive(Debug, Default)]
pub struct Overrides {
    pub msgtype: Option<MsgType>,
    pub recipients: Option<Recipients>,
}

/// A rendered event.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub message: Message,
    /// One line standing for the notification in a digest (`alice`).
    pub summary: String,
    /// The digest's heading for the event (`新用户`).
    pub label: String,
}

pub struct Renderer {
    env: Environment<'static>,
    /// The offset `now` is shown in.
    utc_offset: time::UtcOffset,
    events: BTreeMap<String, EventSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {template}: {detail}")]
    Template { template: String, detail: String },
}

impl Renderer {
    /// Reads and checks every event's template under `dir`.
    pub fn load(
        settings: &TemplateSettings,
        events: &BTreeMap<String, EventSettings>,
    ) -> Result<Renderer, String> {
        let dir = settings.dir.as_path();
        let utc_offset = time::UtcOffset::parse(
            &settings.utc_offset,
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .map_err(|_| {
            format!("templates.utc_offset = {:?} is not an offset like \"+08:00\"", settings.utc_offset)
        })?;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_trim_blocks(true);
        env.set_formatter(format_value);
        let mut specs = BTreeMap::new();
        for (name, event) in events {
            let path = dir.join(&event.template);
            let source = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "events.{name}.template: cannot read {} ({e}): create it, or point templates.dir \
                     (now {}) at the folder that holds it",
                    path.display(),
                    dir.display()
                )
            })?;
            if env.get_template(&event.template).is_err() {
                env.add_template_owned(event.template.clone(), source).map_err(|e| describe(&path, &e))?;
            }
            let summary = match &event.summary {
                Some(source) => {
                    let key = format!("events.{name}.summary");
                    env.add_template_owned(key.clone(), source.clone())
                        .map_err(|e| describe(Path::new(&key), &e))?;
                    Some(key)
                }
                None => None,
            };
            let spec = EventSpec {
                template: event.template.clone(),
                summary,
                label: event.label.clone().unwrap_or_else(|| name.clone()),
                msgtype: event.msgtype,
                recipients: Recipients::new(&event.to_user, &event.to_party, &event.to_tag)
                    .map_err(|e| format!("events.{name}: {e}"))?,
                required: event.required.clone(),
            };
            specs.insert(name.clone(), spec);
        }
        let renderer = Renderer { env, utc_offset, events: specs };
        // A trial render, with just the required fields, finds unknown filters and bad
        // expressions now rather than at the first request.
        for (name, spec) in &renderer.events {
            let sample = sample_context(&spec.required);
            renderer
                .render_text(&spec.template, &sample)
                .map_err(|e| format!("events.{name}: {}", describe(&dir.join(&spec.template), &e)))?;
            if let Some(summary) = &spec.summary {
                renderer.render_text(summary, &sample).map_err(|e| describe(Path::new(summary), &e))?;
            }
        }
        Ok(renderer)
    }

    /// Known event names, for the 404 that lists them.
    pub fn event_names(&self) -> Vec<&str> {
        self.events.keys().map(String::as_str).collect()
    }

    pub fn knows(&self, event: &str) -> bool {
        self.events.contains_key(event)
    }

    /// The dotted paths this event needs as non-empty strings (`user.username`).
    pub fn required_fields(&self, event: &str) -> &[String] {
        self.events.get(event).map_or(&[], |s| s.required.as_slice())
    }

    /// Renders `event` with `context` into a message that fits WeCom's limits, with the line
    /// that stands for it in a digest.
    pub fn render(
        &self,
        event: &str,
        context: &serde_json::Value,
        overrides: Overrides,
    ) -> Result<Rendered, RenderError> {
        let spec = self.events.get(event).ok_or_else(|| RenderError::Template {
            template: event.into(),
            detail: "unknown event".into(),
        })?;
        let failed = |template: &str| {
            let template = template.to_owned();
            move |e: minijinja::Error| RenderError::Template { template, detail: e.to_string() }
        };
        let text = self.render_text(&spec.template, context).map_err(failed(&spec.template))?;
        let summary = match &spec.summary {
            Some(name) => self.render_text(name, context).map_err(failed(name))?,
            None => text.trim().lines().next().unwrap_or_default().to_owned(),
        };
        let msgtype = overrides.msgtype.unwrap_or(spec.msgtype);
        let message = Message {
            msgtype,
            content: Content::fit(text.trim(), msgtype),
            recipients: overrides.recipients.unwrap_or_else(|| spec.recipients.clone()),
        };
        Ok(Rendered { message, summary: summary.trim().to_owned(), label: spec.label.clone() })
    }

    fn render_text(&self, template: &str, context: &serde_json::Value) -> Result<String, minijinja::Error> {
        let now = time::OffsetDateTime::now_utc()
            .to_offset(self.utc_offset)
            .format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
            .unwrap_or_default();
        let ctx = Value::from_serialize(context);
        let ctx = minijinja::context! { now => now, ..ctx };
        self.env.get_template(template)?.render(ctx)
    }
}

/// The smallest body an event accepts: each required dotted path set to a sample string.
fn sample_context(required: &[String]) -> serde_json::Value {
    let mut root = serde_json::json!({});
    for path in required {
        let mut node = &mut root;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let leaf = i + 1 == parts.len();
            let default = if leaf { serde_json::json!("sample") } else { serde_json::json!({}) };
            node = node.as_object_mut().expect("objects only").entry(*part).or_insert(default);
        }
    }
    root
}

fn describe(path: &Path, e: &minijinja::Error) -> String {
    let line = e.line().map(|l| format!(" line {l}")).unwrap_or_default();
    let detail = e.detail().unwrap_or_default();
    format!("{}{line}: {} {detail}", path.display(), e.kind())
}

/// Values go into text templates as they are (JSON escaping happens on the wire). Templates named
/// `*.md` produce WeCom markdown, where a value's `*`, `[`, `<font>` and the like would change
/// the message, so their values are escaped.
fn format_value(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if state.name().ends_with(".md") && !value.is_safe() && !value.is_undefined() && !value.is_none() {
        let escaped = escape_markdown(&value.to_string());
        return out.write_str(&escaped).map_err(minijinja::Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

/// Backslash-escapes the markdown syntax WeCom's subset understands. Whether WeCom honours every
/// backslash escape is UNCONFIRMED; an escaped character at worst shows its backslash.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]()#+-.!<>|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_syntax_in_values_is_escaped() {
        assert_eq!(escape_markdown("*bold* <font>"), "\\*bold\\* \\<font\\>");
    }
}
