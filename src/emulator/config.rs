//! The emulated corp: its apps, members, parties, tags, robot keys and tunable limits.

use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::IpAddr;

/// Everything the emulator knows about its corp. Loadable from TOML (`deny_unknown_fields`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorConfig {
    /// The CorpID checked by `gettoken` (40013 when it differs).
    pub corp_id: String,
    /// The self-built apps (agents); each has its own secret and token.
    #[serde(default)]
    pub apps: Vec<App>,
    /// The corp's members.
    #[serde(default)]
    pub members: Vec<Member>,
    /// Departments; a party's visible range includes its sub-parties.
    #[serde(default)]
    pub parties: Vec<Party>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Group-robot webhook keys accepted by `webhook/send`.
    #[serde(default)]
    pub robot_keys: Vec<String>,
    /// Lifetime of an access_token, in seconds (WeCom: 7200).
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: u64,
    /// App text/markdown above this many bytes is refused with 45002 instead of truncated
    /// (observed at 5120 bytes; the exact cap is UNCONFIRMED). 0 disables the cap.
    #[serde(default = "default_hard_cap")]
    pub text_hard_cap_bytes: usize,
    /// Lifetime of an uploaded media_id, in seconds (WeCom: 3 days).
    #[serde(default = "default_media_ttl")]
    pub media_ttl_secs: u64,
    /// Messages one app may deliver to one member per minute before the rest is dropped.
    #[serde(default = "default_per_minute")]
    pub member_per_minute: u32,
    /// Messages one app may deliver to one member per hour before the rest is dropped.
    #[serde(default = "default_per_hour")]
    pub member_per_hour: u32,
    /// Messages one group robot accepts per minute before answering 45009.
    #[serde(default = "default_robot_per_minute")]
    pub robot_per_minute: u32,
}

/// A self-built app (agent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// The AgentId, e.g. 1000002.
    pub agent_id: i64,
    /// The app's Secret, used as `corpsecret` by `gettoken`.
    pub secret: String,
    /// Display name (shown by `agent/get` and the inbox).
    pub name: String,
    /// Visible range: member userids.
    #[serde(default)]
    pub allow_users: Vec<String>,
    /// Visible range: party ids (sub-parties included).
    #[serde(default)]
    pub allow_parties: Vec<u32>,
    /// Visible range: tag ids.
    #[serde(default)]
    pub allow_tags: Vec<u32>,
    /// 企业可信IP: when set, API calls from any other IP get 60020.
    #[serde(default)]
    pub trusted_ips: Option<Vec<IpAddr>>,
}

/// A corp member.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The userid (matched case-insensitively, as WeCom does).
    pub userid: String,
    /// Display name.
    pub name: String,
    /// Party ids the member belongs to.
    #[serde(default)]
    pub department: Vec<u32>,
}

/// A department.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Party id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Parent party, if any.
    #[serde(default)]
    pub parent_id: Option<u32>,
}

/// A tag: a named set of members and parties.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// Tag id.
    pub id: u32,
    /// Tag name.
    pub name: String,
    /// Members carrying the tag.
    #[serde(default)]
    pub users: Vec<String>,
    /// Parties carrying the tag (their members, sub-parties included).
    #[serde(default)]
    pub parties: Vec<u32>,
}

fn default_token_ttl() -> u64 {
    7200
}
fn default_hard_cap() -> usize {
    5120
}
fn default_media_ttl() -> u64 {
    3 * 24 * 3600
}
fn default_per_minute() -> u32 {
    30
}
fn default_per_hour() -> u32 {
    1000
}
fn default_robot_per_minute() -> u32 {
    20
}

/// Random characters from `[A-Za-z0-9]`, as WeCom uses for secrets.
pub(crate) fn random_alnum(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

impl EmulatorConfig {
    /// A ready corp: corp_id "ww" + random hex, one app 1000002 with a random 43-char secret,
    /// members zhangsan/lisi/wangwu/admin in party 1, tag 1 "ops", one robot key (uuid),
    /// token TTL 7200 s; the app sees everyone.
    pub fn demo() -> EmulatorConfig {
        let corp_id = format!("ww{:016x}", rand::random::<u64>());
        let people = [("zhangsan", "张三"), ("lisi", "李四"), ("wangwu", "王五"), ("admin", "管理员")];
        EmulatorConfig {
            corp_id,
            apps: vec![App {
                agent_id: 1000002,
                secret: random_alnum(43),
                name: "通知助手".into(),
                allow_users: Vec::new(),
                allow_parties: vec![1],
                allow_tags: vec![1],
                trusted_ips: None,
            }],
            members: people
                .iter()
                .map(|(id, name)| Member { userid: (*id).into(), name: (*name).into(), department: vec![1] })
                .collect(),
            parties: vec![Party { id: 1, name: "总部".into(), parent_id: None }],
            tags: vec![Tag {
                id: 1,
                name: "ops".into(),
                users: vec!["admin".into(), "wangwu".into()],
                parties: Vec::new(),
            }],
            robot_keys: vec![uuid::Uuid::new_v4().to_string()],
            token_ttl_secs: default_token_ttl(),
            text_hard_cap_bytes: default_hard_cap(),
            media_ttl_secs: default_media_ttl(),
            member_per_minute: default_per_minute(),
            member_per_hour: default_per_hour(),
            robot_per_minute: default_robot_per_minute(),
        }
    }

    /// Checks that ids are unique and references point at something; names the culprit.
    pub fn validate(&self) -> Result<(), String> {
        if self.corp_id.trim().is_empty() {
            return Err("corp_id must not be empty".into());
        }
        let mut seen = HashSet::new();
        for app in &self.apps {
            if !seen.insert(app.agent_id) {
                return Err(format!("apps: duplicate agent_id {}", app.agent_id));
            }
            if app.secret.is_empty() {
                return Err(format!("apps: agent {} has an empty secret", app.agent_id));
            }
        }
        let mut users = HashSet::new();
        for m in &self.members {
            if !users.insert(m.userid.to_lowercase()) {
                return Err(format!("members: duplicate userid {:?}", m.userid));
            }
        }
        let parties: HashSet<u32> = self.parties.iter().map(|p| p.id).collect();
        if parties.len() != self.parties.len() {
            return Err("parties: duplicate id".into());
        }
        let tags: HashSet<u32> = self.tags.iter().map(|t| t.id).collect();
        if tags.len() != self.tags.len() {
            return Err("tags: duplicate id".into());
        }
        if self.token_ttl_secs == 0 {
            return Err("token_ttl_secs must be at least 1".into());
        }
        Ok(())
    }

    /// The app with this agent id.
    pub(crate) fn app(&self, agent_id: i64) -> Option<&App> {
        self.apps.iter().find(|a| a.agent_id == agent_id)
    }

    /// The member with this userid, matched case-insensitively.
    pub(crate) fn member(&self, userid: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.userid.eq_ignore_ascii_case(userid))
    }
}
