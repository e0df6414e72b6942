//! Settings: figment layers (built-in defaults < TOML file < `WECOM_RELAY_` environment), then
//! validation that names the offending key and says how to fix it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::wecom::MsgType;

mod validate;

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "WECOM_RELAY_CONFIG";
const ENV_PREFIX: &str = "WECOM_RELAY_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub wecom: WeComSettings,
    pub templates: TemplateSettings,
    pub delivery: DeliverySettings,
    pub queue: QueueSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    pub robots: BTreeMap<String, RobotSettings>,
    pub events: BTreeMap<String, EventSettings>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` lines, or one JSON object per line for log shippers. Levels come from `RUST_LOG`.
    pub format: crate::telemetry::LogFormat,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Bearer tokens accepted on `/notify/*` and the admin API. Never serialized back out.
    #[serde(skip_serializing)]
    pub auth_tokens: Vec<SecretString>,
    pub max_body_bytes: usize,
    /// How long `?wait=true` waits for the delivery outcome before answering 504.
    #[serde(with = "humantime_serde")]
    pub wait_timeout: Duration,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeComSettings {
    pub api_base: url::Url,
    pub corp_id: String,
    pub agent_id: i64,
    #[serde(skip_serializing)]
    pub secret: Option<SecretString>,
    pub secret_file: Option<PathBuf>,
    /// Members who read WeCom through the WeChat plugin (微信插件), which shows neither markdown
    /// nor template cards: they get a text version instead.
    pub plugin_users: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// A token is refreshed this long before WeCom's `expires_in` runs out.
    #[serde(with = "humantime_serde")]
    pub token_refresh_margin: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateSettings {
    /// Directory holding the event templates; relative to the config file's directory.
    pub dir: PathBuf,
    /// The UTC offset in which templates show `now` (China Standard Time by default).
    pub utc_offset: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Delays between attempts; the last one repeats until `max_attempts` or `max_age`.
    #[serde(with = "humantime_serde_vec")]
    pub retry_schedule: Vec<Duration>,
    /// Each delay is spread by up to this fraction either way so retries do not arrive in lockstep.
    pub jitter: f64,
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// Notifications accepted but not yet finished; past this the relay answers 503.
    pub queue_capacity: usize,
    /// Sends to WeCom in flight at once.
    pub concurrency: usize,
    /// WeCom's `duplicate_check_interval` (at most 4 h): a resend within it is not shown twice.
    #[serde(with = "humantime_serde")]
    pub duplicate_check_window: Duration,
    /// On SIGTERM/SIGINT, how long in-flight sends may take to finish.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueBackend {
    /// Embedded SQLite at `queue.path`: a 202 survives a crash.
    Sqlite,
    /// Nothing on disk: what is not yet sent is lost on a restart.
    Memory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    pub backend: QueueBackend,
    /// The SQLite file (relative to the working directory).
    pub path: PathBuf,
    /// Sent and failed notifications are forgotten after this long; dead ones are kept.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// WeCom drops what one app sends one member beyond 30 a minute and 1000 an hour.
    pub per_member_per_minute: usize,
    pub per_member_per_hour: usize,
    /// Held-back notifications wait this long for company before their digest goes out.
    #[serde(with = "humantime_serde")]
    pub digest_delay: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            backend: QueueBackend::Sqlite,
            path: "wecom-relay-queue.sqlite".into(),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            per_member_per_minute: 30,
            per_member_per_hour: 1000,
            digest_delay: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventSettings {
    pub template: String,
    #[serde(default)]
    pub msgtype: MsgType,
    #[serde(default)]
    pub to_user: Vec<String>,
    #[serde(default)]
    pub to_party: Vec<String>,
    #[serde(default)]
    pub to_tag: Vec<String>,
    /// Dotted paths that must be non-empty strings in the posted JSON (`user.username`).
    #[serde(default)]
    pub required: Vec<String>,
    /// Where the event goes; empty means one app target with the event's own recipients.
    #[serde(default)]
    pub targets: Vec<TargetSettings>,
    /// A one-line template standing for the notification in a digest (`{{ user.username }}`);
    /// by default the message's first line.
    #[serde(default)]
    pub summary: Option<String>,
    /// The digest's heading for this event; by default the event name.
    #[serde(default)]
    pub label: Option<String>,
}

/// One destination of an event: the app (to its recipients) or a group robot.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetSettings {
    /// A `[robots.<name>]`; absent means the app.
    #[serde(default)]
    pub robot: Option<String>,
    /// This target's template; by default the event's.
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub to_user: Vec<String>,
    #[serde(default)]
    pub to_party: Vec<String>,
    #[serde(default)]
    pub to_tag: Vec<String>,
    /// Robot text messages @-mention these member ids (or "@all").
    #[serde(default)]
    pub mentioned_list: Vec<String>,
}

/// A group robot (群机器人) of a WeCom group chat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotSettings {
    /// The `key` of the robot's webhook URL: a secret, set it by environment
    /// (`WECOM_RELAY_ROBOTS__<NAME>__KEY`).
    #[serde(skip_serializing, default)]
    pub key: Option<SecretString>,
}

mod humantime_serde_vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let texts: Vec<String> =
            v.iter().map(|d| humantime_serde::re::humantime::format_duration(*d).to_string()).collect();
        texts.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| {
                humantime_serde::re::humantime::parse_duration(t).map_err(|e| {
                    serde::de::Error::custom(format!("`{t}`: {e} (write e.g. \"5s\", \"2m\", \"1h\")"))
                })
            })
            .collect()
    }
}

impl Default for Settings {
    fn default() -> Self {
        let event = |template: &str, required: &[&str], summary: &str, label: &str| EventSettings {
            template: template.into(),
            msgtype: MsgType::Text,
            to_user: vec!["@all".into()],
            to_party: vec![],
            to_tag: vec![],
            required: required.iter().map(|s| s.to_string()).collect(),
            targets: vec![],
            summary: Some(summary.into()),
            label: Some(label.into()),
        };
        Settings {
            server: ServerSettings::default(),
            wecom: WeComSettings::default(),
            templates: TemplateSettings::default(),
            delivery: DeliverySettings::default(),
            queue: QueueSettings::default(),
            limits: LimitSettings::default(),
            log: LogSettings::default(),
            robots: BTreeMap::new(),
            events: BTreeMap::from([
                (
                    "user-added".into(),
                    event("user-added.txt", &["user.username"], "{{ user.username }}", "新用户"),
                ),
                ("alert".into(), event("alert.txt", &["content"], "{{ content }}", "告警")),
            ]),
        }
    }
}

impl Default for TemplateSettings {
    fn default() -> Self {
        TemplateSettings { dir: "templates".into(), utc_offset: "+08:00".into() }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            auth_tokens: vec![],
            max_body_bytes: 64 * 1024,
            wait_timeout: Duration::from_secs(10),
            workers: 0,
        }
    }
}

impl Default for WeComSettings {
    fn default() -> Self {
        WeComSettings {
            api_base: url::Url::parse("https://qyapi.weixin.qq.com").expect("static URL"),
            corp_id: String::new(),
            agent_id: 0,
            secret: None,
            secret_file: None,
            plugin_users: vec![],
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            token_refresh_margin: Duration::from_secs(300),
        }
    }
}

impl Default for DeliverySettings {
    fn default() -> Self {
        let secs = |s: u64| Duration::from_secs(s);
        DeliverySettings {
            retry_schedule: vec![secs(5), secs(30), secs(120), secs(600), secs(1800), secs(3600)],
            jitter: 0.2,
            max_attempts: 12,
            max_age: secs(24 * 3600),
            queue_capacity: 100_000,
            concurrency: 16,
            duplicate_check_window: secs(4 * 3600),
            shutdown_grace: secs(10),
        }
    }
}

/// Why the configuration cannot be used; the text names the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration: {0}")]
    Figment(#[from] Box<figment::Error>),
}

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

/// Which file to read: `--config`, else `$WECOM_RELAY_CONFIG`, else `./config.toml` when present.
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    let named = explicit
        .map(|p| (p.to_path_buf(), "--config"))
        .or_else(|| std::env::var_os(CONFIG_ENV).map(|p| (PathBuf::from(p), CONFIG_ENV)));
    match named {
        Some((path, _)) if path.is_file() => Ok(Some(path)),
        Some((path, from_)) => Err(invalid(format!(
            "{from_} names `{}`, which is not a readable file: fix the path or create the file \
             (the repository's config.toml is a documented example)",
            path.display()
        ))),
        None => Ok(Path::new("config.toml").is_file().then(|| PathBuf::from("config.toml"))),
    }
}

impl Settings {
    /// Loads the layers and validates everything that does not need the secret.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"]));
        let mut settings: Settings = figment.extract().map_err(|e| ConfigError::Figment(Box::new(e)))?;
        if let Some(dir) = file.and_then(Path::parent) {
            if settings.templates.dir.is_relative() {
                settings.templates.dir = dir.join(&settings.templates.dir);
            }
        }
        settings.validate()?;
        Ok(settings)
    }
}
