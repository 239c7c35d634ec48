//! Single-request uploads: the URL allows exactly what was authorised, and the store is the judge.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, profile, spawn_app};

/// A header to send instead of the signed one: (name, value).
type Override<'a> = Option<(&'a str, &'a str)>;

const VIDEO: &[u8] = b"\x00\x00\x00\x18ftypmp42 an uploaded video, byte-exact";

/// `POST /uploads` as `token`; returns status and body.
pub(crate) async fn create(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url("/uploads"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

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

pub(crate) async fn complete(app: &TestApp, id: &str, token: &str) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url(&format!("/uploads/{id}/complete")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn object_exists(app: &TestApp, key: &str) -> bool {
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

#[tokio::test]
async fn upload_then_complete_then_play_returns_the_same_bytes() {
    let app = spawn_app().await;
    let token = uploader(&app);
    let (status, created) = create(&app, &token, &declaration("video/mp4", VIDEO.len())).await;
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
    let (status, ready) = complete(&app, id, &token).await;
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
    let (_, created) = create(&app, &token, &declaration("video/mp4", VIDEO.len())).await;
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
    let (status, created) = create(&app, &token, &body).await;
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
    let (status, answer) = complete(&app, id, &token).await;
    if profile().keeps_body_of_a_refused_checksum {
        assert_error(status, &answer, StatusCode::CONFLICT, "upload_mismatch");
    } else {
        assert_error(status, &answer, StatusCode::NOT_FOUND, "upload_not_found");
    }

    // A new upload with the right bytes goes through.
    let (_, created) = create(&app, &token, &body).await;
    assert_eq!(put(&app, &created, VIDEO, None).await, StatusCode::OK);
    let (status, _) = complete(&app, created["id"].as_str().unwrap(), &token).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_put_url_is_refused() {
    let app = spawn_app().await;
    let token = uploader(&app);
    app.clock.set_offset_secs(-7200);
    let (status, created) = create(&app, &token, &declaration("video/mp4", VIDEO.len())).await;
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
    let (_, created) = create(&app, &token, &declaration("video/mp4", VIDEO.len())).await;
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
    let (_, created) = create(&app, &token, &declaration("video/mp4", VIDEO.len())).await;
    let id = created["id"].as_str().unwrap();
    let status = put(&app, &created, VIDEO, Some(("x-amz-meta-note", "injected"))).await;
    assert_eq!(status, profile().unsigned_amz_header, "{}", profile().name);
    assert!(!object_exists(&app, created["key"].as_str().unwrap()).await);
    let (status, body) = complete(&app, id, &token).await;
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
        let (status, answer) = create(&app, &token, &body).await;
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
    let (status, answer) = create(&app, &uploader(&app), &declaration("video/mp4", 10)).await;
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
    let (status, answer) = create(&app, &app.token("bob", &["premium"], &["viewer"]), &body).await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = create(&app, &app.token("root", &[], &["admin"]), &body).await;
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
    let (status, body) = complete(&app, "0190a000-0000-7000-8000-000000000000", &token).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = complete(&app, "..%2Fx", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (_, created) = create(&app, &token, &declaration("video/mp4", VIDEO.len())).await;
    let id = created["id"].as_str().unwrap();
    let (status, body) = complete(&app, id, &token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
    assert_eq!(put(&app, &created, VIDEO, None).await, StatusCode::OK);
    let (status, body) = complete(&app, id, &app.token("mallory", &[], &["uploader"])).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = complete(&app, id, &app.token("root", &[], &["admin"])).await;
    assert_eq!(status, StatusCode::OK);

    // Objects under issued ids that did not come through the upload URL, or differ from what it
    // allowed.
    for size_meta in [None, Some("10")] {
        let (_, created) = create(&app, &token, &declaration("video/mp4", VIDEO.len())).await;
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
        let (status, body) = complete(&app, id, &token).await;
        assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
    }
}

const MIB: usize = 1024 * 1024;

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

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> (StatusCode, Value) {
    let response = app
        .http
        .request(method, app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
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
        let (status, signed) = send(app, reqwest::Method::GET, &path, token).await;
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

pub(crate) async fn complete_multipart(
    app: &TestApp,
    id: &str,
    token: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url(&format!("/uploads/{id}/complete")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_multipart_upload_plays_back_byte_exact() {
    let app = multipart_app().await;
    let token = uploader(&app);
    let body = big_video();
    let (status, created) = create(&app, &token, &declaration("video/mp4", body.len())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["part_count"], 3);
    assert_eq!(created["part_size"], 5 * MIB);
    let id = created["id"].as_str().unwrap().to_owned();
    let upload_id = created["upload_id"].as_str().unwrap().to_owned();

    // A part URL signs that part's exact length: one byte more is refused by the store.
    let (_, signed) = send(
        &app,
        reqwest::Method::GET,
        &format!("/uploads/{id}/parts/3?upload_id={upload_id}"),
        &token,
    )
    .await;
    let too_long = app
        .http
        .put(signed["url"].as_str().unwrap())
        .body(vec![0u8; MIB + 1])
        .send()
        .await
        .unwrap();
    assert!(too_long.status().is_client_error(), "{}", too_long.status());
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        &format!("/uploads/{id}/parts/4?upload_id={upload_id}"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no part 4 in the plan");
    // Nor through Uppy's routes: a known plan is signed part by part, never without a length.
    let key = created["key"].as_str().unwrap();
    let key_q =
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC).to_string();
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        &format!("/s3/multipart/{upload_id}/4?key={key_q}"),
        &token,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "4.x route: no part 4 in the plan"
    );
    let response = app
        .http
        .post(app.url("/s3/sign"))
        .bearer_auth(&token)
        .json(&json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "/s3/sign: no part 4 in the plan"
    );

    let parts = upload_parts(&app, &token, &created, &body).await;
    let (status, listed) = send(
        &app,
        reqwest::Method::GET,
        &format!("/uploads/{id}/parts?upload_id={upload_id}"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let sizes: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [5 * MIB as u64, 5 * MIB as u64, MIB as u64]);

    let (status, ready) = complete_multipart(
        &app,
        &id,
        &token,
        &json!({ "upload_id": upload_id, "parts": parts }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["size"], body.len());
    assert_eq!(ready["status"], "ready");

    let url = app.granted_url(&id, &token).await;
    let fetched = app.fetch(&url).await.bytes().await.unwrap();
    assert_eq!(fetched.len(), body.len());
    assert!(fetched.as_ref() == body.as_slice(), "byte-exact");
}

#[tokio::test]
async fn another_users_upload_cannot_be_signed_listed_completed_or_aborted() {
    let app = multipart_app().await;
    let token = uploader(&app);
    let (_, created) = create(&app, &token, &declaration("video/mp4", 11 * MIB)).await;
    let (id, upload_id) = (
        created["id"].as_str().unwrap(),
        created["upload_id"].as_str().unwrap(),
    );
    let mallory = app.token("mallory", &[], &["uploader"]);
    for (method, path) in [
        (
            reqwest::Method::GET,
            format!("/uploads/{id}/parts/1?upload_id={upload_id}"),
        ),
        (
            reqwest::Method::GET,
            format!("/uploads/{id}/parts?upload_id={upload_id}"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/uploads/{id}?upload_id={upload_id}"),
        ),
    ] {
        let (status, body) = send(&app, method, &path, &mallory).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let parts = json!({ "upload_id": upload_id, "parts": [{"part_number": 1, "etag": "\"x\""}] });
    let (status, body) = complete_multipart(&app, id, &mallory, &parts).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // An admin may.
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        &format!("/uploads/{id}/parts?upload_id={upload_id}"),
        &app.token("root", &[], &["admin"]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn abort_leaves_nothing_behind() {
    let app = multipart_app().await;
    let token = uploader(&app);
    let body = big_video();
    let (_, created) = create(&app, &token, &declaration("video/mp4", body.len())).await;
    let (id, upload_id) = (
        created["id"].as_str().unwrap(),
        created["upload_id"].as_str().unwrap(),
    );
    upload_parts(&app, &token, &created, &body).await;
    let (status, answer) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/uploads/{id}?upload_id={upload_id}"),
        &token,
    )
    .await;
    assert_eq!((status, answer), (StatusCode::OK, json!({})));

    let (status, answer) = send(
        &app,
        reqwest::Method::GET,
        &format!("/uploads/{id}/parts?upload_id={upload_id}"),
        &token,
    )
    .await;
    assert_eq!(
        status,
        profile().parts_after_abort,
        "{answer} on {}",
        profile().name
    );
    if status == StatusCode::OK {
        assert_eq!(answer, json!([]), "no part survives the abort");
    } else {
        assert_eq!(answer["error"]["code"], "upload_not_found");
    }
    assert!(!object_exists(&app, created["key"].as_str().unwrap()).await);
    if profile().lists_multipart_uploads {
        let uploads = app
            .s3
            .list_multipart_uploads()
            .bucket(&app.settings.storage.bucket)
            .prefix(created["key"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert!(uploads.uploads().is_empty(), "{uploads:?}");
    }
}

#[tokio::test]
async fn complete_with_a_wrong_total_is_refused() {
    let app = multipart_app().await;
    let token = uploader(&app);
    let body = big_video();
    let (_, created) = create(&app, &token, &declaration("video/mp4", body.len())).await;
    let (id, upload_id) = (
        created["id"].as_str().unwrap(),
        created["upload_id"].as_str().unwrap(),
    );
    let parts = upload_parts(&app, &token, &created, &body).await;

    // Leaving out the last part would assemble 10 MiB of a declared 11 MiB.
    let short = json!({ "upload_id": upload_id, "parts": parts[..2] });
    let (status, answer) = complete_multipart(&app, id, &token, &short).await;
    assert_error(status, &answer, StatusCode::CONFLICT, "upload_mismatch");
    assert!(!object_exists(&app, created["key"].as_str().unwrap()).await);

    // The full list still completes.
    let (status, _) = complete_multipart(
        &app,
        id,
        &token,
        &json!({ "upload_id": upload_id, "parts": parts }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
