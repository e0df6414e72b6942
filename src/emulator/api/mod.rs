//! The WeCom-facing routes under `/cgi-bin/`.

mod agent;
mod gettoken;
mod media;
pub(crate) mod message;
mod recall;
mod robot;
mod user;

use crate::emulator::wire::{self, WeComError};
use actix_web::{HttpRequest, HttpResponse, web};

/// A GET on a POST-only endpoint: WeCom answers 40058 (e.g. "POST sent as GET").
async fn post_only(req: HttpRequest) -> HttpResponse {
    WeComError::param("POST method required").reply(&wire::caller_ip(&req))
}

/// Registers every emulated WeCom endpoint.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/cgi-bin")
            .route("/gettoken", web::get().to(gettoken::gettoken))
            .route("/message/send", web::post().to(message::send))
            .route("/message/send", web::get().to(post_only))
            .route("/message/recall", web::post().to(recall::recall))
            .route("/message/recall", web::get().to(post_only))
            .route("/agent/get", web::get().to(agent::agent_get))
            .route("/user/get", web::get().to(user::user_get))
            .route("/media/upload", web::post().to(media::upload))
            .route("/media/upload", web::get().to(post_only))
            .route("/webhook/send", web::post().to(robot::webhook_send))
            .route("/webhook/send", web::get().to(post_only))
            .route("/webhook/upload_media", web::post().to(media::robot_upload)),
    );
}
