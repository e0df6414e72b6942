//! `Application`: builds the relay from settings (templates, WeCom client, delivery, HTTP server)
//! and binds its own listener, so tests run the real thing on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::api::{self, AppState, AuthTokens};
use crate::config::Settings;
use crate::delivery::retry::RetryPolicy;
use crate::delivery::{Delivery, MemoryDelivery};
use crate::render::Renderer;
use crate::wecom::WeComClient;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Checks everything that can be checked before serving (secret, templates), then binds
    /// `server.listen`. Must be called inside a Tokio runtime: deliveries run on it.
    pub async fn build(settings: Settings) -> Result<Application, BoxError> {
        let secret = settings.require_wecom()?;
        let renderer = Renderer::load(&settings.templates, &settings.events)?;
        let client = Arc::new(WeComClient::new(&settings.wecom, secret)?);
        let delivery: Arc<dyn Delivery> = Arc::new(MemoryDelivery::new(
            client,
            RetryPolicy::from_settings(&settings.delivery),
            settings.delivery.queue_capacity,
        ));
        let listener = TcpListener::bind(settings.server.listen).map_err(|e| {
            format!("cannot listen on server.listen = {}: {e} (another process on that port? pick another)", settings.server.listen)
        })?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            renderer,
            delivery,
            max_body_bytes: settings.server.max_body_bytes,
            wait_timeout: settings.server.wait_timeout,
        });
        let tokens = web::Data::new(AuthTokens(settings.server.auth_tokens.clone()));
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(
                    actix_web::middleware::Logger::new("%a \"%r\" %s %b %Dms").exclude("/healthz"),
                )
                .app_data(state.clone())
                .app_data(tokens.clone())
                .configure(api::routes)
        })
        .listen(listener)?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        log::info!(
            "wecom-relay listening on http://{}:{port}",
            settings.server.listen.ip()
        );
        Ok(Application {
            port,
            server: server.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
