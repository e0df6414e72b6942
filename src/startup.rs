//! `Application`: builds the relay from settings (templates, WeCom client, queue and workers,
//! HTTP server), binds its own listener so tests run the real thing on port 0, and shuts down
//! gracefully on SIGTERM/SIGINT.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::api::{self, AppState, AuthTokens};
use crate::config::Settings;
use crate::delivery::{Delivery, Worker};
use crate::metrics::Metrics;
use crate::render::Renderer;
use crate::wecom::WeComClient;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Application {
    port: u16,
    server: Server,
    delivery: Arc<Delivery>,
    worker: Worker,
    grace: Duration,
}

impl Application {
    /// Checks everything that can be checked before serving (secret, templates, queue file),
    /// starts the workers and binds `server.listen`. Must be called inside a Tokio runtime.
    pub async fn build(settings: Settings) -> Result<Application, BoxError> {
        let secret = settings.require_wecom()?;
        let renderer = Renderer::load(&settings)?;
        let metrics = Arc::new(Metrics::default());
        let client = Arc::new(WeComClient::new(&settings.wecom, secret, metrics.clone())?);
        let listener = TcpListener::bind(settings.server.listen).map_err(|e| {
            format!(
                "cannot listen on server.listen = {}: {e} (another process on that port? pick another)",
                settings.server.listen
            )
        })?;
        let port = listener.local_addr()?.port();
        let (delivery, worker) = Delivery::start(&settings, client.clone(), metrics.clone()).await?;
        let limits = &settings.limits;
        if limits.per_member_per_minute > 30 || limits.per_member_per_hour > 1000 {
            log::warn!(
                "limits are above WeCom's 30 a minute / 1000 an hour per member: WeCom silently drops the excess"
            );
        }
        let state = web::Data::new(AppState {
            renderer,
            client,
            metrics,
            delivery: delivery.clone(),
            max_body_bytes: settings.server.max_body_bytes,
            wait_timeout: settings.server.wait_timeout,
        });
        let tokens = web::Data::new(AuthTokens(settings.server.auth_tokens.clone()));
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(api::count_responses))
                .wrap(actix_web::middleware::Logger::new("%a \"%r\" %s %b %Dms").exclude("/healthz"))
                .app_data(state.clone())
                .app_data(tokens.clone())
                .configure(api::routes)
        })
        // Signals are handled in `run_until_stopped`, which also stops the workers.
        .disable_signals()
        .shutdown_timeout(settings.delivery.shutdown_grace.as_secs().max(1))
        .listen(listener)?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        log::info!("wecom-relay listening on http://{}:{port}", settings.server.listen.ip());
        Ok(Application {
            port,
            server: server.run(),
            delivery,
            worker,
            grace: settings.delivery.shutdown_grace,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then: new notifications get 503, open requests finish,
    /// in-flight sends get `delivery.shutdown_grace` to finish, and the rest stays queued.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        shutdown_signal().await;
        log::info!("shutting down: refusing new notifications, finishing in-flight sends");
        self.delivery.stop_accepting();
        handle.stop(true).await;
        self.worker.stop(self.grace).await;
        let _ = server.await;
        log::info!("stopped");
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            log::warn!("cannot listen for SIGTERM ({e}); stop the relay with SIGINT (Ctrl-C)");
            let _ = ctrl_c.await;
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
