//! Arbitrary bodies of Uppy 6.x's `POST /s3/sign` from an uploader (`{KEY}` in the input stands
//! for a key tollgate handed this uploader): never a 500, every refusal a JSON error, and an
//! operation on an existing upload is signed only for the caller's own key.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use common::{HARNESS, post_json};

fuzz_target!(|data: &[u8]| {
    let harness = &*HARNESS;
    let text = String::from_utf8_lossy(data).replace("{KEY}", &harness.key);
    let (status, body) = post_json("/s3/sign", text.clone().into_bytes());
    if !status.is_success() {
        return;
    }
    let asked: Value = serde_json::from_str(&text).expect("only a JSON body is signed");
    let answer: Value = serde_json::from_slice(&body).expect("a JSON answer");
    let url = answer["url"].as_str().expect("a URL");
    let store = harness.settings.storage.public_endpoint.as_deref();
    assert!(store.is_none_or(|s| url.starts_with(s)), "{url}");
    if asked.get("uploadId").is_some_and(|u| !u.is_null()) {
        // An operation on an upload: only on the caller's own key, and on no other object.
        assert_eq!(asked["key"], harness.key.as_str(), "{text}");
    } else {
        // A new object: tollgate chose its key, under the configured prefix.
        let key = answer["key"].as_str().expect("a key");
        assert!(key.starts_with(harness.settings.storage.key_prefix.as_str()), "{key}");
        match answer.get("fields") {
            // A form: posted to the bucket, the key a signed field.
            Some(fields) => assert_eq!(fields["key"], key, "{answer}"),
            None => assert!(url.contains(key), "{url} vs {key}"),
        }
    }
});
