//! Events, their targets and their templates: the only code that knows the `templates/` files.
//! Every template is compiled and trial-rendered at start-up, so a broken one, or one that cannot
//! produce a valid message, is reported with its file then, not at the first request.

mod template;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use minijinja::{Environment, UndefinedBehavior, Value};

use crate::config::{EventSettings, Settings, TargetSettings};
use crate::wecom::{Body, MsgType, Recipients, robot_accepts};
use template::{Escape, Escapes, Template};

/// Where one rendered message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The app, to these recipients.
    App(Recipients),
    /// The group robot configured as `[robots.<name>]`, @-mentioning these members.
    Robot { name: String, mentioned: Vec<String> },
}

impl Destination {
    /// `app`, or `robot:<name>`: how answers and logs name a target.
    pub fn describe(&self) -> String {
        match self {
            Destination::App(_) => "app".into(),
            Destination::Robot { name, .. } => format!("robot:{name}"),
        }
    }
}

/// One target of an event: its template and destination.
struct TargetSpec {
    template: Template,
    destination: Destination,
}

struct EventSpec {
    targets: Vec<TargetSpec>,
    /// Name of the compiled one-line summary template, if the event has one.
    summary: Option<String>,
    label: String,
    required: Vec<String>,
}

/// Per-request changes to an event's app targets (a manual alert may pick its msgtype and
/// recipients).
#[derive(Debug, Default)]
pub struct Overrides {
    pub msgtype: Option<MsgType>,
    pub recipients: Option<Recipients>,
}

/// One message of a rendered event.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub destination: Destination,
    pub body: Body,
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
    /// Members on the WeChat plugin, lower-cased: they get a text version of markdown and cards.
    plugin_users: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template failed to render (a template bug).
    #[error("template {template}: {detail}")]
    Template { template: String, detail: String },
    /// The event's data made a message WeCom would refuse (e.g. a card url that is not http).
    #[error("the event's data does not make a valid message: {0}")]
    Invalid(String),
}

impl Renderer {
    /// Reads and checks every event's templates.
    pub fn load(settings: &Settings) -> Result<Renderer, String> {
        let t = &settings.templates;
        let utc_offset = time::UtcOffset::parse(
            &t.utc_offset,
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .map_err(|_| format!("templates.utc_offset = {:?} is not an offset like \"+08:00\"", t.utc_offset))?;
        let escapes: Escapes = Arc::new(RwLock::new(HashMap::new()));
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_trim_blocks(true);
        let lookup = escapes.clone();
        env.set_formatter(move |out, state, value| {
            let escape = lookup.read().expect("poisoned").get(state.name()).copied().unwrap_or(Escape::None);
            format_value(out, state, value, escape)
        });
        let mut compiled: HashMap<(String, MsgType), Template> = HashMap::new();
        let mut events = BTreeMap::new();
        for (name, event) in &settings.events {
            let mut targets = Vec::new();
            for (i, target) in targets_of(event).iter().enumerate() {
                let file = target.template.as_deref().unwrap_or(&event.template);
                let key = (file.to_owned(), event.msgtype);
                if !compiled.contains_key(&key) {
                    let path = t.dir.join(file);
                    let source = std::fs::read_to_string(&path).map_err(|e| {
                        format!(
                            "events.{name}: template {file}: cannot read {} ({e}): create it, or point templates.dir \
                             (now {}) at the folder that holds it",
                            path.display(),
                            t.dir.display()
                        )
                    })?;
                    let template = Template::compile(&mut env, &escapes, file, &source, event.msgtype)?;
                    compiled.insert(key.clone(), template);
                }
                let destination = destination(settings, event, target)
                    .map_err(|e| format!("events.{name}.targets[{i}]: {e}"))?;
                targets.push(TargetSpec { template: compiled[&key].clone(), destination });
            }
            let summary = match &event.summary {
                Some(source) => {
                    let key = format!("events.{name}.summary");
                    env.add_template_owned(key.clone(), source.clone()).map_err(|e| describe(&key, &e))?;
                    Some(key)
                }
                None => None,
            };
            let label = event.label.clone().unwrap_or_else(|| name.clone());
            events.insert(
                name.clone(),
                EventSpec { targets, summary, label, required: event.required.clone() },
            );
        }
        let plugin_users = settings.wecom.plugin_users.iter().map(|u| u.to_lowercase()).collect();
        let renderer = Renderer { env, utc_offset, events, plugin_users };
        // A trial render finds unknown filters, bad expressions and templates that cannot make a
        // valid message now rather than at the first request.
        for name in renderer.events.keys() {
            let rendered = renderer
                .render_with(name, Value::from_object(Sample("sample")), Overrides::default())
                .map_err(|e| format!("events.{name}: {e}"))?;
            for r in &rendered {
                if let Destination::Robot { name: robot, .. } = &r.destination {
                    robot_accepts(&r.body).map_err(|e| format!("events.{name}: robot {robot}: {e}"))?;
                }
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

    /// Renders `event` with `context`: one message per target (and a text version for members
    /// on the WeChat plugin), each held to WeCom's limits.
    pub fn render(
        &self,
        event: &str,
        context: &serde_json::Value,
        overrides: Overrides,
    ) -> Result<Vec<Rendered>, RenderError> {
        self.render_with(event, Value::from_serialize(context), overrides)
    }

    fn render_with(
        &self,
        event: &str,
        context: Value,
        overrides: Overrides,
    ) -> Result<Vec<Rendered>, RenderError> {
        let spec = self.events.get(event).ok_or_else(|| RenderError::Template {
            template: event.into(),
            detail: "unknown event".into(),
        })?;
        let render = |name: &str| self.render_text(name, &context);
        let mut out = Vec::new();
        let mut first_line = None;
        for target in &spec.targets {
            let app = matches!(target.destination, Destination::App(_));
            // A msgtype override applies to plain (text/markdown) templates of app targets.
            let msgtype = match (app, overrides.msgtype, target.template.msgtype) {
                (true, Some(m), MsgType::Text | MsgType::Markdown) => m,
                (_, _, own) => own,
            };
            let body = target
                .template
                .build(msgtype, &render)
                .map_err(|e| RenderError::Template {
                    template: e.name().unwrap_or(event).to_owned(),
                    detail: e.to_string(),
                })?
                .map_err(RenderError::Invalid)?;
            first_line.get_or_insert_with(|| body.preview().lines().next().unwrap_or_default().to_owned());
            let destination = match (&target.destination, &overrides.recipients) {
                (Destination::App(_), Some(r)) => Destination::App(r.clone()),
                (d, _) => d.clone(),
            };
            out.extend(self.split_for_plugin(destination, body));
        }
        let summary = match &spec.summary {
            Some(name) => render(name)
                .map_err(|e| RenderError::Template { template: name.clone(), detail: e.to_string() })?,
            None => first_line.unwrap_or_default(),
        };
        for r in &mut out {
            r.summary = summary.trim().to_owned();
            r.label = spec.label.clone();
        }
        Ok(out)
    }

    /// App messages that the WeChat plugin cannot show go to its users as text instead; lists
    /// longer than WeCom takes in one message are split.
    fn split_for_plugin(&self, destination: Destination, body: Body) -> Vec<Rendered> {
        let rendered = |destination: Destination, body: Body| -> Vec<Rendered> {
            let parts = match &destination {
                Destination::App(r) => r.split().into_iter().map(Destination::App).collect(),
                robot => vec![robot.clone()],
            };
            let message = |destination| Rendered {
                destination,
                body: body.clone(),
                summary: String::new(),
                label: String::new(),
            };
            parts.into_iter().map(message).collect()
        };
        let (Destination::App(recipients), Some(fallback)) = (&destination, body.plugin_fallback()) else {
            return rendered(destination, body);
        };
        let (plugin, others): (Vec<String>, Vec<String>) =
            recipients.users().iter().cloned().partition(|u| self.plugin_users.contains(&u.to_lowercase()));
        if plugin.is_empty() {
            return rendered(destination, body);
        }
        let mut out = Vec::new();
        if let Ok(rest) = Recipients::new(&others, recipients.parties(), recipients.tags()) {
            out.extend(rendered(Destination::App(rest), body));
        }
        if let Ok(to_plugin) = Recipients::new(&plugin, &[], &[]) {
            out.extend(rendered(Destination::App(to_plugin), fallback));
        }
        out
    }

    fn render_text(&self, template: &str, context: &Value) -> Result<String, minijinja::Error> {
        let now = time::OffsetDateTime::now_utc()
            .to_offset(self.utc_offset)
            .format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
            .unwrap_or_default();
        let ctx = minijinja::context! { now => now, ..context.clone() };
        self.env.get_template(template)?.render(ctx)
    }
}

/// The event's targets: its `[[targets]]`, or one app target from its own `to_*` lists.
fn targets_of(event: &EventSettings) -> Vec<TargetSettings> {
    if event.targets.is_empty() { vec![TargetSettings::default()] } else { event.targets.clone() }
}

fn destination(
    settings: &Settings,
    event: &EventSettings,
    target: &TargetSettings,
) -> Result<Destination, String> {
    if let Some(robot) = &target.robot {
        if !settings.robots.contains_key(robot) {
            return Err(format!(
                "robot `{robot}` is not configured: add [robots.{robot}] with its webhook key"
            ));
        }
        return Ok(Destination::Robot { name: robot.clone(), mentioned: target.mentioned_list.clone() });
    }
    // An app target without recipients of its own uses the event's.
    let own = !(target.to_user.is_empty() && target.to_party.is_empty() && target.to_tag.is_empty());
    let (users, parties, tags) = if own {
        (&target.to_user, &target.to_party, &target.to_tag)
    } else {
        (&event.to_user, &event.to_party, &event.to_tag)
    };
    Recipients::new(users, parties, tags).map(Destination::App).map_err(|e| e.to_string())
}

/// The stand-in context of the start-up trial render: any field of any depth exists, is truthy,
/// and reads as `sample` (or a URL, where its name says it is one), so that every template is
/// rendered through and what it makes is checked.
#[derive(Debug)]
struct Sample(&'static str);

impl minijinja::value::Object for Sample {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let url = key.as_str().is_some_and(|k| k.contains("url"));
        Some(Value::from_object(Sample(if url { "https://example.com/sample" } else { "sample" })))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

fn describe(name: &str, e: &minijinja::Error) -> String {
    let line = e.line().map(|l| format!(" line {l}")).unwrap_or_default();
    let detail = e.detail().unwrap_or_default();
    format!("{}{line}: {} {detail}", Path::new(name).display(), e.kind())
}

/// Values go into text templates as they are (JSON escaping happens on the wire); into markdown
/// with its syntax escaped, since a value's `*`, `[` or `<font>` would change the message; into
/// card JSON escaped for a JSON string.
fn format_value(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &Value,
    escape: Escape,
) -> Result<(), minijinja::Error> {
    if escape == Escape::None || value.is_safe() || value.is_undefined() || value.is_none() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = value.to_string();
    let escaped = match escape {
        Escape::Markdown => escape_markdown(&text),
        Escape::Html => {
            text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
        }
        _ => {
            let quoted = serde_json::to_string(&text).expect("a string serializes");
            quoted[1..quoted.len() - 1].to_owned()
        }
    };
    out.write_str(&escaped).map_err(minijinja::Error::from)
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
