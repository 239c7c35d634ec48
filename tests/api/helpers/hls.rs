//! HLS videos in the store and their entry point, for the HLS test files.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use reqwest::StatusCode;
use serde_json::Value;

use super::TestApp;

/// An HLS video's objects: path inside its folder → bytes.
pub type HlsObjects = BTreeMap<String, Vec<u8>>;

/// Text objects from `(path, text)` pairs.
pub fn hls_objects(list: &[(&str, &str)]) -> HlsObjects {
    list.iter()
        .map(|(path, text)| ((*path).to_owned(), text.as_bytes().to_vec()))
        .collect()
}

/// The grant a playlist URL carries.
pub fn grant_of(url: &str) -> String {
    url.split("grant=").nth(1).expect("a grant").to_owned()
}

impl TestApp {
    /// Stores `objects` as HLS video `id` in `tier`, as an operator (or `put-hls`) would: the
    /// top playlist carries the tier.
    pub async fn put_hls(&self, id: &str, tier: &str, objects: &HlsObjects) {
        for (path, bytes) in objects {
            let content_type = if path.ends_with(".m3u8") {
                "application/vnd.apple.mpegurl"
            } else {
                "video/mp4"
            };
            let mut put = self
                .s3
                .put_object()
                .bucket(&self.settings.storage.bucket)
                .key(format!("{}/{path}", self.key(id)))
                .content_type(content_type)
                .body(ByteStream::from(bytes.clone()));
            if path == "master.m3u8" || path == "index.m3u8" {
                put = put.metadata("access", tier);
            }
            put.send().await.expect("seed HLS object");
        }
    }

    /// `GET /videos/{id}/url` for an HLS video: the whole JSON answer.
    pub async fn hls_entry_json(&self, id: &str, token: &str) -> Value {
        let (status, body) = self.video_url(id, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["format"], "hls", "{body}");
        body
    }

    /// `GET /videos/{id}/url` for an HLS video: the playlist URL.
    pub async fn hls_entry(&self, id: &str, token: &str) -> String {
        self.hls_entry_json(id, token).await["url"]
            .as_str()
            .expect("a url")
            .to_owned()
    }

    /// A URL fetched as a player does (no headers): status and text.
    pub async fn get_text(&self, url: &str) -> (StatusCode, String) {
        let response = self.http.get(url).send().await.expect("request");
        (response.status(), response.text().await.unwrap_or_default())
    }
}
