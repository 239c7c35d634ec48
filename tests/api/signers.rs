//! Both signers (`storage.signer = "fast" | "sdk"`) write URLs the real store accepts for
//! GetObject (with a signed response override), PutObject (signed headers) and UploadPart, and
//! refuses once tampered with. Byte equality of the two is proven in the unit tests.

use reqwest::StatusCode;
use serde_json::json;
use tollgate::storage::SignerKind;

use crate::helpers::{Meta, TestApp, spawn_app_with};
use crate::uploads::{big_video, declaration, put, upload_parts, uploader};

const BYTES: &[u8] = b"bytes behind a signed GET";

async fn app(signer: SignerKind) -> TestApp {
    spawn_app_with(|s| {
        s.storage.signer = signer;
        s.uploads.multipart_threshold_bytes = 5 * 1024 * 1024;
        s.uploads.part_size_bytes = 5 * 1024 * 1024;
    })
    .await
}

/// The URL with the last hex digit of its signature changed.
fn tampered(url: &str) -> String {
    let flipped = if url.ends_with('0') { '1' } else { '0' };
    let (head, signature) = url.split_once("X-Amz-Signature=").unwrap();
    let signature = &signature[..64];
    let rest = &url[head.len() + "X-Amz-Signature=".len() + 64..];
    format!("{head}X-Amz-Signature={}{flipped}{rest}", &signature[..63])
}

async fn get_with_override_is_accepted_and_tampering_refused(app: &TestApp, signer: SignerKind) {
    app.put_video("signed-get", BYTES, Meta::tier("free")).await;
    let token = app.token("alice", &[], &[]);
    let response = app
        .get(
            "/videos/signed-get/url?download=true&filename=r%C3%A9sum%C3%A9%20(1).mp4",
            Some(&token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{signer:?}");
    let body: serde_json::Value = response.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(url.contains("response-content-disposition="), "{url}");
    let fetched = app.fetch(url).await;
    assert_eq!(fetched.status(), StatusCode::OK, "{signer:?}: {url}");
    assert!(
        fetched.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%281%29.mp4"),
        "{signer:?}"
    );
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), BYTES);
    let refused = app.fetch(&tampered(url)).await.status();
    assert!(refused.is_client_error(), "{signer:?}: {refused}");
}

async fn put_with_signed_headers_is_accepted(app: &TestApp, signer: SignerKind) {
    let token = uploader(app);
    let body = b"uploaded through a signed PUT";
    let (status, created) = app
        .post_uploads(&token, &declaration("video/mp4", body.len()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{signer:?}: {created}");
    let mut wrong = created.clone();
    wrong["url"] = json!(tampered(created["url"].as_str().unwrap()));
    let refused = put(app, &wrong, body, None).await;
    assert!(refused.is_client_error(), "{signer:?}: {refused}");
    assert_eq!(
        put(app, &created, body, None).await,
        StatusCode::OK,
        "{signer:?}"
    );
    let id = created["id"].as_str().unwrap();
    let (status, ready) = app.complete_upload(id, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{signer:?}: {ready}");
    let url = app.granted_url(id, &token).await;
    assert_eq!(app.fetch(&url).await.bytes().await.unwrap().as_ref(), body);
}

async fn upload_parts_are_accepted(app: &TestApp, signer: SignerKind) {
    let token = uploader(app);
    let body = big_video();
    let (status, created) = app
        .post_uploads(&token, &declaration("video/mp4", body.len()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{signer:?}: {created}");
    let parts = upload_parts(app, &token, &created, &body).await;
    let id = created["id"].as_str().unwrap();
    let completion = json!({ "upload_id": created["upload_id"], "parts": parts });
    let (status, ready) = app.complete_upload(id, &token, Some(&completion)).await;
    assert_eq!(status, StatusCode::OK, "{signer:?}: {ready}");
    let url = app.granted_url(id, &token).await;
    let fetched = app.fetch(&url).await.bytes().await.unwrap();
    assert!(
        fetched.as_ref() == body.as_slice(),
        "{signer:?}: byte-exact"
    );
}

#[tokio::test]
async fn fast_signer_urls_are_accepted_by_the_store() {
    let app = app(SignerKind::Fast).await;
    get_with_override_is_accepted_and_tampering_refused(&app, SignerKind::Fast).await;
    put_with_signed_headers_is_accepted(&app, SignerKind::Fast).await;
    upload_parts_are_accepted(&app, SignerKind::Fast).await;
}

#[tokio::test]
async fn sdk_signer_urls_are_accepted_by_the_store() {
    let app = app(SignerKind::Sdk).await;
    get_with_override_is_accepted_and_tampering_refused(&app, SignerKind::Sdk).await;
    put_with_signed_headers_is_accepted(&app, SignerKind::Sdk).await;
    upload_parts_are_accepted(&app, SignerKind::Sdk).await;
}
