//! A local, stateful WeCom (企业微信) emulator: the `/cgi-bin/` API with WeCom's rules and
//! errcodes, a control API under `/_emulator/`, and an inbox page at `/`.
//!
//! WeCom endpoints: `GET gettoken`, `POST message/send`, `POST message/recall`, `GET agent/get`,
//! `GET user/get`,
//! `POST media/upload`, `POST webhook/send`, `POST webhook/upload_media` (all under `/cgi-bin/`).
//!
//! Control API (JSON; never subject to faults, latency or "down"):
//!
//! | route | body / query | effect |
//! |---|---|---|
//! | `POST /_emulator/faults` | `{"endpoint": "message_send"\|null, "times": 1, "errcode": -1}` or `"http_status": 502` / `"delay_ms": 3000` / `"drop_connection": true` | queue a fault |
//! | `GET /_emulator/faults` · `DELETE /_emulator/faults` | | list / clear queued faults |
//! | `POST /_emulator/tokens/revoke` · `/tokens/expire` | | next use → 40014 / 42001 |
//! | `POST /_emulator/latency` | `{"ms": 250}` | delay every WeCom call |
//! | `POST /_emulator/down` · `/up` | | drop every WeCom connection / serve again |
//! | `POST /_emulator/clock/advance` | `{"secs": 61}` or `{"ms": n}` | move the emulated clock |
//! | `GET /_emulator/messages` | `?user=ID` (optional) | delivered messages |
//! | `GET /_emulator/dropped` | `?user=ID` (optional) | dropped (rate) and suppressed (duplicate) |
//! | `GET /_emulator/robots` | `?key=KEY` (optional) | group-robot messages |
//! | `GET /_emulator/counters` | | call and outcome counts |
//! | `POST /_emulator/reset` | | forget everything but config and clock |
//! | `GET /_emulator/version` · `GET /_emulator/inbox` | | the inbox page's polling endpoints |
//!
//! Endpoint names: `gettoken`, `message_send`, `agent_get`, `user_get`, `media_upload`, `recall`,
//! `webhook`, `webhook_upload`.
//!
//! Dropped connections ("down" and [`FaultKind::DropConnection`]) are emulated by a response
//! whose body stream fails before anything is written: actix-http then closes the socket
//! without sending the status line, so the client sees a connection closed mid-request.

mod api;
mod clock;
mod config;
mod control;
mod gate;
mod handle;
mod inbox;
mod limits;
mod model;
mod multipart;
mod recipients;
mod state;
mod tokens;
mod validate;
mod wire;

pub use config::{App, EmulatorConfig, Member, Party, Tag};
pub use handle::EmulatorHandle;
pub use model::{Counters, Endpoint, Fault, FaultKind, Received, RobotReceived};

use actix_web::{App as ActixApp, HttpServer, web};
use state::Shared;
use std::net::TcpListener;
use std::sync::Arc;

/// A configured emulator, ready to serve on its listener.
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    listener: TcpListener,
    base_url: String,
}

impl Emulator {
    /// Binds nothing itself: serves on the given listener (port 0 in tests).
    /// Fails with `InvalidInput` when the config is inconsistent.
    pub fn build(config: EmulatorConfig, listener: TcpListener) -> std::io::Result<Emulator> {
        config.validate().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let addr = listener.local_addr()?;
        let host = if addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { addr.ip().to_string() };
        let base_url = if addr.is_ipv6() && !addr.ip().is_unspecified() {
            format!("http://[{host}]:{}", addr.port())
        } else {
            format!("http://{host}:{}", addr.port())
        };
        Ok(Emulator { shared: Shared::new(config), listener, base_url })
    }

    /// `http://127.0.0.1:PORT`: use it as the relay's `api_base`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// A cloneable handle to inspect and steer the emulator in-process.
    pub fn handle(&self) -> EmulatorHandle {
        EmulatorHandle { shared: self.shared.clone() }
    }

    /// Serves until the process ends (or the server is stopped by a signal).
    pub async fn run(self) -> std::io::Result<()> {
        // Built before the first await: the builder is not Send, the running server is.
        let server = self.server()?;
        server.await
    }

    fn server(self) -> std::io::Result<actix_web::dev::Server> {
        let shared = web::Data::new(self.shared);
        // One worker: many emulators share a test process, and the state sits behind one lock.
        Ok(HttpServer::new(move || {
            ActixApp::new()
                .app_data(shared.clone())
                .configure(api::routes)
                // The inbox's /_emulator/ routes must precede the control scope.
                .configure(inbox::routes)
                .configure(control::routes)
                .default_service(web::to(|| async { wire::status_only(404) }))
        })
        .workers(1)
        .disable_signals()
        .listen(self.listener)?
        .run())
    }
}
