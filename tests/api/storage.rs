//! The store's side of the contract: a URL carries its signer's permissions (the seeds' warning),
//! and the region must be the store's. Same tests on every store; what differs is in `profile()`.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Meta, Options, Signer, assert_error, external_store, profile, s3_client, spawn_app_opts,
    spawn_app_with,
};

#[tokio::test]
async fn a_signer_without_read_permission_gets_503_storage_forbidden_instead_of_dead_urls() {
    let app = spawn_app_opts(
        Options {
            signer: Signer::WriteOnly,
            ..Options::default()
        },
        |_| {},
    )
    .await;
    app.put_video("gold-1", b"gold", Meta::tier("gold")).await;

    // What the seeds warn about, on the store itself: a URL signed by a key that may not read
    // is refused, however valid its signature.
    let write_only = (
        app.settings.storage.access_key_id.clone().unwrap(),
        app.settings
            .storage
            .secret_access_key
            .as_ref()
            .unwrap()
            .expose()
            .to_owned(),
    );
    let signer = s3_client(
        &app.settings.storage.region,
        &app.store_endpoint,
        &write_only,
    );
    let dead_url = signer
        .get_object()
        .bucket(&app.settings.storage.bucket)
        .key(app.key("gold-1"))
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        app.fetch(dead_url.uri()).await.status(),
        StatusCode::FORBIDDEN,
        "{}",
        profile().name
    );

    // tollgate does not hand out such URLs.
    let (status, body) = app
        .video_url("gold-1", &app.token("alice", &["gold"], &[]))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_forbidden",
    );

    // And readiness names the missing permission.
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    let reason = body["checks"]["storage_read"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("may not read") && reason.contains("s3:GetObject"),
        "{body}"
    );
}

#[tokio::test]
async fn the_read_probe_passes_for_a_read_write_signer() {
    let app = spawn_app_with(|_| {}).await;
    let body: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(
        body["checks"]["storage_read"],
        serde_json::json!({"status": "ok"}),
        "{body}"
    );
}

#[tokio::test]
async fn a_wrong_region_is_reported_where_the_store_checks_regions() {
    let app = spawn_app_with(|s| s.storage.region = "eu-nowhere-1".to_owned()).await;
    let response = app.get("/readyz", None).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    if profile().checks_region {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let reason = body["checks"]["storage_read"]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(
            reason.contains("storage.region is \"eu-nowhere-1\""),
            "{body}"
        );
    } else {
        // s3s-fs ignores the region: nothing to detect, and URLs keep working.
        assert!(external_store().is_none());
        assert_eq!(status, StatusCode::OK, "{body}");
        app.put_video("free-1", b"free", Meta::tier("free")).await;
        let url = app.granted_url("free-1", &app.token("bob", &[], &[])).await;
        assert_eq!(app.fetch(&url).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_signer_without_write_permission_gets_503_for_uploads_while_playback_works() {
    let app = spawn_app_opts(
        Options {
            signer: Signer::ReadOnly,
            ..Options::default()
        },
        |_| {},
    )
    .await;
    app.put_video("free-1", b"free", Meta::tier("free")).await;

    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["storage_read"]["status"], "ok", "{body}");
    let reason = body["checks"]["storage_write"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("may not write") && reason.contains("s3:PutObject"),
        "{body}"
    );

    let uploader = app.token("ursula", &[], &["uploader"]);
    let response = app
        .http
        .post(app.url("/uploads"))
        .bearer_auth(&uploader)
        .json(&serde_json::json!({"content_type": "video/mp4", "size": 10}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_error(
        status,
        &response.json().await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_forbidden",
    );

    // Playback needs only read.
    let url = app.granted_url("free-1", &app.token("bob", &[], &[])).await;
    assert_eq!(app.fetch(&url).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_write_probe_is_skipped_when_uploads_are_disabled() {
    let app = spawn_app_with(|s| s.uploads.id_secret = None).await;
    let body: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(
        body["checks"]["storage_write"],
        serde_json::json!({"status": "skipped"}),
        "{body}"
    );
    assert_eq!(body["status"], "ready");
}
