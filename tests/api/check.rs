//! `wecom-relay check` against the emulator: each common setup mistake is named with its fix.

use std::process::Command;

use wecom_relay::emulator::{App, EmulatorConfig, Member};

use crate::emu::{TestEmu, spawn_emulator};

/// A corp with a second app and a member outside the first app's range.
fn corp() -> EmulatorConfig {
    let mut corp = EmulatorConfig::demo();
    corp.members.push(Member { userid: "outsider".into(), name: "外人".into(), department: vec![] });
    let mut other = corp.apps[0].clone();
    other.agent_id = 1000003;
    other.secret = "a-different-secret-of-the-other-app-0000000".into();
    corp.apps.push(App { name: "另一个应用".into(), ..other });
    corp
}

/// Runs `check` with `to_user` for user-added and the given overrides; returns (exit code, output).
/// It blocks its thread: the tests run on a multi-threaded runtime so that the emulator serves.
fn check(emu: &TestEmu, to_user: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(
        &file,
        format!(
            "[wecom]\napi_base = \"{}\"\ncorp_id = \"{}\"\nagent_id = {}\n[templates]\ndir = \"{}/templates\"\n\
             [events.user-added]\ntemplate = \"user-added.txt\"\nto_user = [{to_user}]\n",
            emu.url,
            emu.config.corp_id,
            emu.config.apps[0].agent_id,
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wecom-relay"))
        .args(["check", "--config"])
        .arg(&file)
        .env("WECOM_RELAY_WECOM__SECRET", &emu.config.apps[0].secret)
        .env("RUST_LOG", "off")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_setup_passes_every_check() {
    let emu = spawn_emulator(corp()).await;
    let (code, out) = check(&emu, "\"zhangsan\", \"@all\"", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("member zhangsan is reachable") && out.contains("all checks passed"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_says_to_fix_the_secret() {
    let emu = spawn_emulator(corp()).await;
    let (code, out) = check(&emu, "\"zhangsan\"", &[("WECOM_RELAY_WECOM__SECRET", "wrong-secret-value")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("40001") && out.contains("fix:") && out.contains("wecom.secret"), "{out}");
    assert!(!out.contains("wrong-secret-value"), "the secret was printed: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_id_of_another_app_says_they_do_not_belong_together() {
    let emu = spawn_emulator(corp()).await;
    let (code, out) = check(&emu, "\"zhangsan\"", &[("WECOM_RELAY_WECOM__AGENT_ID", "1000003")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("301002") && out.contains("belong to different apps"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_trusted_ip_names_the_ip_to_add() {
    let mut c = corp();
    c.apps[0].trusted_ips = Some(vec!["203.0.113.9".parse().unwrap()]);
    let emu = spawn_emulator(c).await;
    let (code, out) = check(&emu, "\"zhangsan\"", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("60020") && out.contains("add 127.0.0.1 to the app's trusted IPs (企业可信IP"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_the_app_cannot_see_or_that_do_not_exist_are_named() {
    let emu = spawn_emulator(corp()).await;
    let (code, out) = check(&emu, "\"zhangsan\", \"outsider\", \"ghost\"", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("member zhangsan is reachable"), "{out}");
    assert!(
        out.contains("member outsider is outside the app's visible range") && out.contains("可见范围"),
        "{out}"
    );
    assert!(out.contains("there is no member `ghost`"), "{out}");
    assert!(out.contains("2 check(s) failed"), "{out}");
}
