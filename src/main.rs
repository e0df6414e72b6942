//! The `wecom-relay` command line: parse, load settings, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wecom_relay::config::{self, Settings};
use wecom_relay::startup::{Application, BoxError};

#[derive(Parser)]
#[command(version, about = "Relay application events to WeCom (企业微信) members")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Config file (default: $WECOM_RELAY_CONFIG, else ./config.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay (the default).
    Serve,
    /// Print the message an event would produce, without sending it.
    Render {
        /// Event name, e.g. user-added.
        event: String,
        /// The JSON body the event would be posted with.
        #[arg(long)]
        data: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    wecom_relay::telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    let file = config::locate(cli.config.as_deref())?;
    let settings = Settings::load(file.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Ok(Application::build(settings).await?.run_until_stopped().await?),
        Command::Render { event, data } => {
            let renderer = wecom_relay::render::Renderer::load(&settings.templates, &settings.events)?;
            let context: serde_json::Value =
                serde_json::from_str(&data).map_err(|e| format!("--data is not valid JSON: {e}"))?;
            let rendered = renderer.render(&event, &context, Default::default())?;
            println!("{}", rendered.message.content.as_str());
            Ok(())
        }
    }
}
