//! The store's side of the contract: a URL carries its signer's permissions (the seeds' warning),
//! and the region must be the store's. Same tests on every store; what differs is in `profile()`.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Keys, Meta, Options, assert_error, external_store, profile, s3_client, spawn_app_opts,
    spawn_app_with, try_spawn_app_opts,
};

#[tokio::test]
async fn a_signer_without_read_permission_gets_503_storage_forbidden_instead_of_dead_urls() {
    let app = spawn_app_opts(
        Options {
            keys: Keys::ReadKeyCannotRead,
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
            keys: Keys::UploadKeyCannotWrite,
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

async fn readyz(app: &crate::helpers::TestApp) -> (StatusCode, Value) {
    let response = app.get("/readyz", None).await;
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn an_upload_key_that_cannot_read_is_reported_ok() {
    let app = spawn_app_opts(Options::default(), |_| {}).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["checks"]["upload_key_can_read"],
        serde_json::json!({"status": "ok", "can_read": false}),
        "{body}"
    );
}

#[tokio::test]
async fn an_upload_key_that_can_read_is_a_warning_in_development() {
    for keys in [Keys::Single, Keys::UploadKeyCanRead] {
        let app = spawn_app_opts(
            Options {
                keys,
                ..Options::default()
            },
            |_| {},
        )
        .await;
        let (status, body) = readyz(&app).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let check = &body["checks"]["upload_key_can_read"];
        assert_eq!(check["status"], "warning", "{body}");
        assert_eq!(check["can_read"], true, "{body}");
        // Uploads still work outside production.
        let response = app
            .http
            .post(app.url("/uploads"))
            .bearer_auth(app.token("ursula", &[], &["uploader"]))
            .json(&serde_json::json!({"content_type": "video/mp4", "size": 10}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

/// Production settings as far as start-up cares (validation would stop the dev values first).
fn production(s: &mut tollgate::config::Settings) {
    s.environment = tollgate::config::Environment::Production;
}

#[tokio::test]
async fn production_refuses_to_start_with_an_upload_key_that_can_read() {
    let options = Options {
        keys: Keys::UploadKeyCanRead,
        ..Options::default()
    };
    let Err(e) = try_spawn_app_opts(options, production).await else {
        panic!("started with an upload key that can read");
    };
    let message = e.to_string();
    assert!(
        message.contains("the upload key (storage.upload_access_key_id) can read objects")
            && message.contains("storage.allow_upload_key_read"),
        "{message}"
    );

    // Accepted when the operator says so, and reported.
    let app = try_spawn_app_opts(options, |s| {
        production(s);
        s.storage.allow_upload_key_read = true;
    })
    .await
    .expect("starts when allowed");
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["upload_key_can_read"]["status"], "warning");
}

#[tokio::test]
async fn production_settings_need_a_separate_upload_key() {
    let mut settings = crate::helpers::test_settings(&tempfile::tempdir().unwrap());
    production(&mut settings);
    settings.storage.upload_access_key_id = None;
    settings.storage.upload_secret_access_key = None;
    let problems = settings.validate().unwrap_err().to_string();
    assert!(
        problems.contains("storage.upload_access_key_id is required in production"),
        "{problems}"
    );
    settings.storage.allow_upload_key_read = true;
    let problems = settings.validate().unwrap_err().to_string();
    assert!(!problems.contains("upload_access_key_id"), "{problems}");
}

#[tokio::test]
async fn readiness_answers_are_reused_so_anonymous_calls_cannot_make_tollgate_write() {
    let app = spawn_app_with(|s| s.storage.readiness_cache_ms = 60_000).await;
    let (status, _) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK);
    let bucket = &app.settings.storage.bucket;
    let probe = app.key(tollgate::storage::PROBE_NAME);
    let head = || app.s3.head_object().bucket(bucket).key(&probe).send();
    assert!(head().await.is_ok(), "the write probe stored its object");
    app.s3
        .delete_object()
        .bucket(bucket)
        .key(&probe)
        .send()
        .await
        .unwrap();
    for _ in 0..5 {
        let (status, body) = readyz(&app).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(head().await.is_err(), "a /readyz call wrote to the store");
}

#[tokio::test]
async fn a_403_for_one_object_does_not_stop_playback() {
    if external_store().is_some() {
        // Garage and MinIO keys with read permission get 404 for a missing object; the 403
        // without s3:ListBucket is AWS's, modelled by the embedded store.
        return;
    }
    let app = spawn_app_opts(
        Options {
            read_key_cannot_list: true,
            ..Options::default()
        },
        |_| {},
    )
    .await;
    app.put_video("free-1", b"free", Meta::tier("free")).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = app.token("bob", &[], &[]);
    // Unknown ids answer 403 at the store; callers asking for them get 404, and nobody else
    // loses playback.
    for id in ["random-1", "random-2", "random-3"] {
        let (status, body) = app.video_url(id, &token).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "video_not_found");
    }
    let url = app.granted_url("free-1", &token).await;
    assert_eq!(app.fetch(&url).await.status(), StatusCode::OK);
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
