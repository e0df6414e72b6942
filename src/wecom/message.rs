//! Messages as the relay builds them (`Message`: a body and its recipients), and the private wire
//! shapes of `message/send` and `agent/get`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::body::Body;

/// Who receives a message: member ids, department ids and tag ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipients {
    users: Vec<String>,
    parties: Vec<String>,
    tags: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecipientsError {
    #[error("no recipients: give at least one of to_user, to_party, to_tag")]
    Empty,
    #[error("{field} entry `{value}` is not valid: {why}")]
    Invalid { field: &'static str, value: String, why: &'static str },
}

impl Recipients {
    pub fn new(users: &[String], parties: &[String], tags: &[String]) -> Result<Self, RecipientsError> {
        let clean = |v: &[String]| -> Vec<String> {
            v.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
        };
        let r = Recipients { users: clean(users), parties: clean(parties), tags: clean(tags) };
        if r.users.is_empty() && r.parties.is_empty() && r.tags.is_empty() {
            return Err(RecipientsError::Empty); // WeCom: 82001
        }
        for u in &r.users {
            // A userid is 1–64 of `A-Za-z0-9-_.@` (40003); `|` would split it on the wire.
            let ok = u == "@all"
                || (u.len() <= 64 && u.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c)));
            if !ok {
                return Err(RecipientsError::Invalid {
                    field: "to_user",
                    value: u.clone(),
                    why: "a member id is 1-64 letters, digits, `-`, `_`, `.` or `@` (or \"@all\")",
                });
            }
        }
        for (field, list) in [("to_party", &r.parties), ("to_tag", &r.tags)] {
            if let Some(bad) = list.iter().find(|p| !p.chars().all(|c| c.is_ascii_digit())) {
                return Err(RecipientsError::Invalid {
                    field,
                    value: bad.clone(),
                    why: "department and tag ids are numbers",
                });
            }
        }
        Ok(r)
    }

    /// WeCom takes at most 1000 users, 100 departments and 100 tags in one message (40032,
    /// 82002, 82003): longer lists go out as several messages.
    pub fn split(&self) -> Vec<Recipients> {
        let users: Vec<&[String]> = self.users.chunks(1000).collect();
        let parties: Vec<&[String]> = self.parties.chunks(100).collect();
        let tags: Vec<&[String]> = self.tags.chunks(100).collect();
        let parts = users.len().max(parties.len()).max(tags.len());
        let take = |chunks: &[&[String]], i: usize| chunks.get(i).map(|c| c.to_vec()).unwrap_or_default();
        (0..parts)
            .map(|i| Recipients { users: take(&users, i), parties: take(&parties, i), tags: take(&tags, i) })
            .collect()
    }

    pub fn users(&self) -> &[String] {
        &self.users
    }

    pub fn parties(&self) -> &[String] {
        &self.parties
    }

    pub fn tags(&self) -> &[String] {
        &self.tags
    }
}

impl std::fmt::Display for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> =
            [("to_user", &self.users), ("to_party", &self.parties), ("to_tag", &self.tags)]
                .into_iter()
                .filter(|(_, list)| !list.is_empty())
                .map(|(name, list)| format!("{name} {}", list.join("|")))
                .collect();
        f.write_str(&parts.join("; "))
    }
}

/// A message ready for WeCom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub body: Body,
    pub recipients: Recipients,
}

/// What WeCom answered to an accepted send. Members it could not reach are listed, never hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReceipt {
    pub msgid: String,
    pub invalid_users: Vec<String>,
    pub invalid_parties: Vec<String>,
    pub invalid_tags: Vec<String>,
    pub unlicensed_users: Vec<String>,
}

impl SendReceipt {
    pub fn has_invalid(&self) -> bool {
        !(self.invalid_users.is_empty()
            && self.invalid_parties.is_empty()
            && self.invalid_tags.is_empty()
            && self.unlicensed_users.is_empty())
    }
}

/// The JSON body of `message/send`. `media_id` stands in for an image or file source.
pub(super) fn send_request(
    msg: &Message,
    agentid: i64,
    duplicate_check: Option<u32>,
    media_id: Option<&str>,
) -> Value {
    let r = &msg.recipients;
    let msgtype = msg.body.msgtype().as_str();
    let mut request = json!({
        "touser": r.users.join("|"),
        "toparty": r.parties.join("|"),
        "totag": r.tags.join("|"),
        "msgtype": msgtype,
        "agentid": agentid,
        "enable_duplicate_check": u8::from(duplicate_check.is_some()),
    });
    request[msgtype] = msg.body.app_json(media_id);
    if let Some(window) = duplicate_check {
        request["duplicate_check_interval"] = json!(window);
    }
    request
}

/// The body of a `message/send` answer with errcode 0. Every field may be missing.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SendResponse {
    msgid: String,
    invaliduser: String,
    invalidparty: String,
    invalidtag: String,
    unlicenseduser: String,
}

impl From<SendResponse> for SendReceipt {
    fn from(r: SendResponse) -> Self {
        // The invalid* fields are `|`-joined strings, empty when all went well.
        let split = |s: String| -> Vec<String> {
            s.split('|').map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
        };
        SendReceipt {
            msgid: r.msgid,
            invalid_users: split(r.invaliduser),
            invalid_parties: split(r.invalidparty),
            invalid_tags: split(r.invalidtag),
            unlicensed_users: split(r.unlicenseduser),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_recipient_lists_are_split_into_messages_wecom_takes() {
        let users: Vec<String> = (0..2500).map(|i| format!("u{i}")).collect();
        let parties: Vec<String> = (0..150).map(|i| i.to_string()).collect();
        let parts = Recipients::new(&users, &parties, &[]).unwrap().split();
        let sizes: Vec<(usize, usize)> = parts.iter().map(|p| (p.users.len(), p.parties.len())).collect();
        assert_eq!(sizes, [(1000, 100), (1000, 50), (500, 0)]);
        assert_eq!(Recipients::new(&["a".into()], &[], &[]).unwrap().split().len(), 1);
    }

    #[test]
    fn recipients_reject_ids_that_would_break_the_pipe_list() {
        let bad = Recipients::new(&["a|b".into()], &[], &[]);
        assert!(matches!(bad, Err(RecipientsError::Invalid { .. })));
        assert_eq!(Recipients::new(&[], &[], &[]), Err(RecipientsError::Empty));
    }

    #[test]
    fn invalid_lists_are_split() {
        let r: SendReceipt =
            SendResponse { msgid: "m".into(), invaliduser: "bob|carol".into(), ..Default::default() }.into();
        assert_eq!(r.invalid_users, ["bob", "carol"]);
        assert!(r.invalid_parties.is_empty());
    }
}

/// The app as `agent/get` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub name: String,
    /// The app is disabled (`close` = 1).
    pub closed: bool,
    pub users: Vec<String>,
    pub parties: Vec<i64>,
    pub tags: Vec<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UserInfo {
    userid: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AllowUsers {
    user: Vec<UserInfo>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AllowParties {
    partyid: Vec<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AllowTags {
    tagid: Vec<i64>,
}

/// The body of an `agent/get` answer.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AgentResponse {
    name: String,
    close: i64,
    allow_userinfos: AllowUsers,
    allow_partys: AllowParties,
    allow_tags: AllowTags,
}

impl From<AgentResponse> for AgentInfo {
    fn from(r: AgentResponse) -> Self {
        AgentInfo {
            name: r.name,
            closed: r.close == 1,
            users: r.allow_userinfos.user.into_iter().map(|u| u.userid).collect(),
            parties: r.allow_partys.partyid,
            tags: r.allow_tags.tagid,
        }
    }
}
