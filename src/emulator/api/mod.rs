//! The WeCom-facing routes under `/cgi-bin/`.

mod agent;
mod gettoken;
mod media;
pub(crate) mod message;
mod recall;
mod robot;

use actix_web::web;

/// Registers every emulated WeCom endpoint.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/cgi-bin")
            .route("/gettoken", web::get().to(gettoken::gettoken))
            .route("/message/send", web::post().to(message::send))
            .route("/message/recall", web::post().to(recall::recall))
            .route("/agent/get", web::get().to(agent::agent_get))
            .route("/media/upload", web::post().to(media::upload))
            .route("/webhook/send", web::post().to(robot::webhook_send))
            .route("/webhook/upload_media", web::post().to(media::robot_upload)),
    );
}
