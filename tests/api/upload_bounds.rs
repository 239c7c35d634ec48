//! What an upload may hold where the protocol cannot sign a length, and the smaller rules of the
//! upload routes: ids that expire, the role asked on every step, ownership before anything else.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, profile, spawn_app_with};
use crate::uploads::put;
use crate::uppy::xml_value;

const MIB: usize = 1024 * 1024;

/// Limits small enough to cross in a test: 6 MiB for one PUT, 5 MiB parts, 6 MiB multipart.
async fn small_limits_app() -> TestApp {
    spawn_app_with(|s| {
        s.uploads.max_size_bytes = 6 * MIB as u64;
        s.uploads.multipart_threshold_bytes = 5 * MIB as u64;
        s.uploads.part_size_bytes = 5 * MIB as u64;
        s.uploads.max_multipart_bytes = 6 * MIB as u64;
    })
    .await
}

fn uploader(app: &TestApp) -> String {
    app.token("ursula", &[], &["uploader"])
}

#[tokio::test]
async fn a_multipart_upload_completed_at_the_store_beyond_the_maximum_is_never_served() {
    let app = small_limits_app().await;
    let token = uploader(&app);
    let request = json!({"method": "POST", "key": "big.mp4", "contentType": "video/mp4"});
    let (status, signed) = app.s3_sign(&token, request).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    assert_eq!(
        signed["headers"]["x-amz-meta-max-size"],
        (6 * MIB).to_string()
    );
    let key = signed["key"].as_str().unwrap().to_owned();
    let created = app
        .s3_call(reqwest::Method::POST, &signed, Vec::new())
        .await;
    let upload_id = xml_value(&created.text().await.unwrap(), "UploadId").unwrap();
    let mut completion = String::from("<CompleteMultipartUpload>");
    for (number, size) in [(1, 5 * MIB), (2, 2 * MIB)] {
        let part =
            json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": number});
        let (_, signed) = app.s3_sign(&token, part).await;
        let response = app
            .s3_call(reqwest::Method::PUT, &signed, vec![1u8; size])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        completion.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    completion.push_str("</CompleteMultipartUpload>");
    // The 6.x client completes at the store itself: 7 MiB land under the key.
    let complete = json!({"method": "POST", "key": key, "uploadId": upload_id});
    let (_, signed) = app.s3_sign(&token, complete).await;
    let done = app
        .s3_call(reqwest::Method::POST, &signed, completion.into_bytes())
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    // tollgate never serves it.
    let id = key.trim_start_matches(&app.settings.storage.key_prefix);
    let (status, body) = app.video_url(id, &token).await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
}

/// A multipart upload through the 4.x route `POST /s3/multipart`: (key, upload id).
async fn start_4x_multipart(app: &TestApp, token: &str) -> (String, String) {
    let multipart = json!({"filename": "a.mp4", "type": "video/mp4", "metadata": {}});
    let (status, created) = app
        .call(
            reqwest::Method::POST,
            "/s3/multipart",
            token,
            Some(multipart),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    (
        created["key"].as_str().unwrap().to_owned(),
        created["uploadId"].as_str().unwrap().to_owned(),
    )
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A multipart upload through `POST /uploads`: (id, upload id).
async fn start_multipart(app: &TestApp, token: &str) -> (String, String) {
    let declaration = json!({"content_type": "video/mp4", "size": 6 * MIB});
    let (status, created) = app
        .call(reqwest::Method::POST, "/uploads", token, Some(declaration))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["id"].as_str().unwrap().to_owned(),
        created["upload_id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn upload_ids_expire() {
    let app = spawn_app_with(|s| {
        s.uploads.multipart_threshold_bytes = 5 * MIB as u64;
        s.uploads.part_size_bytes = 5 * MIB as u64;
        s.uploads.id_max_age_secs = 60;
        s.presign.put_max_expires_secs = 60;
    })
    .await;
    let token = uploader(&app);
    let (id, upload_id) = start_multipart(&app, &token).await;
    let part = format!("/uploads/{id}/parts/1?upload_id={upload_id}");
    let (status, _) = app.call(reqwest::Method::GET, &part, &token, None).await;
    assert_eq!(status, StatusCode::OK);
    // No URL outlives the id: half-way through its life, a part URL gets the half left.
    app.clock.set_offset_secs(30);
    let (status, signed) = app.call(reqwest::Method::GET, &part, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let expires_in = signed["expires_in"].as_u64().unwrap();
    assert!((28..=30).contains(&expires_in), "{signed}");
    app.clock.set_offset_secs(61);
    let (status, body) = app.call(reqwest::Method::GET, &part, &token, None).await;
    assert_error(status, &body, StatusCode::GONE, "upload_expired");
    let complete = format!("/uploads/{id}/complete");
    let (status, body) = app
        .call(reqwest::Method::POST, &complete, &token, None)
        .await;
    assert_error(status, &body, StatusCode::GONE, "upload_expired");
}

#[tokio::test]
async fn the_uploader_role_is_asked_on_every_step() {
    let app = spawn_app_with(|s| {
        s.uploads.multipart_threshold_bytes = 5 * MIB as u64;
        s.uploads.part_size_bytes = 5 * MIB as u64;
    })
    .await;
    let (id, upload_id) = start_multipart(&app, &uploader(&app)).await;
    // The same subject, with a token that no longer carries the role.
    let demoted = app.token("ursula", &[], &[]);
    for (method, path) in [
        (
            reqwest::Method::GET,
            format!("/uploads/{id}/parts/1?upload_id={upload_id}"),
        ),
        (
            reqwest::Method::GET,
            format!("/uploads/{id}/parts?upload_id={upload_id}"),
        ),
        (reqwest::Method::POST, format!("/uploads/{id}/complete")),
        (
            reqwest::Method::DELETE,
            format!("/uploads/{id}?upload_id={upload_id}"),
        ),
    ] {
        let (status, body) = app.call(method, &path, &demoted, None).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn complete_checks_ownership_before_looking_at_the_store() {
    let app = spawn_app_with(|_| {}).await;
    let declaration = json!({"content_type": "video/mp4", "size": 10});
    let (_, created) = app
        .call(
            reqwest::Method::POST,
            "/uploads",
            &uploader(&app),
            Some(declaration),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    // Nothing was uploaded: the owner learns that, anyone else only that it is not theirs.
    let path = format!("/uploads/{id}/complete");
    let mallory = app.token("mallory", &[], &["uploader"]);
    let (status, body) = app.call(reqwest::Method::POST, &path, &mallory, None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .call(reqwest::Method::POST, &path, &uploader(&app), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
}

#[tokio::test]
async fn upload_answers_are_not_cacheable_and_empty_upload_ids_are_refused() {
    let app = spawn_app_with(|_| {}).await;
    let token = uploader(&app);
    let declaration = json!({"content_type": "video/mp4", "size": 10});
    let response = app
        .request(reqwest::Method::POST, "/uploads", &token, Some(declaration))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let params = app
        .request(
            reqwest::Method::GET,
            "/s3/params?filename=a&type=video/mp4",
            &token,
            None,
        )
        .await;
    assert_eq!(params.headers()["cache-control"], "no-store");

    let (_, signed) = app
        .s3_sign(
            &token,
            json!({"method": "PUT", "key": "a.mp4", "contentType": "video/mp4"}),
        )
        .await;
    let key = signed["key"].as_str().unwrap();
    for method in ["GET", "POST", "DELETE"] {
        let (status, body) = app
            .s3_sign(
                &token,
                json!({"method": method, "key": key, "uploadId": ""}),
            )
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    }
}

#[tokio::test]
async fn a_completion_the_store_refuses_is_the_clients_error() {
    let app = spawn_app_with(|s| {
        s.uploads.multipart_threshold_bytes = 5 * MIB as u64;
        s.uploads.part_size_bytes = 5 * MIB as u64;
    })
    .await;
    let token = uploader(&app);
    let (key, upload_id) = &start_4x_multipart(&app, &token).await;
    let path = format!("/s3/multipart/{}/1?key={}", encode(upload_id), encode(key));
    let (_, part) = app.call(reqwest::Method::GET, &path, &token, None).await;
    let put = app
        .http
        .put(part["url"].as_str().unwrap())
        .body(vec![3u8; MIB])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let etag = put.headers()["etag"].to_str().unwrap().to_owned();

    let path = format!(
        "/s3/multipart/{}/complete?key={}",
        encode(upload_id),
        encode(key)
    );
    // An ETag that is not the stored part's: refused by tollgate where the store lists ETags,
    // and by the store itself; s3s-fs 0.14 neither lists nor checks them.
    if profile().checks_part_etags {
        let wrong =
            json!({"parts": [{"PartNumber": 1, "ETag": "\"0123456789abcdef0123456789abcdef\""}]});
        let (status, body) = app
            .call(reqwest::Method::POST, &path, &token, Some(wrong))
            .await;
        assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
    }
    // A part number that was never uploaded.
    let missing =
        json!({"parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": etag}]});
    let (status, body) = app
        .call(reqwest::Method::POST, &path, &token, Some(missing))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
    // The real part completes.
    let right = json!({"parts": [{"PartNumber": 1, "ETag": etag}]});
    let (status, body) = app
        .call(reqwest::Method::POST, &path, &token, Some(right))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_completion_the_store_itself_refuses_is_409_not_503() {
    let app = spawn_app_with(|_| {}).await;
    let token = uploader(&app);
    let (key, upload_id) = &start_4x_multipart(&app, &token).await;
    // Two parts of 1 KiB (the first below S3's 5 MiB minimum, which s3s-fs enforces and Garage
    // does not).
    let mut parts = Vec::new();
    for number in 1..=2 {
        let path = format!(
            "/s3/multipart/{}/{number}?key={}",
            encode(upload_id),
            encode(key)
        );
        let (_, part) = app.call(reqwest::Method::GET, &path, &token, None).await;
        let put = app
            .http
            .put(part["url"].as_str().unwrap())
            .body(vec![5u8; 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let etag = put.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(json!({"PartNumber": number, "ETag": etag}));
    }
    let path = format!(
        "/s3/multipart/{}/complete?key={}",
        encode(upload_id),
        encode(key)
    );
    let response = app
        .request(
            reqwest::Method::POST,
            &path,
            &token,
            Some(json!({ "parts": parts })),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    // InvalidPartOrder or EntityTooSmall from the store: the client's error, not an outage.
    // Garage 2.5 checks neither and assembles the parts.
    if profile().refuses_small_or_unordered_parts {
        assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
    } else {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn unsigned_response_headers_make_an_upload_unservable() {
    let app = spawn_app_with(|_| {}).await;
    let token = uploader(&app);
    for (name, value) in [
        ("content-encoding", "gzip"),
        ("content-disposition", "attachment; filename=\"setup.exe\""),
        ("cache-control", "public, max-age=31536000"),
    ] {
        let declaration = json!({"content_type": "video/mp4", "size": 10, "access": "free"});
        let (status, created) = app
            .call(reqwest::Method::POST, "/uploads", &token, Some(declaration))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        // Standard headers need no signature: both stores keep them and would serve them.
        let status = put(&app, &created, &[1u8; 10], Some((name, value))).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let id = created["id"].as_str().unwrap();
        let path = format!("/uploads/{id}/complete");
        let (status, body) = app.call(reqwest::Method::POST, &path, &token, None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
        let viewer = app.token("bob", &[], &[]);
        let (status, body) = app.video_url(id, &viewer).await;
        assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
    }
}

/// Browsers add `Cache-Control` to a request with `If-None-Match` by themselves (Chromium
/// `max-age=0`, fetch `no-cache`), and stores keep it: such an upload is what was authorised.
#[tokio::test]
async fn a_cache_control_browsers_add_on_their_own_leaves_an_upload_servable() {
    let app = spawn_app_with(|_| {}).await;
    let token = uploader(&app);
    for value in ["max-age=0", "no-cache"] {
        let declaration = json!({"content_type": "video/mp4", "size": 10});
        let (_, created) = app
            .call(reqwest::Method::POST, "/uploads", &token, Some(declaration))
            .await;
        let status = put(&app, &created, &[1u8; 10], Some(("cache-control", value))).await;
        assert_eq!(status, StatusCode::OK, "{value}");
        let id = created["id"].as_str().unwrap();
        let (status, body) = app.complete_upload(id, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{value}: {body}");
        let url = app.granted_url(id, &token).await;
        assert_eq!(app.fetch(&url).await.status(), StatusCode::OK, "{value}");
    }
}

#[tokio::test]
async fn any_subject_can_own_an_upload() {
    let app = spawn_app_with(|_| {}).await;
    for subject in ["josé", "a b%20c", "line\nbreak", "ユーザー"] {
        let token = app.token(subject, &[], &["uploader"]);
        let declaration = json!({"content_type": "video/mp4", "size": 4, "access": "premium"});
        let (status, created) = app
            .call(reqwest::Method::POST, "/uploads", &token, Some(declaration))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{subject:?}: {created}");
        let status = put(&app, &created, b"mine", None).await;
        assert_eq!(status, StatusCode::OK, "{subject:?}");
        let id = created["id"].as_str().unwrap();
        let path = format!("/uploads/{id}/complete");
        let (status, body) = app.call(reqwest::Method::POST, &path, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{subject:?}: {body}");
        // The owner plays their own premium upload; someone else does not.
        let url = app.granted_url(id, &token).await;
        assert_eq!(&app.fetch(&url).await.bytes().await.unwrap()[..], b"mine");
        let (status, _) = app.video_url(id, &app.token("josé2", &[], &[])).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let long = "x".repeat(3000);
    let declaration = json!({"content_type": "video/mp4", "size": 4});
    let token = app.token(&long, &[], &["uploader"]);
    let (status, body) = app
        .call(reqwest::Method::POST, "/uploads", &token, Some(declaration))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_second_multipart_upload_cannot_complete_over_the_first() {
    let app = spawn_app_with(|_| {}).await;
    let token = uploader(&app);
    let request = json!({"method": "POST", "key": "x.mp4", "contentType": "video/mp4"});
    let (_, create) = app.s3_sign(&token, request).await;
    let key = create["key"].as_str().unwrap().to_owned();
    // The CreateMultipartUpload URL is used twice: two uploads to one key.
    let mut uploads = Vec::new();
    for body in [b"first".to_vec(), b"second!".to_vec()] {
        let created = app
            .s3_call(reqwest::Method::POST, &create, Vec::new())
            .await;
        assert_eq!(created.status(), StatusCode::OK);
        let upload_id = xml_value(&created.text().await.unwrap(), "UploadId").unwrap();
        let part = json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1});
        let (_, signed) = app.s3_sign(&token, part).await;
        let response = app.s3_call(reqwest::Method::PUT, &signed, body).await;
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        uploads.push((upload_id, etag));
    }
    let complete = |upload_id: &str, etag: &str| {
        let body = format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        );
        (
            json!({"method": "POST", "key": key, "uploadId": upload_id}),
            body,
        )
    };
    let (request, body) = complete(&uploads[0].0, &uploads[0].1);
    let (_, signed) = app.s3_sign(&token, request).await;
    assert_eq!(signed["headers"]["if-none-match"], "*", "{signed}");
    let done = app
        .s3_call(reqwest::Method::POST, &signed, body.into_bytes())
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let (request, body) = complete(&uploads[1].0, &uploads[1].1);
    let (_, signed) = app.s3_sign(&token, request).await;
    let again = app
        .s3_call(reqwest::Method::POST, &signed, body.into_bytes())
        .await;
    // Refused where the store enforces If-None-Match (AWS, s3s-fs); Garage 2.5 ignores it.
    assert_eq!(
        again.status(),
        profile().overwrite_with_if_none_match,
        "{}",
        profile().name
    );
}

#[tokio::test]
async fn aborting_an_unknown_upload_is_404() {
    let app = spawn_app_with(|_| {}).await;
    let token = uploader(&app);
    let (_, signed) = app
        .s3_sign(
            &token,
            json!({"method": "PUT", "key": "a.mp4", "contentType": "video/mp4"}),
        )
        .await;
    let key = signed["key"].as_str().unwrap();
    let encoded = percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
    let path = format!("/s3/multipart/bogus?key={encoded}");
    let (status, answer) = app.call(reqwest::Method::DELETE, &path, &token, None).await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "upload_not_found");
}

#[tokio::test]
async fn metadata_stays_within_s3s_2_kb_and_long_names_are_cut() {
    let app = spawn_app_with(|_| {}).await;
    let token = uploader(&app);
    let name = format!("{}.mp4", "🎬".repeat(300));
    let declaration = json!({"content_type": "video/mp4", "size": 4, "filename": name});
    let (status, created) = app.post_uploads(&token, &declaration).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let metadata: usize = created["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(header, _)| header.starts_with("x-amz-meta-"))
        .map(|(header, value)| header.len() + value.as_str().unwrap().len())
        .sum();
    assert!(metadata <= 2048, "{metadata} bytes of metadata");
    let filename = created["headers"]["x-amz-meta-filename"].as_str().unwrap();
    assert!(filename.starts_with("%F0%9F%8E%AC"), "{filename}");
    assert_eq!(put(&app, &created, b"clip", None).await, StatusCode::OK);
}

#[tokio::test]
async fn uppy_routes_ask_whose_upload_before_anything_else() {
    let app = spawn_app_with(|_| {}).await;
    let (key, _) = start_4x_multipart(&app, &uploader(&app)).await;
    let mallory = app.token("mallory", &[], &["uploader"]);
    // A malformed S3 upload id on someone else's key: 403, as for a well-formed one.
    for (method, path) in [
        (
            reqwest::Method::GET,
            format!("/s3/multipart/%0A/1?key={}", encode(&key)),
        ),
        (
            reqwest::Method::GET,
            format!("/s3/multipart/%0A?key={}", encode(&key)),
        ),
        (
            reqwest::Method::DELETE,
            format!("/s3/multipart/%0A?key={}", encode(&key)),
        ),
    ] {
        let (status, body) = app.call(method, &path, &mallory, None).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn an_upload_the_store_no_longer_knows_is_answered_as_the_store_says() {
    let app = spawn_app_with(|_| {}).await;
    let token = uploader(&app);
    let (key, upload_id) = start_4x_multipart(&app, &token).await;
    let path = format!("/s3/multipart/{}?key={}", encode(&upload_id), encode(&key));
    let (status, _) = app.call(reqwest::Method::DELETE, &path, &token, None).await;
    assert_eq!(status, StatusCode::OK);
    // Gone: the store answers NoSuchUpload (the embedded store for s3s-fs, whose own 403
    // AccessDenied tollgate could not tell from a refused key), so 404 upload_not_found.
    let (status, body) = app.call(reqwest::Method::DELETE, &path, &token, None).await;
    let (expected, code) = profile().forgotten_upload_id;
    assert_error(status, &body, expected, code);
}
