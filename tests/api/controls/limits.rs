//! Rate limits: GCRA per subject (by route class and tier) and per client IP (before
//! authentication, `X-Forwarded-For` only from trusted proxies).

use axum::http::StatusCode;
use serde_json::Value;
use tollgate::controls::settings::TierRates;

use super::{rate, spawn, states};
use crate::helpers::{Meta, TestApp, assert_error};

async fn get_url(app: &TestApp, token: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url("/videos/v1/url")).bearer_auth(token);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers()[name].to_str().unwrap()
}

#[tokio::test]
async fn the_request_over_a_subjects_limit_is_refused_with_retry_after_and_ratelimit_headers() {
    for state in states() {
        let app = spawn(&state, |s| {
            s.limits.playback = rate(2, 60, 2);
            s.limits.tiers.insert(
                "premium".to_owned(),
                TierRates {
                    playback: Some(rate(5, 60, 5)),
                    ..TierRates::default()
                },
            );
        })
        .await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let alice = app.token("alice", &[], &[]);

        for remaining in [1, 0] {
            let response = get_url(&app, &alice, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", state.name());
            assert_eq!(
                header(&response, "ratelimit-policy"),
                "\"playback\";q=2;w=60"
            );
            assert!(
                header(&response, "ratelimit")
                    .starts_with(&format!("\"playback\";r={remaining};t=")),
                "{}",
                header(&response, "ratelimit")
            );
        }
        let response = get_url(&app, &alice, None).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            header(&response, "retry-after"),
            "30",
            "one request per 30 s"
        );
        assert_eq!(header(&response, "ratelimit"), "\"playback\";r=0;t=60");
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"playback\";q=2;w=60"
        );
        let body: Value = response.json().await.unwrap();
        assert_error(
            StatusCode::TOO_MANY_REQUESTS,
            &body,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        );

        // Another subject has its own budget; a premium subject the premium tier's.
        let bob = app.token("bob", &[], &[]);
        assert_eq!(get_url(&app, &bob, None).await.status(), StatusCode::OK);
        let carol = app.token("carol", &["premium", "free"], &[]);
        for _ in 0..5 {
            assert_eq!(get_url(&app, &carol, None).await.status(), StatusCode::OK);
        }
        assert_eq!(
            get_url(&app, &carol, None).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );

        // One interval later, one more request fits.
        app.clock.set_offset_secs(31);
        assert_eq!(
            get_url(&app, &alice, None).await.status(),
            StatusCode::OK,
            "{}",
            state.name()
        );
        assert_eq!(
            get_url(&app, &alice, None).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

#[tokio::test]
async fn upload_routes_count_against_the_upload_limit_only() {
    for state in states() {
        let app = spawn(&state, |s| s.limits.upload = rate(1, 60, 1)).await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let token = app.token("erin", &[], &["uploader"]);
        let declaration = serde_json::json!({"content_type": "video/mp4", "size": 10});
        assert_eq!(
            app.post_uploads(&token, &declaration).await.0,
            StatusCode::CREATED
        );
        let (status, body) = app.post_uploads(&token, &declaration).await;
        assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        // Uppy's routes share the class: refused too, with Retry-After.
        let response = app
            .get("/s3/params?filename=a.mp4&type=video/mp4", Some(&token))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            state.name()
        );
        assert!(response.headers().contains_key("retry-after"));
        // Playback is another class.
        assert_eq!(get_url(&app, &token, None).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn bad_tokens_count_against_the_client_ip_and_a_forged_forwarded_for_is_ignored() {
    for state in states() {
        let app = spawn(&state, |s| s.limits.ip = rate(3, 60, 3)).await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        // 127.0.0.1 is no trusted proxy: whatever X-Forwarded-For says, the bucket is the peer's.
        for forged in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            let response = get_url(&app, "not.a.token", Some(forged)).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{}",
                state.name()
            );
        }
        let response = get_url(&app, "not.a.token", Some("198.51.100.4")).await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            state.name()
        );
        assert_eq!(header(&response, "ratelimit-policy"), "\"ip\";q=3;w=60");
        // The address is over its limit for valid tokens too, and without any token.
        let valid = app.token("frank", &[], &[]);
        assert_eq!(
            get_url(&app, &valid, None).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let response = app.get("/videos/v1/url", None).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        // Health checks are never limited.
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    for state in states() {
        let app = spawn(&state, |s| {
            s.limits.ip = rate(1, 60, 1);
            s.server.trusted_proxies = vec!["127.0.0.0/8".to_owned()];
        })
        .await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let client = "203.0.113.7";
        assert_eq!(
            get_url(&app, "bad", Some(client)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get_url(&app, "bad", Some(client)).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            state.name()
        );
        // What the client wrote to the left of the proxy's entry changes nothing.
        let spoofed = format!("1.2.3.4, {client}");
        assert_eq!(
            get_url(&app, "bad", Some(&spoofed)).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            get_url(&app, "bad", Some("203.0.113.8")).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
