//! EmulatorConfig: loadable from TOML with unknown keys refused; demo corp; validation.

use figment::Figment;
use figment::providers::{Format, Toml};
use std::net::TcpListener;
use wecom_relay::emulator::{Emulator, EmulatorConfig};

const TOML: &str = r#"
corp_id = "ww0123456789abcdef"
robot_keys = ["6f1f7b2c-0000-4000-8000-000000000001"]
token_ttl_secs = 600

[[apps]]
agent_id = 1000002
secret = "s3cret"
name = "通知"
allow_parties = [1]
trusted_ips = ["203.0.113.7"]

[[members]]
userid = "zhangsan"
name = "张三"
department = [1]

[[parties]]
id = 1
name = "总部"
"#;

#[test]
fn loads_from_toml_with_defaults() {
    let cfg: EmulatorConfig = Figment::from(Toml::string(TOML)).extract().expect("valid config");
    assert_eq!(cfg.token_ttl_secs, 600);
    assert_eq!(cfg.text_hard_cap_bytes, 5120);
    assert_eq!((cfg.member_per_minute, cfg.member_per_hour, cfg.robot_per_minute), (30, 1000, 20));
    assert_eq!(cfg.apps[0].trusted_ips.as_ref().unwrap()[0].to_string(), "203.0.113.7");
    assert!(cfg.validate().is_ok());
}

#[test]
fn unknown_keys_are_refused() {
    let bad = format!("{TOML}\nsurprise = 1\n");
    let err = Figment::from(Toml::string(&bad)).extract::<EmulatorConfig>().unwrap_err();
    assert!(err.to_string().contains("surprise"), "{err}");
}

#[test]
fn demo_is_a_ready_corp() {
    let cfg = EmulatorConfig::demo();
    assert!(cfg.corp_id.starts_with("ww") && cfg.corp_id.len() == 18);
    assert_eq!(cfg.apps.len(), 1);
    assert_eq!(cfg.apps[0].agent_id, 1000002);
    assert_eq!(cfg.apps[0].secret.len(), 43);
    let ids: Vec<&str> = cfg.members.iter().map(|m| m.userid.as_str()).collect();
    assert_eq!(ids, ["zhangsan", "lisi", "wangwu", "admin"]);
    assert_eq!(cfg.robot_keys.len(), 1);
    assert_eq!(cfg.token_ttl_secs, 7200);
    assert_ne!(EmulatorConfig::demo().apps[0].secret, cfg.apps[0].secret);
}

#[test]
fn build_refuses_an_inconsistent_config() {
    let mut cfg = EmulatorConfig::demo();
    cfg.apps.push(cfg.apps[0].clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = Emulator::build(cfg, listener).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("duplicate agent_id"));
}
