//! Uploads: the URL allows exactly what was authorised, and the store is the judge.
//! `single` for one PUT, `multipart` for uploads in parts; what both use is here.

mod multipart;
mod single;

use crate::helpers::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A header to send instead of the signed one: (name, value).
pub(crate) type Override<'a> = Option<(&'a str, &'a str)>;

pub(crate) const VIDEO: &[u8] = b"\x00\x00\x00\x18ftypmp42 an uploaded video, byte-exact";

pub(crate) fn declaration(content_type: &str, size: usize) -> Value {
    json!({ "content_type": content_type, "size": size, "filename": "Été trip.mp4", "access": "premium" })
}

/// PUTs `body` to a presigned URL with the returned headers; `override_header` replaces one.
/// `Content-Length` is always the body's real length, as any HTTP client sends it.
pub(crate) async fn put(
    app: &TestApp,
    created: &Value,
    body: &[u8],
    override_header: Override<'_>,
) -> StatusCode {
    let mut request = app
        .http
        .put(created["url"].as_str().unwrap())
        .body(body.to_vec());
    for (name, value) in created["headers"].as_object().unwrap() {
        if name == "content-length" || override_header.is_some_and(|(n, _)| n == name) {
            continue;
        }
        request = request.header(name, value.as_str().unwrap());
    }
    if let Some((name, value)) = override_header {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status()
}

pub(crate) async fn object_exists(app: &TestApp, key: &str) -> bool {
    app.s3
        .head_object()
        .bucket(&app.settings.storage.bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

pub(crate) fn uploader(app: &TestApp) -> String {
    app.token("ursula", &[], &["uploader"])
}

pub(crate) const MIB: usize = 1024 * 1024;

/// An app whose multipart threshold is low enough for tests: parts of S3's minimum, 5 MiB.
pub(crate) async fn multipart_app() -> TestApp {
    crate::helpers::spawn_app_with(|s| {
        s.uploads.multipart_threshold_bytes = 5 * MIB as u64;
        s.uploads.part_size_bytes = 5 * MIB as u64;
    })
    .await
}

/// A recognisable 11 MiB body: three parts of 5, 5 and 1 MiB.
pub(crate) fn big_video() -> Vec<u8> {
    (0..11 * MIB).map(|i| (i % 251) as u8).collect()
}

/// Uploads every part through its signed URL; returns the parts list for `complete`.
pub(crate) async fn upload_parts(
    app: &TestApp,
    token: &str,
    created: &Value,
    body: &[u8],
) -> Vec<Value> {
    let (id, upload_id) = (
        created["id"].as_str().unwrap(),
        created["upload_id"].as_str().unwrap(),
    );
    let part_size = usize::try_from(created["part_size"].as_u64().unwrap()).unwrap();
    let mut parts = Vec::new();
    for (index, chunk) in body.chunks(part_size).enumerate() {
        let number = index + 1;
        let path = format!("/uploads/{id}/parts/{number}?upload_id={upload_id}");
        let (status, signed) = app.call(reqwest::Method::GET, &path, token, None).await;
        assert_eq!(status, StatusCode::OK, "{signed}");
        assert_eq!(signed["size"], chunk.len());
        let response = app
            .http
            .put(signed["url"].as_str().unwrap())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "part {number}");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(json!({ "part_number": number, "etag": etag }));
    }
    parts
}
