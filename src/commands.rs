//! The subcommands other than `serve`: the emulator alone, the zero-setup demo, and `render`.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::SecretString;

use crate::config::{QueueBackend, Settings};
use crate::emulator::{Emulator, EmulatorConfig};
use crate::render::{Destination, Renderer};
use crate::startup::{Application, BoxError};
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::wecom::{Body, Message, Recipients, SendOptions, WeComClient};

fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, BoxError> {
    TcpListener::bind(addr).map_err(|e| {
        format!("cannot listen on {addr} for the {what}: {e} (is it already running? pick another port)")
            .into()
    })
}

fn emulator_config(setup: Option<&Path>) -> Result<EmulatorConfig, BoxError> {
    match setup {
        None => Ok(EmulatorConfig::demo()),
        Some(path) => Figment::from(Toml::file_exact(path))
            .extract()
            .map_err(|e| format!("emulator setup {}: {e}", path.display()).into()),
    }
}

/// `wecom-relay emulator`: the WeCom emulator alone, until interrupted.
pub async fn emulator(listen: SocketAddr, setup: Option<&Path>) -> Result<(), BoxError> {
    let config = emulator_config(setup)?;
    let app = &config.apps[0];
    let emulator = Emulator::build(config.clone(), bind(listen, "emulator")?)?;
    let base = emulator.base_url();
    println!("WeCom emulator on {base}\n  inbox:   {base}/\n  control: {base}/_emulator/counters");
    println!(
        "Point a relay at it:\n  WECOM_RELAY_WECOM__API_BASE={base} WECOM_RELAY_WECOM__CORP_ID={} \
         WECOM_RELAY_WECOM__AGENT_ID={} WECOM_RELAY_WECOM__SECRET={} wecom-relay serve",
        config.corp_id, app.agent_id, app.secret
    );
    println!("Members: {}", config.members.iter().map(|m| m.userid.as_str()).collect::<Vec<_>>().join(", "));
    tokio::select! {
        served = emulator.run() => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// `wecom-relay demo`: the relay and an emulator in one process, with generated credentials.
pub async fn demo(
    mut settings: Settings,
    listen: SocketAddr,
    emulator_listen: SocketAddr,
) -> Result<(), BoxError> {
    let config = EmulatorConfig::demo();
    let app = config.apps[0].clone();
    let emulator = Emulator::build(config.clone(), bind(emulator_listen, "emulator")?)?;
    let inbox = emulator.base_url();
    settings.wecom.api_base = inbox.parse()?;
    settings.wecom.corp_id = config.corp_id.clone();
    settings.wecom.agent_id = app.agent_id;
    settings.wecom.secret = Some(SecretString::from(app.secret.clone()));
    settings.wecom.secret_file = None;
    // A demo leaves no queue file behind.
    settings.queue.backend = QueueBackend::Memory;
    settings.server.listen = listen;
    let token = format!("demo-{}", uuid::Uuid::new_v4().simple());
    settings.server.auth_tokens = vec![SecretString::from(token.clone())];
    let relay = Application::build(settings).await?;
    let url = format!("http://{}:{}", listen.ip(), relay.port());
    tokio::spawn(emulator.run());
    println!(
        "\nwecom-relay demo: the relay at {url}, talking to a built-in WeCom emulator.\n\n\
         1. Open the inbox:  {inbox}/\n\
         2. Add a user:\n\n\
         curl -X POST {url}/notify/user-added -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n  \
         -d '{{\"user\": {{\"username\": \"alice\", \"display_name\": \"Alice\", \"email\": \"alice@example.com\"}}}}'\n\n\
         3. Or send an alert:\n\n\
         curl -X POST {url}/notify/alert -H 'Authorization: Bearer {token}' -d 'disk /var is 97% full'\n\n\
         For darkerserver: WECOM_RELAY_URL={url} WECOM_RELAY_TOKEN={token}\n\
         Members: {}. Stop with Ctrl-C.\n",
        config.members.iter().map(|m| m.userid.as_str()).collect::<Vec<_>>().join(", ")
    );
    relay.run_until_stopped().await?;
    Ok(())
}

/// `wecom-relay render`: prints the message(s) an event would produce: text as it reads, other
/// msgtypes as the JSON body; with several targets, each under a `# target (msgtype)` line.
pub fn render(settings: &Settings, event: &str, data: &str) -> Result<String, BoxError> {
    let renderer = Renderer::load(settings)?;
    if !renderer.knows(event) {
        return Err(format!(
            "unknown event `{event}`: known events are {}",
            renderer.event_names().join(", ")
        )
        .into());
    }
    let context: serde_json::Value =
        serde_json::from_str(data).map_err(|e| format!("--data is not valid JSON: {e}"))?;
    let rendered = renderer.render(event, &context, Default::default())?;
    let several = rendered.len() > 1;
    let mut out = Vec::new();
    for r in rendered {
        let text = match &r.body {
            Body::Text { content } | Body::Markdown { content } => content.clone(),
            other => serde_json::to_string_pretty(other)?,
        };
        let to = match &r.destination {
            Destination::App(recipients) => recipients.to_string(),
            Destination::Robot { name, .. } => format!("robot {name}"),
        };
        out.push(if several {
            format!("# {} → {to} ({})\n{text}", r.destination.describe(), r.body.msgtype().as_str())
        } else {
            text
        });
    }
    Ok(out.join("\n\n"))
}

/// `wecom-relay send`: one message now, straight to WeCom (not through the queue).
pub async fn send(settings: &Settings, to: &[String], markdown: bool, text: &str) -> Result<(), BoxError> {
    let secret = settings.require_wecom()?;
    let client = WeComClient::new(&settings.wecom, secret, Arc::new(Metrics::default()))?;
    let body = if markdown { Body::markdown(text) } else { Body::text(text) };
    let recipients = Recipients::new(to, &[], &[])?;
    match client.send(&Message { body, recipients }, SendOptions::default()).await {
        Ok(receipt) => {
            println!("sent: msgid {}", receipt.msgid);
            if receipt.has_invalid() {
                println!("WeCom could not reach: {:?}", receipt.invalid_users);
            }
            Ok(())
        }
        Err(e) => Err(format!("{e}\nfix: {}", e.hint()).into()),
    }
}
