//! Image and file messages: the bytes come from a path or an http(s) URL, are checked against
//! WeCom's limits (DOC 90253: every file > 5 bytes; app image ≤ 10 MB JPG/PNG, file ≤ 20 MB;
//! robot image ≤ 2 MB), uploaded, and the media_id is reused until shortly before it expires
//! (3 days).

use std::time::Duration;

use md5::{Digest, Md5};
use moka::future::Cache;
use serde::Deserialize;

use super::WeComError;
use super::body::{Body, MsgType};
use super::client::WeComClient;
use super::token::AccessToken;

const MB: usize = 1024 * 1024;

/// A media_id lasts 3 days; it is reused for 2.5 so that it never expires in flight.
pub(super) fn cache() -> Cache<(MsgType, String), String> {
    Cache::builder().max_capacity(1024).time_to_live(Duration::from_secs(60 * 60 * 60)).build()
}

/// Loaded bytes, checked.
pub(super) struct Loaded {
    pub bytes: Vec<u8>,
    pub filename: String,
    pub md5: String,
}

/// Where the image must be JPG or PNG: WeCom refuses other formats (40005 observed).
fn is_jpg_or_png(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF]) || bytes.starts_with(b"\x89PNG\r\n\x1a\n")
}

/// An app message's attachment: its kind, source and WeCom's size limit for it.
fn app_attachment(body: &Body) -> Option<(MsgType, &str, usize)> {
    match body {
        Body::Image { source } => Some((MsgType::Image, source, 10 * MB)),
        Body::File { source } => Some((MsgType::File, source, 20 * MB)),
        _ => None,
    }
}

fn media_error(detail: String) -> WeComError {
    WeComError::Media { detail }
}

impl WeComClient {
    /// Reads `source` (a file path or an http(s) URL) and checks it for a `kind` message of at
    /// most `max` bytes.
    pub(super) async fn load(&self, source: &str, kind: MsgType, max: usize) -> Result<Loaded, WeComError> {
        let bytes = if source.starts_with("http://") || source.starts_with("https://") {
            let response = self
                .http
                .get(source)
                .send()
                .await
                .map_err(|e| media_error(format!("cannot download {source}: {}", e.without_url())))?;
            if !response.status().is_success() {
                return Err(media_error(format!("downloading {source} answered HTTP {}", response.status())));
            }
            if response.content_length().is_some_and(|n| n as usize > max) {
                return Err(media_error(format!(
                    "{source} is larger than WeCom's {} MB limit for a {}",
                    max / MB,
                    kind.as_str()
                )));
            }
            response
                .bytes()
                .await
                .map_err(|e| media_error(format!("cannot download {source}: {}", e.without_url())))?
                .to_vec()
        } else {
            tokio::fs::read(source).await.map_err(|e| media_error(format!("cannot read {source}: {e}")))?
        };
        if bytes.len() <= 5 {
            return Err(media_error(format!(
                "{source} has {} bytes: WeCom takes only files over 5 bytes",
                bytes.len()
            )));
        }
        if bytes.len() > max {
            return Err(media_error(format!(
                "{source} has {} bytes, more than WeCom's {} MB limit for a {}: send a smaller file, or a link in a news message",
                bytes.len(),
                max / MB,
                kind.as_str()
            )));
        }
        if kind == MsgType::Image && !is_jpg_or_png(&bytes) {
            return Err(media_error(format!(
                "{source} is not a JPG or PNG image, the only formats WeCom shows"
            )));
        }
        let filename =
            source.rsplit(['/', '\\']).next().filter(|n| !n.is_empty()).unwrap_or("attachment").to_owned();
        let md5 = format!("{:x}", Md5::digest(&bytes));
        Ok(Loaded { bytes, filename, md5 })
    }

    /// The media_id an image or file body needs (uploaded, or from the cache); `None` for others.
    pub(super) async fn app_media(
        &self,
        body: &Body,
        token: &AccessToken,
    ) -> Result<Option<String>, WeComError> {
        let Some((kind, source, max)) = app_attachment(body) else { return Ok(None) };
        let loaded = self.load(source, kind, max).await?;
        let key = (kind, loaded.md5.clone());
        if let Some(id) = self.media.get(&key).await {
            return Ok(Some(id));
        }
        let url = self.url("cgi-bin/media/upload");
        let request = self
            .http
            .post(url)
            .query(&[("access_token", token.expose()), ("type", kind.as_str())])
            .multipart(form(loaded));
        let id = self.upload("media/upload", request, Some(token.expose())).await?;
        self.media.insert(key, id.clone()).await;
        Ok(Some(id))
    }

    /// Drops the cached media_id of this body; true if there was one to drop.
    pub(super) async fn forget_media(&self, body: &Body) -> bool {
        let Some((kind, source, max)) = app_attachment(body) else { return false };
        match self.load(source, kind, max).await {
            Ok(loaded) => self.media.remove(&(kind, loaded.md5)).await.is_some(),
            Err(_) => false,
        }
    }

    /// Makes an upload call and returns the media_id.
    pub(super) async fn upload(
        &self,
        api: &'static str,
        request: reqwest::RequestBuilder,
        hidden: Option<&str>,
    ) -> Result<String, WeComError> {
        #[derive(Deserialize)]
        struct Uploaded {
            media_id: String,
        }
        let uploaded: Uploaded = self.call(api, request, hidden).await?;
        Ok(uploaded.media_id)
    }
}

/// The multipart form WeCom expects: one part named `media` with the file name.
pub(super) fn form(loaded: Loaded) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(loaded.bytes).file_name(loaded.filename);
    reqwest::multipart::Form::new().part("media", part)
}
