//! Uppy `@uppy/aws-s3` 4.x: the Companion-style `/s3/*` routes, as the client calls them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

const MIB: usize = 1024 * 1024;

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn a_multipart_upload_through_the_4x_routes_plays_back_byte_exact() {
    let app = spawn_app().await;
    let token = app.token("ursula", &[], &["uploader"]);
    let body: Vec<u8> = (0..6 * MIB).map(|i| (i % 241) as u8).collect();

    // createMultipartUpload
    let (status, created) = call(
        &app,
        reqwest::Method::POST,
        "/s3/multipart",
        &token,
        Some(json!({ "filename": "big trip.mp4", "type": "video/mp4", "metadata": { "name": "big trip.mp4" } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let upload_id = created["uploadId"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&app.settings.storage.key_prefix), "{key}");
    let (q_key, q_upload) = (encode(&key), encode(&upload_id));

    // signPart + the PUT the client makes, for 5 MiB and 1 MiB.
    let mut parts = Vec::new();
    for (index, chunk) in body.chunks(5 * MIB).enumerate() {
        let number = index + 1;
        let path = format!("/s3/multipart/{q_upload}/{number}?key={q_key}");
        let (status, signed) = call(&app, reqwest::Method::GET, &path, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{signed}");
        assert_eq!(signed["expires"], 900);
        let response = app
            .http
            .put(signed["url"].as_str().unwrap())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(json!({ "PartNumber": number, "ETag": etag }));
    }

    // listParts
    let (status, listed) = call(
        &app,
        reqwest::Method::GET,
        &format!("/s3/multipart/{q_upload}?key={q_key}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let sizes: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [5 * MIB as u64, MIB as u64]);

    // Another user holding the key and uploadId is refused.
    let mallory = app.token("mallory", &[], &["uploader"]);
    let (status, answer) = call(
        &app,
        reqwest::Method::GET,
        &format!("/s3/multipart/{q_upload}/1?key={q_key}"),
        &mallory,
        None,
    )
    .await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
    // Companion's error shape, which @uppy/companion-client shows to the user.
    assert_eq!(answer["message"], answer["error"]["message"], "{answer}");
    assert!(
        answer["requestId"]
            .as_str()
            .is_some_and(|id| id.len() == 36),
        "{answer}"
    );

    // completeMultipartUpload
    let (status, done) = call(
        &app,
        reqwest::Method::POST,
        &format!("/s3/multipart/{q_upload}/complete?key={q_key}"),
        &token,
        Some(json!({ "parts": parts })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["key"], key);

    let id = key.strip_prefix(&app.settings.storage.key_prefix).unwrap();
    let url = app.granted_url(id, &token).await;
    let fetched = app.fetch(&url).await.bytes().await.unwrap();
    assert!(fetched.as_ref() == body.as_slice(), "byte-exact");
}

#[tokio::test]
async fn s3_params_signs_one_put_with_type_owner_and_tier() {
    let app = spawn_app().await;
    let token = app.token("ursula", &[], &["uploader"]);
    let path = "/s3/params?filename=clip.mp4&type=video%2Fmp4&metadata%5Bname%5D=clip.mp4&metadata%5Baccess%5D=free";
    let (status, signed) = call(&app, reqwest::Method::GET, path, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    assert_eq!(signed["method"], "PUT");
    assert_eq!(signed["headers"]["content-type"], "video/mp4");
    assert_eq!(signed["headers"]["x-amz-meta-owner"], "ursula");
    assert_eq!(signed["headers"]["x-amz-meta-access"], "free");

    let mut put = app
        .http
        .put(signed["url"].as_str().unwrap())
        .body(b"small clip".to_vec());
    for (name, value) in signed["headers"].as_object().unwrap() {
        put = put.header(name, value.as_str().unwrap());
    }
    assert_eq!(put.send().await.unwrap().status(), StatusCode::OK);
    let forged = app
        .http
        .put(signed["url"].as_str().unwrap())
        .header("content-type", "text/html")
        .body(b"<script>".to_vec())
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_client_error(), "{}", forged.status());

    let key = signed["url"]
        .as_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // Free tier: anyone may watch it.
    let url = app.granted_url(&key, &app.token("bob", &[], &[])).await;
    assert_eq!(
        app.fetch(&url).await.bytes().await.unwrap().as_ref(),
        b"small clip"
    );

    for (path, code) in [
        (
            "/s3/params?filename=x.html&type=text%2Fhtml",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("/s3/params?filename=x.mp4", StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = call(&app, reqwest::Method::GET, path, &token, None).await;
        assert_eq!(status, code, "{path}");
    }
    let (status, _) = call(
        &app,
        reqwest::Method::GET,
        "/s3/params?filename=a.mp4&type=video%2Fmp4",
        &app.token("bob", &[], &[]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
