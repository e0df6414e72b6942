//! A real browser on the emulator's inbox page: the relay delivers a `user-added` notification
//! to the emulator, and headless Chromium (driven over WebDriver by chromedriver) must show it,
//! escaped, in each member's chat, without a reload.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test is skipped, except
//! under `CI`, where it fails. `WECOM_RELAY_SCREENSHOT=1` also writes the page to `docs/inbox.png`.

mod stack;
mod webdriver;

use std::io::Write;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use stack::Stack;
use webdriver::{Binaries, Chromedriver, Session};

const SCREENSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/inbox.png");
const ALERT: &str = "磁盘空间不足：db-1 的 /var 已用 92%";

/// The browser binaries, or `None` after saying why the test is skipped. Under `CI` a missing
/// browser is a failure: a green run must mean the page was really checked.
fn browser_or_skip() -> Option<Binaries> {
    if let Some(bins) = Binaries::find() {
        return Some(bins);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but chromium or chromedriver is not on PATH: apt-get install chromium chromium-driver"
    );
    // Straight to stderr: libtest captures `eprintln!` of passing tests, and this must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "browser test skipped: install chromium chromium-driver (chromium or chromedriver is not on PATH)"
    );
    None
}

#[tokio::test]
async fn the_inbox_page_shows_a_new_user_escaped_under_each_member() {
    let Some(bins) = browser_or_skip() else { return };
    let stack = Stack::start().await;
    let driver = Chromedriver::start(&bins).await;
    let browser = driver.session(1280, 900).await;

    // Open the page first, so that what follows can only appear through its own polling.
    browser.goto(&format!("{}/", stack.emulator)).await;
    let before = browser.body_text().await;
    assert!(before.contains("No messages yet"), "an empty inbox at first, got: {before}");

    let username = format!("browser-测试-{:08x}", rand::random::<u32>());
    let ada = json!({"user": {"username": username, "display_name": "Ada <b>Lovelace</b>",
                              "email": "ada@example.com"}});
    stack.notify_json("user-added", &ada).await;
    // Company for the screenshot: a second user and an alert sent as plain text.
    let lisa = json!({"user": {"username": "lisa.chen", "display_name": "陈丽莎",
                               "email": "lisa.chen@example.com", "department": "市场部"}});
    stack.notify_json("user-added", &lisa).await;
    stack.notify_text("alert", ALERT).await;

    let text = wait_for_text(&browser, &[&username, "lisa.chen", ALERT], Duration::from_secs(10)).await;
    assert!(text.contains("Ada <b>Lovelace</b>"), "the markup shows as typed: {text}");

    let members = chats(&browser).await;
    let zhangsan = members
        .iter()
        .find(|m| m.recipient == "zhangsan")
        .unwrap_or_else(|| panic!("no chat for zhangsan in {members:?}"));
    let bubble = zhangsan
        .bubbles
        .iter()
        .find(|b| b.text.contains(&username))
        .unwrap_or_else(|| panic!("{username} is not in zhangsan's chat: {zhangsan:?}"));
    assert!(bubble.text.contains("Ada <b>Lovelace</b>"), "{bubble:?}");
    assert!(bubble.text.contains("ada@example.com"), "{bubble:?}");
    assert!(!bubble.tags.iter().any(|t| t == "b"), "the display name made a <b> element: {bubble:?}");
    for who in ["lisi", "wangwu", "admin"] {
        let chat = members.iter().find(|m| m.recipient == who).unwrap_or_else(|| panic!("no chat for {who}"));
        assert!(chat.bubbles.iter().any(|b| b.text.contains(&username)), "@all reaches {who}: {chat:?}");
    }

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the screenshot is a PNG");
    if std::env::var_os("WECOM_RELAY_SCREENSHOT").is_some() {
        let written = std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/docs"))
            .and_then(|()| std::fs::write(SCREENSHOT, &png));
        written.unwrap_or_else(|e| panic!("writing {SCREENSHOT}: {e}"));
    }
    browser.quit().await;
}

/// Polls the page's visible text until it holds every one of `wanted`, or fails at the deadline.
async fn wait_for_text(browser: &Session, wanted: &[&str], within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = browser.body_text().await;
        if wanted.iter().all(|w| text.contains(w)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "after {within:?} the page still lacks one of {wanted:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One chat column of the page: whose it is and its message bubbles.
#[derive(Debug, Deserialize)]
struct Chat {
    recipient: String,
    bubbles: Vec<Bubble>,
}

/// A bubble's rendered text and the tag names of the elements inside it.
#[derive(Debug, Deserialize)]
struct Bubble {
    text: String,
    tags: Vec<String>,
}

async fn chats(browser: &Session) -> Vec<Chat> {
    let script = r#"
        return Array.from(document.querySelectorAll(".member")).map(function (m) {
            var who = m.querySelector(".who small");
            return {
                recipient: who ? who.textContent.trim() : "",
                bubbles: Array.from(m.querySelectorAll(".bubble .content")).map(function (c) {
                    return {
                        text: c.innerText,
                        tags: Array.from(c.querySelectorAll("*")).map(function (e) { return e.localName; })
                    };
                })
            };
        });
    "#;
    let value = browser.execute(script).await;
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("unexpected page structure {value}: {e}"))
}
