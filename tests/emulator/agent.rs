//! agent/get: the app's own details and visible range; another agentid is 301002. user/get: members
//! inside the visible range only.

use crate::helpers::{AGENT, assert_errmsg, spawn};

#[tokio::test]
async fn reads_its_own_app() {
    let emu = spawn().await;
    let token = emu.token().await;
    let v = emu.get(&format!("/cgi-bin/agent/get?access_token={token}&agentid={AGENT}")).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["agentid"], AGENT);
    assert_eq!(v["name"], emu.config.apps[0].name.as_str());
    assert_eq!(v["allow_partys"]["partyid"], serde_json::json!([1]));
    assert_eq!(v["allow_tags"]["tagid"], serde_json::json!([1]));
    assert!(v["allow_userinfos"]["user"].as_array().unwrap().is_empty());
    assert_eq!(v["close"], 0);
    assert_eq!(emu.handle.counters().agent_get, 1);
}

#[tokio::test]
async fn another_agentid_or_none_is_refused() {
    let emu = spawn().await;
    let token = emu.token().await;
    let v = emu.get(&format!("/cgi-bin/agent/get?access_token={token}&agentid=1000003")).await;
    assert_errmsg(&v, 301002, "not allow operate another agent with this accesstoken");
    let v = emu.get(&format!("/cgi-bin/agent/get?access_token={token}")).await;
    assert_eq!(v["errcode"], 41011);
    let v = emu.get(&format!("/cgi-bin/agent/get?agentid={AGENT}")).await;
    assert_eq!(v["errcode"], 41001);
}

#[tokio::test]
async fn user_get_reads_members_in_the_visible_range_only() {
    let mut corp = wecom_relay::emulator::EmulatorConfig::demo();
    corp.members.push(wecom_relay::emulator::Member {
        userid: "outsider".into(),
        name: "外人".into(),
        department: vec![],
    });
    let emu = crate::helpers::spawn_with(corp).await;
    let token = emu.token().await;
    let v = emu.get(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhangSan")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!((v["userid"].as_str(), v["department"].clone()), (Some("zhangsan"), serde_json::json!([1])));
    let v = emu.get(&format!("/cgi-bin/user/get?access_token={token}&userid=outsider")).await;
    assert_errmsg(&v, 60011, "no privilege to access/modify contact/party/agent");
    let v = emu.get(&format!("/cgi-bin/user/get?access_token={token}&userid=ghost")).await;
    assert_errmsg(&v, 60111, "userid not found");
    let v = emu.get(&format!("/cgi-bin/user/get?access_token={token}")).await;
    assert_eq!(v["errcode"], 41009);
    assert_eq!(emu.handle.counters().user_get, 4);
}
