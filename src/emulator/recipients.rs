//! Who a message reaches: `touser`/`toparty`/`totag` resolved against the app's visible range.

use super::config::{App, EmulatorConfig};
use super::wire::WeComError;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The members a send reaches (canonical userids, in config order) and the ids WeCom rejects.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Resolution {
    pub users: Vec<String>,
    pub invalid_user: Vec<String>,
    pub invalid_party: Vec<String>,
    pub invalid_tag: Vec<String>,
}

/// The `|`-separated ids of one recipient field, spaces trimmed (the official samples
/// put spaces around `|`). A missing field is empty; a non-string one is a parameter error.
fn ids(body: &Map<String, Value>, field: &str) -> Result<Vec<String>, WeComError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => {
            Ok(s.split('|').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        }
        Some(_) => Err(WeComError::param(format!("{field} should be a string"))),
    }
}

/// Party ids `roots` and all their sub-parties.
fn with_subparties(cfg: &EmulatorConfig, roots: &[u32]) -> BTreeSet<u32> {
    let mut set: BTreeSet<u32> =
        roots.iter().copied().filter(|id| cfg.parties.iter().any(|p| p.id == *id)).collect();
    loop {
        let before = set.len();
        for p in &cfg.parties {
            if p.parent_id.is_some_and(|parent| set.contains(&parent)) {
                set.insert(p.id);
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

/// Members of these parties (sub-parties included), lower-cased.
fn party_members(cfg: &EmulatorConfig, parties: &[u32]) -> BTreeSet<String> {
    let all = with_subparties(cfg, parties);
    cfg.members
        .iter()
        .filter(|m| m.department.iter().any(|d| all.contains(d)))
        .map(|m| m.userid.to_lowercase())
        .collect()
}

/// Members carrying a tag, directly or through a tagged party, lower-cased.
fn tag_members(cfg: &EmulatorConfig, tag_id: u32) -> BTreeSet<String> {
    let Some(tag) = cfg.tags.iter().find(|t| t.id == tag_id) else {
        return BTreeSet::new();
    };
    let mut set = party_members(cfg, &tag.parties);
    set.extend(tag.users.iter().map(|u| u.to_lowercase()));
    set
}

/// The app's visible range as lower-cased userids of existing members.
pub(crate) fn visible_users(cfg: &EmulatorConfig, app: &App) -> BTreeSet<String> {
    let mut set = party_members(cfg, &app.allow_parties);
    set.extend(app.allow_users.iter().map(|u| u.to_lowercase()));
    for t in &app.allow_tags {
        set.extend(tag_members(cfg, *t));
    }
    set.retain(|u| cfg.member(u).is_some());
    set
}

/// Resolves a send's recipient fields. Errors: 82001 all empty, 40032/82002/82003 too many.
pub(crate) fn resolve(
    cfg: &EmulatorConfig,
    app: &App,
    body: &Map<String, Value>,
) -> Result<(Resolution, bool), WeComError> {
    let users = ids(body, "touser")?;
    let parties = ids(body, "toparty")?;
    let tags = ids(body, "totag")?;
    if users.is_empty() && parties.is_empty() && tags.is_empty() {
        return Err(WeComError::code(82001));
    }
    if users.len() > 1000 {
        return Err(WeComError::new(40032, "invalid userid size"));
    }
    if parties.len() > 100 {
        return Err(WeComError::new(82002, "invalid partyid size"));
    }
    if tags.len() > 100 {
        return Err(WeComError::new(82003, "invalid tagid size"));
    }
    let visible = visible_users(cfg, app);
    let mut res = Resolution::default();
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut named_valid = false;

    if users.iter().any(|u| u == "@all") {
        // "@all" is the whole visible range; toparty and totag are then ignored.
        reached = visible;
        named_valid = true;
    } else {
        for u in &users {
            let lower = u.to_lowercase();
            if visible.contains(&lower) {
                reached.insert(lower);
                named_valid = true;
            } else {
                // WeCom lists invalid userids lower-cased ("统一转为小写").
                res.invalid_user.push(lower);
            }
        }
        let visible_parties = with_subparties(cfg, &app.allow_parties);
        for p in &parties {
            match p.parse::<u32>() {
                Ok(id) if visible_parties.contains(&id) => {
                    named_valid = true;
                    reached.extend(party_members(cfg, &[id]));
                }
                _ => res.invalid_party.push(p.clone()),
            }
        }
        for t in &tags {
            match t.parse::<u32>() {
                Ok(id) if app.allow_tags.contains(&id) && cfg.tags.iter().any(|x| x.id == id) => {
                    named_valid = true;
                    reached.extend(tag_members(cfg, id));
                }
                _ => res.invalid_tag.push(t.clone()),
            }
        }
    }
    res.users = cfg
        .members
        .iter()
        .filter(|m| reached.contains(&m.userid.to_lowercase()))
        .map(|m| m.userid.clone())
        .collect();
    Ok((res, named_valid))
}
