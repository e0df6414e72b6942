//! The `wecom-relay` command line: parse, load settings, run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wecom_relay::config::{self, Settings};
use wecom_relay::startup::{Application, BoxError};
use wecom_relay::telemetry::{self, LogFormat};
use wecom_relay::{check, commands};

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
    /// The relay plus a built-in WeCom emulator with generated credentials: no WeCom account needed.
    Demo {
        /// Where the relay listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where the emulator (and its inbox page) listens.
        #[arg(long, default_value = "127.0.0.1:8090")]
        emulator_listen: SocketAddr,
    },
    /// The WeCom emulator alone.
    Emulator {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// A TOML file with the emulated corp (members, apps, secrets); default: generated.
        #[arg(long)]
        setup: Option<PathBuf>,
    },
    /// Validate config and templates, fetch a token, read the app, and report which configured
    /// recipients it can reach; exit 1 with the fix otherwise.
    Check,
    /// Send one message now, straight to WeCom.
    Send {
        /// Member ids, comma-separated (or "@all").
        #[arg(long, value_delimiter = ',', required = true)]
        to: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        msgtype: SendType,
        /// The message.
        text: String,
    },
    /// Print the message an event would produce, without sending it.
    Render {
        /// Event name, e.g. user-added.
        event: String,
        /// The JSON body the event would be posted with.
        #[arg(long)]
        data: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SendType {
    Text,
    Markdown,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    let settings = || -> Result<Settings, BoxError> {
        let file = config::locate(cli.config.as_deref())?;
        let settings = Settings::load(file.as_deref())?;
        telemetry::init(settings.log.format);
        Ok(settings)
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Ok(Application::build(settings()?).await?.run_until_stopped().await?),
        Command::Demo { listen, emulator_listen } => {
            commands::demo(settings()?, listen, emulator_listen).await
        }
        Command::Check => {
            if check::run(&settings()?).await {
                Ok(())
            } else {
                Err("some checks failed (see above)".into())
            }
        }
        Command::Emulator { listen, setup } => {
            telemetry::init(LogFormat::Text);
            commands::emulator(listen, setup.as_deref()).await
        }
        Command::Send { to, msgtype, text } => {
            commands::send(&settings()?, &to, matches!(msgtype, SendType::Markdown), &text).await
        }
        Command::Render { event, data } => {
            println!("{}", commands::render(&settings()?, &event, &data)?);
            Ok(())
        }
    }
}
