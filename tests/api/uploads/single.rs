//! Single-request uploads (`POST /uploads` below the multipart threshold).

use super::*;
use crate::helpers::{assert_error, profile, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn upload_then_complete_then_play_returns_the_same_bytes() {
    let app = spawn_app().await;
    let token = uploader(&app);
    let (status, created) = app
        .post_uploads(&token, &declaration("video/mp4", VIDEO.len()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["key"], app.key(id));
    assert_eq!(created["method"], "PUT");
    assert_eq!(created["expires_in"], 900);
    let headers = &created["headers"];
    assert_eq!(headers["content-type"], "video/mp4", "{created}");
    assert_eq!(headers["x-amz-meta-owner"], "ursula", "{created}");
    assert_eq!(headers["x-amz-meta-access"], "premium", "{created}");
    assert_eq!(
        headers["x-amz-meta-filename"], "%C3%89t%C3%A9%20trip.mp4",
        "{created}"
    );
    assert_eq!(headers["if-none-match"], "*", "{created}");
    let signed = created["url"]
        .as_str()
        .unwrap()
        .split("X-Amz-SignedHeaders=")
        .nth(1)
        .unwrap();
    for header in [
        "content-length",
        "content-type",
        "x-amz-meta-owner",
        "if-none-match",
    ] {
        assert!(signed.contains(header), "{header} is signed: {signed}");
    }

    assert_eq!(put(&app, &created, VIDEO, None).await, StatusCode::OK);
    let (status, ready) = app.complete_upload(id, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        ready,
        json!({"id": id, "size": VIDEO.len(), "content_type": "video/mp4", "access": "premium", "status": "ready"})
    );

    // The owner plays it without any entitlement; a premium subscriber too; others not.
    let url = app.granted_url(id, &token).await;
    assert_eq!(app.fetch(&url).await.bytes().await.unwrap().as_ref(), VIDEO);
    app.granted_url(id, &app.token("bob", &["premium"], &[]))
        .await;
    let (status, body) = app.video_url(id, &app.token("carol", &[], &[])).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "not_entitled");
}

#[tokio::test]
async fn the_store_refuses_anything_but_what_was_signed() {
    let app = spawn_app().await;
    let token = uploader(&app);
    let (_, created) = app
        .post_uploads(&token, &declaration("video/mp4", VIDEO.len()))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let longer = [VIDEO, b"!"].concat();
    let cases: [(&str, &[u8], Override); 4] = [
        ("one byte more", &longer, None),
        ("one byte less", &VIDEO[1..], None),
        (
            "another content type",
            VIDEO,
            Some(("content-type", "text/html")),
        ),
        (
            "altered metadata",
            VIDEO,
            Some(("x-amz-meta-owner", "mallory")),
        ),
    ];
    for (what, body, header) in cases {
        let status = put(&app, &created, body, header).await;
        assert!(
            status.is_client_error(),
            "{what}: {status} on {}",
            profile().name
        );
        assert!(
            !object_exists(&app, &key).await,
            "{what}: nothing was written"
        );
    }
    assert_eq!(
        put(&app, &created, VIDEO, None).await,
        StatusCode::OK,
        "the exact upload works"
    );
}

#[tokio::test]
async fn a_body_that_does_not_match_the_declared_sha256_is_refused() {
    let app = spawn_app().await;
    let token = uploader(&app);
    let digest = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(VIDEO))
    };
    let mut body = declaration("video/mp4", VIDEO.len());
    body["sha256"] = json!(digest);
    let (status, created) = app.post_uploads(&token, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["headers"]["x-amz-checksum-sha256"], digest);
    let mut forged = VIDEO.to_vec();
    forged[0] = b'X';
    assert!(
        put(&app, &created, &forged, None).await.is_client_error(),
        "{}",
        profile().name
    );

    // The store refused it; whatever it kept, `complete` does not accept it.
    let id = created["id"].as_str().unwrap();
    let (status, answer) = app.complete_upload(id, &token, None).await;
    // Nor does playback: what the store kept is no upload (premium by default, not the
    // caller's, and typeless) and is never served.
    let viewer = app.token("bob", &["premium"], &[]);
    let (play_status, played) = app.video_url(id, &viewer).await;
    if profile().keeps_body_of_a_refused_checksum {
        assert_error(status, &answer, StatusCode::CONFLICT, "upload_mismatch");
        assert_error(
            play_status,
            &played,
            StatusCode::CONFLICT,
            "upload_mismatch",
        );
    } else {
        assert_error(status, &answer, StatusCode::NOT_FOUND, "upload_not_found");
        assert_error(
            play_status,
            &played,
            StatusCode::NOT_FOUND,
            "video_not_found",
        );
    }

    // A new upload with the right bytes goes through.
    let (_, created) = app.post_uploads(&token, &body).await;
    assert_eq!(put(&app, &created, VIDEO, None).await, StatusCode::OK);
    let (status, _) = app
        .complete_upload(created["id"].as_str().unwrap(), &token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_put_url_is_refused() {
    let app = spawn_app().await;
    let token = uploader(&app);
    app.clock.set_offset_secs(-7200);
    let (status, created) = app
        .post_uploads(&token, &declaration("video/mp4", VIDEO.len()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        put(&app, &created, VIDEO, None).await,
        profile().expired_url,
        "{}",
        profile().name
    );
}

#[tokio::test]
async fn a_used_upload_url_cannot_overwrite_where_the_store_enforces_if_none_match() {
    let app = spawn_app().await;
    let token = uploader(&app);
    let (_, created) = app
        .post_uploads(&token, &declaration("video/mp4", VIDEO.len()))
        .await;
    assert_eq!(put(&app, &created, VIDEO, None).await, StatusCode::OK);
    let mut other = VIDEO.to_vec();
    other[0] = b'Z';
    assert_eq!(
        put(&app, &created, &other, None).await,
        profile().overwrite_with_if_none_match,
        "{}",
        profile().name
    );
}

#[tokio::test]
async fn extra_unsigned_metadata_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let token = uploader(&app);
    let (_, created) = app
        .post_uploads(&token, &declaration("video/mp4", VIDEO.len()))
        .await;
    let id = created["id"].as_str().unwrap();
    let status = put(&app, &created, VIDEO, Some(("x-amz-meta-note", "injected"))).await;
    assert_eq!(status, profile().unsigned_amz_header, "{}", profile().name);
    assert!(!object_exists(&app, created["key"].as_str().unwrap()).await);
    let (status, body) = app.complete_upload(id, &token, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
}

#[tokio::test]
async fn hostile_declarations_are_refused_with_the_right_status() {
    let app = spawn_app().await;
    let token = uploader(&app);
    let max = app.settings.uploads.max_multipart_bytes;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            declaration("text/html", 10),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            declaration("image/svg+xml", 10),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            declaration("application/x-unknown", 10),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            declaration("video/mp4; codecs=x", 10),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            declaration("video/mp4", 0),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"content_type": "video/mp4", "size": max + 1}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            json!({"content_type": "video/mp4", "size": -1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"content_type": "video/mp4", "size": 10, "key": "videos/mine"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"content_type": "video/mp4", "size": 10, "access": "platinum"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"content_type": "video/mp4", "size": 10, "sha256": "not base64!"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"content_type": "video/mp4", "size": 10, "filename": "\"/\\;"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"size": 10}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"content_type": "video/mp4", "size": 10, "pad": "x".repeat(20_000)}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (body, expected, code) in cases {
        let (status, answer) = app.post_uploads(&token, &body).await;
        assert_error(status, &answer, expected, code);
    }
    let not_json = app
        .http
        .post(app.url("/uploads"))
        .bearer_auth(&token)
        .body("content_type=video/mp4")
        .send()
        .await
        .unwrap();
    let status = not_json.status();
    assert_error(
        status,
        &not_json.json().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}

#[tokio::test]
async fn uploads_are_disabled_without_an_id_secret() {
    let app = crate::helpers::spawn_app_with(|s| s.uploads.id_secret = None).await;
    let (status, answer) = app
        .post_uploads(&uploader(&app), &declaration("video/mp4", 10))
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "uploads_disabled",
    );
}

#[tokio::test]
async fn only_uploaders_and_admins_may_upload() {
    let app = spawn_app().await;
    let body = declaration("video/mp4", 10);
    let (status, answer) = app
        .post_uploads(&app.token("bob", &["premium"], &["viewer"]), &body)
        .await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = app
        .post_uploads(&app.token("root", &[], &["admin"]), &body)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let response = app
        .http
        .post(app.url("/uploads"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn complete_checks_existence_ownership_and_what_was_authorised() {
    let app = spawn_app().await;
    let token = uploader(&app);
    // An id tollgate did not issue to the caller: refused before the store is asked.
    let (status, body) = app
        .complete_upload("0190a000-0000-7000-8000-000000000000", &token, None)
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app.complete_upload("..%2Fx", &token, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (_, created) = app
        .post_uploads(&token, &declaration("video/mp4", VIDEO.len()))
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, body) = app.complete_upload(id, &token, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
    assert_eq!(put(&app, &created, VIDEO, None).await, StatusCode::OK);
    let (status, body) = app
        .complete_upload(id, &app.token("mallory", &[], &["uploader"]), None)
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = app
        .complete_upload(id, &app.token("root", &[], &["admin"]), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Objects under issued ids that did not come through the upload URL, or differ from what it
    // allowed.
    for size_meta in [None, Some("10")] {
        let (_, created) = app
            .post_uploads(&token, &declaration("video/mp4", VIDEO.len()))
            .await;
        let id = created["id"].as_str().unwrap();
        let mut seed = app
            .s3
            .put_object()
            .bucket(&app.settings.storage.bucket)
            .key(app.key(id))
            .content_type("video/mp4")
            .metadata("owner", "ursula")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"12345"));
        if let Some(size) = size_meta {
            seed = seed.metadata("size", size);
        }
        seed.send().await.unwrap();
        let (status, body) = app.complete_upload(id, &token, None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
    }
}
