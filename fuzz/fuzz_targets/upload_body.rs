//! Arbitrary bodies of `POST /uploads` from an uploader: never a 500, every refusal a JSON
//! error, and an upload URL is signed only for the exact declared size and an allowed type.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use axum::http::StatusCode;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use common::{HARNESS, post_json};

fuzz_target!(|data: &[u8]| {
    let harness = &*HARNESS;
    let (status, body) = post_json("/uploads", data.to_vec());
    if !status.is_success() {
        return;
    }
    assert_eq!(status, StatusCode::CREATED);
    let asked: Value = serde_json::from_slice(data).expect("only a JSON body is granted");
    let answer: Value = serde_json::from_slice(&body).expect("a JSON answer");
    let size = asked["size"].as_u64().expect("a declared size");
    let content_type = asked["content_type"].as_str().expect("a declared type");
    let uploads = &harness.settings.uploads;
    assert!(size <= uploads.max_size_bytes.max(uploads.max_multipart_bytes), "{size}");
    assert!(
        uploads
            .allowed_content_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(content_type.split(';').next().unwrap_or("").trim())),
        "{content_type}"
    );
    if answer.get("upload_id").is_none() {
        // One PUT: exactly this many bytes of exactly this type, signed.
        let headers = &answer["headers"];
        assert_eq!(headers["content-length"], size.to_string(), "{answer}");
        let signed = headers["content-type"].as_str().expect("a signed type");
        assert!(signed.eq_ignore_ascii_case(content_type.trim()), "{signed} vs {content_type}");
    }
});
