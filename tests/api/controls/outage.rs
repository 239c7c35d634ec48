//! Redis killed mid-test: each control follows its failure policy, `/readyz` says so, and
//! everything recovers when Redis is back, without a restart of tollgate.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate::controls::settings::FailurePolicy;

use super::{State, rate, spawn};
use crate::helpers::{Meta, RedisServer, TestApp, assert_error, redis_server_available};
use crate::metrics::{sample, scrape};

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let response = app.get("/readyz", None).await;
    (response.status(), response.json().await.unwrap())
}

/// Waits (up to 10 s) until `/videos/v1/url` answers `expected` for `token`.
async fn until_answers(app: &TestApp, token: &str, expected: StatusCode) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = app.video_url("v1", token).await;
        if status == expected {
            return;
        }
        assert!(Instant::now() < deadline, "still {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_the_default_policies_revocation_fails_closed_and_recovers_by_itself() {
    if !redis_server_available() {
        return;
    }
    let mut server = RedisServer::start();
    let state = State::redis(&server);
    let app = spawn(&state, |s| s.limits.playback = rate(100, 60, 100)).await;
    app.put_video("v1", b"x", Meta::tier("free")).await;
    let token = app.token("alice", &[], &[]);
    let admin = app.token("root", &[], &["admin"]);
    assert_eq!(app.video_url("v1", &token).await.0, StatusCode::OK);
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["state"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["state"]["backend"], "redis", "{body}");

    let before = scrape(&app, &app.address).await;
    server.kill();
    // Revocation fails closed: no URL while nobody can tell whether the token was revoked.
    let response = app.get("/videos/v1/url", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Counted as a failed call to the shared state (the registry is shared with other tests).
    let after = scrape(&app, &app.address).await;
    let errors = r#"tollgate_state_calls_total{result="error"}"#;
    assert!(
        sample(&after, errors) - sample(&before, errors) >= 1.0,
        "{errors}:\n{after}"
    );
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "state_unavailable",
    );
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["state"]["status"], "error", "{body}");
    // Admin routes cannot record anything either.
    let (status, body) = app.revoke(&admin, json!({"subject": "mallory"})).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "state_unavailable",
    );
    // Liveness never touches Redis.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);

    server.restart();
    until_answers(&app, &token, StatusCode::OK).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The state came back empty (no persistence here): the limits start afresh, and a
    // revocation is recorded again.
    let (status, body) = app.revoke(&admin, json!({"subject": "alice"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        app.video_url("v1", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn open_policies_serve_without_redis_and_closed_limits_refuse() {
    if !redis_server_available() {
        return;
    }
    let mut server = RedisServer::start();
    let state = State::redis(&server);
    let open = spawn(&state, |s| {
        s.revocation.failure_policy = FailurePolicy::FailOpen;
        s.limits.playback = rate(1, 60, 1);
        s.streams.max_concurrent = 1;
    })
    .await;
    let closed_limits = spawn(&state, |s| {
        s.revocation.failure_policy = FailurePolicy::FailOpen;
        s.limits.failure_policy = FailurePolicy::FailClosed;
        s.limits.playback = rate(100, 60, 100);
        s.uploads.quota_bytes = 1 << 30;
    })
    .await;
    for app in [&open, &closed_limits] {
        app.put_video("v1", b"x", Meta::tier("free")).await;
    }
    let token = open.token("alice", &[], &[]);
    assert_eq!(
        open.video_url_in_session("v1", &token, "a").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        open.video_url_in_session("v1", &token, "b").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    server.kill();
    // Everything fails open: over the limit and over the stream count, still served.
    for session in ["b", "c"] {
        let response = open.video_url_in_session("v1", &token, session).await;
        assert_eq!(response.status(), StatusCode::OK, "{session}");
        assert!(
            !response.headers().contains_key("ratelimit"),
            "no state, no figures"
        );
    }
    let (status, body) = readyz(&open).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "nothing refuses while Redis is down: {body}"
    );
    assert_eq!(body["checks"]["state"]["status"], "warning", "{body}");
    // A rate limit that fails closed refuses.
    let (status, body) = closed_limits.video_url("v1", &token).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "state_unavailable",
    );
    let (status, body) = readyz(&closed_limits).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // Quotas fail closed by default: no upload is signed uncounted.
    let uploader = closed_limits.token("ursula", &[], &["uploader"]);
    let declaration = json!({"content_type": "video/mp4", "size": 10});
    let (status, body) = closed_limits.post_uploads(&uploader, &declaration).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "state_unavailable",
    );

    server.restart();
    until_answers(&closed_limits, &token, StatusCode::OK).await;
    // The limits hold again once Redis is back (and reached: fail-open answers alike until then).
    let deadline = Instant::now() + Duration::from_secs(10);
    while readyz(&open).await.1["checks"]["state"]["status"] != "ok" {
        assert!(Instant::now() < deadline, "readiness recovers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open.video_url("v1", &token).await.0, StatusCode::OK);
    assert_eq!(
        open.video_url("v1", &token).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}
