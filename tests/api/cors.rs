//! CORS for browser apps on other origins (the bucket's own CORS is the store's business).

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url("/uploads"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn configured_origins_get_preflight_answers_and_others_do_not() {
    let app =
        spawn_app_with(|s| s.cors.allowed_origins = vec!["https://app.example.com".to_owned()])
            .await;
    let response = preflight(
        &app,
        "https://app.example.com",
        "POST",
        "authorization,content-type",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    for method in ["GET", "POST", "DELETE", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in ["authorization", "content-type", "accept"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    assert_eq!(headers["access-control-max-age"], "600");

    let other = preflight(&app, "https://evil.example", "POST", "authorization").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // Actual requests carry the header (and expose the request id) for the allowed origin only.
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        response.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );
}

#[tokio::test]
async fn without_configured_origins_there_are_no_cors_headers() {
    let app = spawn_app().await;
    let response = preflight(&app, "https://app.example.com", "POST", "authorization").await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
