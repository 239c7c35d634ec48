//! Faults of tollgate's dependencies, made by a [`FaultProxy`] in front of them: a store or a
//! JWKS endpoint that is slow, down, or swallows connections, and more requests than tollgate
//! serves at once. Each answer must come within a stated time, with a stable code, and service
//! must come back by itself when the dependency does.

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Fault, FaultProxy, JwksServer, Meta, Options, SigningKey, TestApp, assert_error,
    spawn_app_opts, spawn_app_with,
};
use crate::uploads::{MIB, big_video, declaration, object_exists, upload_parts, uploader};

/// Attempt and operation timeouts of the store in these tests.
const ATTEMPT: Duration = Duration::from_millis(300);
const OPERATION: Duration = Duration::from_millis(1000);
/// What the machine may add to a stated bound (a loaded CI runner, a debug build).
const SLACK: Duration = Duration::from_secs(2);

async fn gated_app(customize: impl FnOnce(&mut tollgate::config::Settings)) -> TestApp {
    spawn_app_opts(
        Options {
            gated: true,
            ..Options::default()
        },
        |s| {
            s.storage.attempt_timeout_ms = ATTEMPT.as_millis().try_into().unwrap();
            s.storage.operation_timeout_ms = OPERATION.as_millis().try_into().unwrap();
            s.storage.max_attempts = 2;
            customize(s);
        },
    )
    .await
}

/// `GET /videos/{id}/url` with the time it took.
async fn timed_video_url(app: &TestApp, id: &str, token: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let response = app.get(&format!("/videos/{id}/url"), Some(token)).await;
    let status = response.status();
    let retry_after = response.headers().get("retry-after").cloned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert_eq!(retry_after.expect("Retry-After on a 503"), "5", "{body}");
    }
    (status, body, started.elapsed())
}

#[tokio::test]
async fn a_slow_or_silent_store_is_answered_503_within_the_operation_timeout() {
    let app = gated_app(|_| {}).await;
    let token = app.token("alice", &["premium"], &[]);
    for (n, fault) in [
        Fault::Blackhole,
        Fault::Delay(Duration::from_secs(5)),
        Fault::Reset,
    ]
    .into_iter()
    .enumerate()
    {
        app.put_video(&format!("v{n}"), b"video", Meta::tier("premium"))
            .await;
        app.gate().set(fault);
        let before = app.gate().accepted();
        let (status, body, took) = timed_video_url(&app, &format!("v{n}"), &token).await;
        assert_error(
            status,
            &body,
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
        );
        assert!(
            took < OPERATION + SLACK,
            "{fault:?}: answered after {took:?}"
        );
        // Each attempt cut at the attempt timeout and retried, `storage.max_attempts` (2) in
        // all: a single attempt waiting out the whole operation timeout would be one.
        let attempts = app.gate().accepted() - before;
        assert_eq!(attempts, 2, "{fault:?}: {attempts} attempts");
        app.gate().set(Fault::None);
    }
}

#[tokio::test]
async fn a_store_slower_than_usual_but_within_the_attempt_timeout_still_serves() {
    let app = gated_app(|_| {}).await;
    let token = app.token("alice", &["premium"], &[]);
    app.put_video("slowish", b"video", Meta::tier("premium"))
        .await;
    app.gate().set(Fault::Delay(ATTEMPT / 3));
    let (status, body, _) = timed_video_url(&app, "slowish", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn with_the_store_down_cached_metadata_serves_and_service_recovers_by_itself() {
    let app = gated_app(|_| {}).await;
    let token = app.token("alice", &["premium"], &[]);
    app.put_video("cached", b"video", Meta::tier("premium"))
        .await;
    app.put_video("uncached", b"video", Meta::tier("premium"))
        .await;
    app.granted_url("cached", &token).await;

    app.gate().set(Fault::Reset);
    // The metadata cache answers for the video seen before; the other needs the store.
    app.granted_url("cached", &token).await;
    let (status, body, _) = timed_video_url(&app, "uncached", &token).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
    );
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);

    // The store comes back: no restart, no operator.
    app.gate().set(Fault::None);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    app.granted_url("uncached", &token).await;
}

#[tokio::test]
async fn a_multipart_completion_whose_answer_was_lost_completes_when_retried() {
    let app = gated_app(|s| {
        s.uploads.multipart_threshold_bytes = 5 * MIB as u64;
        s.uploads.part_size_bytes = 5 * MIB as u64;
    })
    .await;
    let token = uploader(&app);
    let video = big_video();
    let (status, created) = app
        .post_uploads(&token, &declaration("video/mp4", video.len()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let parts = upload_parts(&app, &token, &created, &video).await;
    let id = created["id"].as_str().unwrap();
    let complete = serde_json::json!({ "upload_id": created["upload_id"], "parts": parts });

    // The store assembles the parts, but its answer comes too late: tollgate gives up on it
    // (and the SDK's retry finds the upload gone). It may see the object there already.
    app.gate().set(Fault::DelayPosts(Duration::from_secs(5)));
    let (status, body) = app.complete_upload(id, &token, Some(&complete)).await;
    if status != StatusCode::OK {
        assert_error(
            status,
            &body,
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
        );
    }
    let key = format!("{}{id}", app.settings.storage.key_prefix);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !object_exists(&app, &key).await {
        assert!(Instant::now() < deadline, "the store never assembled {key}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.gate().set(Fault::None);

    // The client retries as the 503 told it to: the upload is complete, not "not found".
    let (status, ready) = app.complete_upload(id, &token, Some(&complete)).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["size"], video.len());
}

#[tokio::test]
async fn more_requests_than_max_in_flight_are_shed_with_503_and_retry_after() {
    let app = gated_app(|s| {
        s.server.max_in_flight = 2;
        // Long enough for the stuck requests to hold their slots through the test.
        s.storage.attempt_timeout_ms = 10_000;
        s.storage.operation_timeout_ms = 10_000;
    })
    .await;
    let token = app.token("alice", &["premium"], &[]);
    for id in ["a", "b", "c"] {
        app.put_video(id, b"video", Meta::tier("premium")).await;
    }
    app.gate().set(Fault::Blackhole);
    let before = app.gate().accepted();
    let stuck: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|id| {
            let request = app
                .http
                .get(app.url(&format!("/videos/{id}/url")))
                .bearer_auth(&token);
            tokio::spawn(request.send())
        })
        .collect();
    // Both are in flight once each holds a connection to the (silent) store.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.gate().accepted() < before + 2 {
        assert!(
            Instant::now() < deadline,
            "the requests never reached the store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    let shed = app.get("/videos/c/url", Some(&token)).await;
    let took = started.elapsed();
    assert_eq!(shed.headers()["retry-after"], "1");
    let status = shed.status();
    assert_error(
        status,
        &shed.json().await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
    );
    // Answered at once, not after the stuck requests.
    assert!(took < SLACK, "shed after {took:?}");
    // Liveness and metrics answer however busy tollgate is.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::OK);

    // The store answers again: the stuck requests finish (the SDK retries the cut
    // connections) and free their slots.
    app.gate().set(Fault::None);
    for request in stuck {
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    app.granted_url("c", &token).await;
}

fn rsa() -> SigningKey {
    SigningKey::from_fixture("rsa_private.pem", Algorithm::RS256, "rsa-1")
}

/// An app verifying RS256 through `proxy` in front of `jwks`, with a 1 s fetch timeout.
async fn app_behind(proxy: &FaultProxy) -> TestApp {
    let url = format!("{}/jwks.json", proxy.endpoint);
    let app = spawn_app_with(move |s| {
        s.auth.jwks_url = Some(url);
        s.auth.jwks_refresh_secs = 300;
        s.auth.jwks_fetch_timeout_secs = 1;
    })
    .await;
    app.put_video("gold-1", b"gold", Meta::tier("gold")).await;
    app
}

fn gold_claims(app: &TestApp) -> serde_json::Map<String, Value> {
    let mut claims = app.claims("carol");
    claims.insert("entitlements".into(), serde_json::json!(["gold"]));
    claims
}

#[tokio::test]
async fn a_jwks_down_at_start_up_is_retried_in_the_background_until_ready() {
    let key = rsa();
    let jwks = JwksServer::start(vec![key.jwk.clone()]).await;
    let proxy = FaultProxy::start(&jwks.url).await;
    proxy.set(Fault::Blackhole);
    let app = app_behind(&proxy).await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["jwks"]["status"], "error", "{body}");

    // The IdP comes back: the refresher's retries (1 s after start-up, then 1, 2, 4 … s with
    // jitter; the refresh period is 300 s) load the keys without any token asking for them.
    proxy.set(Fault::None);
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/readyz", None).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the JWKS was never retried");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(jwks.fetches() >= 1);
    app.granted_url("gold-1", &key.sign(&gold_claims(&app)))
        .await;
}

#[tokio::test]
async fn a_jwks_that_hangs_later_leaves_cached_keys_serving_and_unknown_kids_fail_fast() {
    let key = rsa();
    let jwks = JwksServer::start(vec![key.jwk.clone()]).await;
    let proxy = FaultProxy::start(&jwks.url).await;
    let app = app_behind(&proxy).await;
    proxy.set(Fault::Blackhole);

    app.granted_url("gold-1", &key.sign(&gold_claims(&app)))
        .await;
    // A kid tollgate has not seen makes it ask the JWKS, which does not answer: the caller gets
    // its 401 after the fetch timeout (1 s), not never.
    let stranger = SigningKey::from_fixture("rsa_private.pem", Algorithm::RS256, "rsa-new");
    let started = Instant::now();
    let response = app
        .get(
            "/videos/gold-1/url",
            Some(&stranger.sign(&gold_claims(&app))),
        )
        .await;
    let took = started.elapsed();
    let status = response.status();
    assert_error(
        status,
        &response.json().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    );
    assert!(
        took < Duration::from_secs(1) + SLACK,
        "answered after {took:?}"
    );
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}
