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
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    for name in [
        "access-control-allow-origin",
        "access-control-expose-headers",
    ] {
        assert!(response.headers().get(name).is_none(), "{name}");
    }
}

/// Caches must keep answers apart by origin and preflight: `Vary` names the request headers CORS
/// answers depend on, on preflights and on every other answer, whatever the origin.
#[tokio::test]
async fn every_answer_varies_by_origin_and_preflight_headers() {
    let app =
        spawn_app_with(|s| s.cors.allowed_origins = vec!["https://app.example.com".to_owned()])
            .await;
    let vary = |response: &reqwest::Response| -> Vec<String> {
        response
            .headers()
            .get_all("vary")
            .iter()
            .flat_map(|v| {
                v.to_str()
                    .unwrap()
                    .split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let expected = [
        "origin",
        "access-control-request-method",
        "access-control-request-headers",
    ];
    let mut answers = vec![
        preflight(&app, "https://app.example.com", "POST", "authorization").await,
        preflight(&app, "https://evil.example", "POST", "authorization").await,
    ];
    for origin in [
        Some("https://app.example.com"),
        Some("https://evil.example"),
        None,
    ] {
        let mut request = app.http.get(app.url("/videos/v1/url"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        answers.push(response);
    }
    for response in &answers {
        let vary = vary(response);
        for name in expected {
            assert_eq!(
                vary.iter().filter(|v| *v == name).count(),
                1,
                "{name} in {vary:?}"
            );
        }
    }
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

/// `cargo run`'s configuration: any port of localhost and 127.0.0.1.
#[tokio::test]
async fn in_local_configuration_any_local_dev_port_may_call_tollgate() {
    let app = spawn_app().await;
    for origin in ["http://localhost:5173", "http://127.0.0.1:3000"] {
        let response = preflight(&app, origin, "POST", "authorization,content-type").await;
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
    }
    for origin in ["http://localhost.evil.example", "https://evil.example"] {
        let response = preflight(&app, origin, "POST", "authorization").await;
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin"),
            "{origin}"
        );
    }
}

/// The embedded store answers browsers as a bucket CORS rule would (Garage and S3 have their
/// own rules, set with PutBucketCors).
#[tokio::test]
async fn the_embedded_store_speaks_cors_for_presigned_requests() {
    if crate::helpers::external_store().is_some() {
        return;
    }
    let app = spawn_app().await;
    let origin = "http://localhost:5173";
    let token = app.token("ursula", &[], &["uploader"]);
    let declaration =
        serde_json::json!({"content_type": "video/mp4", "size": 16, "access": "free"});
    let (status, created) = app.post_uploads(&token, &declaration).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let url = created["url"].as_str().unwrap();

    // The browser's preflight for the PUT and its signed headers.
    let names: Vec<&str> = created["headers"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|name| *name != "content-length")
        .collect();
    let preflight = app
        .http
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", names.join(","))
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    assert_eq!(preflight.headers()["access-control-allow-origin"], origin);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for name in &names {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }

    // The PUT itself: its ETag is exposed to the page.
    let mut put = app
        .http
        .put(url)
        .header("origin", origin)
        .body(b"0123456789abcdef".to_vec());
    for name in &names {
        put = put.header(*name, created["headers"][*name].as_str().unwrap());
    }
    let response = put.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], origin);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("content-range"),
        "{exposed}"
    );

    // A player seeking: a Range GET through the playback URL is a 206 the page may read.
    let id = created["id"].as_str().unwrap();
    let (status, _) = app.complete_upload(id, &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let playback = app.granted_url(id, &token).await;
    let ranged = app
        .http
        .get(&playback)
        .header("origin", origin)
        .header("range", "bytes=4-7")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()["access-control-allow-origin"], origin);
    assert_eq!(ranged.headers()["content-range"], "bytes 4-7/16");
    assert_eq!(&ranged.bytes().await.unwrap()[..], b"4567");

    // Another origin gets no CORS answer: its page cannot read or send these requests.
    let refused = app
        .http
        .request(Method::OPTIONS, url)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
}
