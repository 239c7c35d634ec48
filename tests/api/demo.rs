//! `/demo` (development only): the page and its bundle, compiled in, and the session that hands
//! the page a token only while tollgate uses the published development secret.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tollgate::secret::Secret;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_page_and_its_bundle_are_served_under_a_strict_policy() {
    let app = spawn_app().await;
    for (path, content_type, must_contain) in [
        ("/demo", "text/html; charset=utf-8", "/demo/demo.js"),
        ("/demo/demo.js", "text/javascript; charset=utf-8", "s3/sign"),
        (
            "/demo/demo.css",
            "text/css; charset=utf-8",
            ".uppy-Dashboard",
        ),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.starts_with("default-src 'self'"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains(must_contain), "{path}");
    }
}

#[tokio::test]
async fn the_session_token_is_an_uploaders_minted_with_the_published_secret() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/demo/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["key_prefix"], app.settings.storage.key_prefix);
    assert_eq!(session["expires_in"], 3600);
    let token = session["token"].as_str().expect("a token");
    // It uploads, as the page does.
    let (status, signed) = app
        .s3_sign(
            token,
            json!({"method": "PUT", "key": "clip.mp4", "contentType": "video/mp4"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
}

#[tokio::test]
async fn with_a_secret_of_its_own_tollgate_mints_no_demo_token() {
    let app = spawn_app_with(|s| {
        s.auth.hmac_secret = Some(Secret::new("a-secret-of-this-deployment-0123456789abcdef"));
    })
    .await;
    let response = app
        .http
        .post(app.url("/demo/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["token"], Value::Null, "{session}");
    assert_eq!(session["expires_in"], Value::Null, "{session}");
}

#[tokio::test]
async fn without_demo_enabled_there_is_no_demo() {
    let app = spawn_app_with(|s| s.demo.enabled = false).await;
    for (method, path) in [
        (reqwest::Method::GET, "/demo"),
        (reqwest::Method::GET, "/demo/demo.js"),
        (reqwest::Method::POST, "/demo/session"),
    ] {
        let response = app
            .http
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
}
