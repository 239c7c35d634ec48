//! Upload quotas: bytes per subject per period, reserved when an upload is signed, released on
//! abort, settled at completion; Uppy's multipart uploads are charged when they complete, and
//! its single-file forms are bounded by what is left.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use super::{MIB, encode, quota, spawn, states, uploader_token_at, used_bytes};
use crate::helpers::{TestApp, assert_error, form_fields};

fn declaration(size: u64) -> Value {
    json!({"content_type": "video/mp4", "size": size})
}

#[tokio::test]
async fn declared_sizes_are_reserved_released_on_abort_and_refused_over_the_quota() {
    for state in states() {
        let app = spawn(&state, quota(12 * MIB)).await;
        let token = app.token("ursula", &[], &["uploader"]);

        // A single upload of 1 MiB and a multipart one of 6 MiB: 7 MiB reserved.
        let (status, single) = app.post_uploads(&token, &declaration(MIB)).await;
        assert_eq!(status, StatusCode::CREATED, "{single}");
        let (status, multipart) = app.post_uploads(&token, &declaration(6 * MIB)).await;
        assert_eq!(status, StatusCode::CREATED, "{multipart}");
        assert_eq!(
            used_bytes(&app, "ursula").await,
            7 * MIB,
            "{}",
            state.name()
        );

        // 6 MiB more does not fit: 413 with what is left.
        let (status, body) = app.post_uploads(&token, &declaration(6 * MIB)).await;
        assert_error(
            status,
            &body,
            StatusCode::PAYLOAD_TOO_LARGE,
            "quota_exceeded",
        );
        assert_eq!(body["error"]["remaining_bytes"], 5 * MIB, "{body}");
        let resets = body["error"]["resets_in_secs"].as_u64().unwrap();
        assert!((1..=86_400).contains(&resets), "{body}");

        // The abort gives the multipart upload's 6 MiB back; then 6 MiB fits.
        let id = multipart["id"].as_str().unwrap();
        let upload_id = encode(multipart["upload_id"].as_str().unwrap());
        let (status, body) = app
            .call(
                Method::DELETE,
                &format!("/uploads/{id}?upload_id={upload_id}"),
                &token,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(used_bytes(&app, "ursula").await, MIB);
        let (status, body) = app.post_uploads(&token, &declaration(6 * MIB)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // The single upload completes: its reservation is settled at what the store holds.
        let status = crate::uploads::put(&app, &single, &[7u8; MIB as usize], None).await;
        assert!(status.is_success(), "{status}");
        let id = single["id"].as_str().unwrap();
        let (status, body) = app.complete_upload(id, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(used_bytes(&app, "ursula").await, 7 * MIB);
        // Settled once: completing again changes nothing.
        app.complete_upload(id, &token, None).await;
        assert_eq!(
            used_bytes(&app, "ursula").await,
            7 * MIB,
            "{}",
            state.name()
        );

        // Another subject has its own quota; admins have none.
        let other = app.token("olga", &[], &["uploader"]);
        assert_eq!(
            app.post_uploads(&other, &declaration(12 * MIB)).await.0,
            StatusCode::CREATED
        );
        let admin = app.token("root", &[], &["admin"]);
        let (status, body) = app.post_uploads(&admin, &declaration(13 * MIB)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // The next period starts afresh.
        app.clock.set_offset_secs(86_400);
        let token = uploader_token_at(&app, "ursula", 86_400);
        assert_eq!(
            app.post_uploads(&token, &declaration(12 * MIB)).await.0,
            StatusCode::CREATED
        );
    }
}

/// Uppy 4.x: create, one part of `size` bytes, complete; the completion's answer.
async fn uppy_multipart(app: &TestApp, token: &str, size: usize) -> (StatusCode, Value) {
    let body = json!({ "filename": "a.mp4", "type": "video/mp4", "metadata": {} });
    let (status, created) = app
        .call(Method::POST, "/s3/multipart", token, Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let key = encode(created["key"].as_str().unwrap());
    let upload_id = encode(created["uploadId"].as_str().unwrap());
    let path = format!("/s3/multipart/{upload_id}/1?key={key}");
    let (_, signed) = app.call(Method::GET, &path, token, None).await;
    let response = app
        .http
        .put(signed["url"].as_str().unwrap())
        .body(vec![1u8; size])
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let parts = json!({ "parts": [{ "PartNumber": 1, "ETag": etag }] });
    let path = format!("/s3/multipart/{upload_id}/complete?key={key}");
    app.call(Method::POST, &path, token, Some(parts)).await
}

#[tokio::test]
async fn uppy_multipart_uploads_are_charged_when_they_complete() {
    for state in states() {
        let app = spawn(&state, quota(3 * MIB)).await;
        let token = app.token("ursula", &[], &["uploader"]);
        let (status, body) = uppy_multipart(&app, &token, 2 * MIB as usize).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            used_bytes(&app, "ursula").await,
            2 * MIB,
            "{}",
            state.name()
        );
        // 2 MiB more does not fit: refused before the store assembles anything.
        let (status, body) = uppy_multipart(&app, &token, 2 * MIB as usize).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
        assert_eq!(used_bytes(&app, "ursula").await, 2 * MIB);
    }
}

/// Uppy 6.x: create, part 1 of `size` bytes, the signed completion (not yet made): the upload's
/// key, the signed completion, and the part's ETag.
async fn uppy_6x_upload(app: &TestApp, token: &str, size: usize) -> (String, Value, String) {
    let create = json!({"method": "POST", "key": "u/a.mp4", "contentType": "video/mp4"});
    let (status, created) = app.s3_sign(token, create).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let response = app.s3_call(Method::POST, &created, Vec::new()).await;
    let xml = response.text().await.unwrap();
    let upload_id = crate::uppy::xml_value(&xml, "UploadId").expect("an upload id");
    let key = created["key"].as_str().unwrap().to_owned();
    let part = json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1});
    let (_, signed) = app.s3_sign(token, part).await;
    let response = app.s3_call(Method::PUT, &signed, vec![2u8; size]).await;
    assert!(response.status().is_success());
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let complete = json!({"method": "POST", "key": key, "uploadId": upload_id});
    let (status, completion) = app.s3_sign(token, complete).await;
    assert_eq!(status, StatusCode::OK, "{completion}");
    (key, completion, etag)
}

#[tokio::test]
async fn uppy_6x_multipart_counts_once_the_store_holds_it_and_must_fit_to_be_signed() {
    for state in states() {
        let app = spawn(&state, quota(3 * MIB)).await;
        let token = app.token("ursula", &[], &["uploader"]);
        let (_, completion, etag) = uppy_6x_upload(&app, &token, 2 * MIB as usize).await;
        // Signed, not made: nothing is stored, nothing counts yet.
        assert_eq!(used_bytes(&app, "ursula").await, 0);
        let xml = format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        );
        let done = app
            .s3_call(Method::POST, &completion, xml.into_bytes())
            .await;
        assert!(done.status().is_success(), "{}", done.status());
        // The client completed at the store: counted at the stored size, once.
        for _ in 0..2 {
            assert_eq!(
                used_bytes(&app, "ursula").await,
                2 * MIB,
                "{}",
                state.name()
            );
        }
        // 2 MiB more do not fit in the 1 MiB left: no completion URL.
        let create = json!({"method": "POST", "key": "u/b.mp4", "contentType": "video/mp4"});
        let (_, created) = app.s3_sign(&token, create).await;
        let response = app.s3_call(Method::POST, &created, Vec::new()).await;
        let upload_id =
            crate::uppy::xml_value(&response.text().await.unwrap(), "UploadId").unwrap();
        let key = created["key"].as_str().unwrap();
        let part = json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1});
        let (_, signed) = app.s3_sign(&token, part).await;
        app.s3_call(Method::PUT, &signed, vec![2u8; 2 * MIB as usize])
            .await;
        let complete = json!({"method": "POST", "key": key, "uploadId": upload_id});
        let (status, body) = app.s3_sign(&token, complete).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
    }
}

#[tokio::test]
async fn a_form_is_counted_at_its_stored_size_at_the_next_decision() {
    for state in states() {
        let app = spawn(&state, quota(MIB)).await;
        let token = app.token("ursula", &[], &["uploader"]);
        let path = "/s3/params?filename=a.mp4&type=video%2Fmp4";
        let (status, signed) = app.call(Method::GET, path, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{signed}");
        let response = app
            .s3_post_form(
                signed["url"].as_str().unwrap(),
                &form_fields(&signed),
                &[3u8; 1000],
            )
            .await;
        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(used_bytes(&app, "ursula").await, 1000, "{}", state.name());
        // The next form is bounded by what is left after it.
        let (_, signed) = app.call(Method::GET, path, &token, None).await;
        let fields = form_fields(&signed);
        let url = signed["url"].as_str().unwrap();
        let over = vec![3u8; MIB as usize - 999];
        assert!(
            !app.s3_post_form(url, &fields, &over)
                .await
                .status()
                .is_success()
        );
    }
}

#[tokio::test]
async fn a_form_is_bounded_by_what_the_quota_has_left() {
    for state in states() {
        let app = spawn(&state, quota(MIB + 100)).await;
        let token = app.token("ursula", &[], &["uploader"]);
        assert_eq!(
            app.post_uploads(&token, &declaration(MIB)).await.0,
            StatusCode::CREATED
        );

        let path = "/s3/params?filename=a.mp4&type=video%2Fmp4";
        let (status, signed) = app.call(Method::GET, path, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{signed}");
        let url = signed["url"].as_str().unwrap();
        let fields = form_fields(&signed);
        let response = app.s3_post_form(url, &fields, &[3u8; 101]).await;
        assert!(
            !response.status().is_success(),
            "101 bytes do not fit in 100"
        );
        let response = app.s3_post_form(url, &fields, &[3u8; 100]).await;
        assert!(
            response.status().is_success(),
            "{}: {}",
            state.name(),
            response.status()
        );

        // With nothing left, no form at all.
        let app = spawn(&state, quota(MIB)).await;
        let token = app.token("ursula", &[], &["uploader"]);
        app.post_uploads(&token, &declaration(MIB)).await;
        let (status, body) = app.call(Method::GET, path, &token, None).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    }
}

#[tokio::test]
async fn uploads_of_unknown_size_signed_and_never_finished_are_bounded() {
    for state in states() {
        let app = spawn(&state, quota(MIB)).await;
        let token = app.token("ursula", &[], &["uploader"]);
        let path = "/s3/params?filename=a.mp4&type=video%2Fmp4";
        for _ in 0..tollgate::controls::MAX_PENDING_UPLOADS {
            assert_eq!(
                app.call(Method::GET, path, &token, None).await.0,
                StatusCode::OK
            );
        }
        let response = app.get(path, Some(&token)).await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            state.name()
        );
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_uploads", "{body}");
        // Once an upload id's life has passed, unused forms are forgotten.
        let max_age = i64::try_from(app.settings.uploads.id_max_age_secs).unwrap();
        app.clock.set_offset_secs(max_age + 1);
        let later = uploader_token_at(&app, "ursula", max_age + 1);
        assert_eq!(
            app.call(Method::GET, path, &later, None).await.0,
            StatusCode::OK
        );
    }
}
