//! Two tollgate replicas sharing one Redis: this test's app and a `tollgate serve` process of its
//! own. One budget per subject, one set of leases, one quota, and a revocation through one
//! holds in the other at once.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use super::{State, rate};
use crate::helpers::{
    Meta, RedisServer, TestApp, TollgateProcess, redis_server_available, spawn_app_with,
};

/// The settings both replicas share, as `TOLLGATE__` variables for the process.
fn shared_env(app: &TestApp, redis: &RedisServer) -> Vec<(String, String)> {
    let mut env = app.cli_storage_env();
    for (name, value) in [
        ("TOLLGATE__STATE__REDIS_URL", redis.url()),
        (
            "TOLLGATE__STATE__KEY_PREFIX",
            app.settings.state.key_prefix.clone(),
        ),
        ("TOLLGATE__LIMITS__PLAYBACK__REQUESTS", "3".to_owned()),
        ("TOLLGATE__LIMITS__PLAYBACK__PERIOD_SECS", "60".to_owned()),
        ("TOLLGATE__LIMITS__PLAYBACK__BURST", "3".to_owned()),
        (
            "TOLLGATE__LIMITS__TIERS__PREMIUM__PLAYBACK__REQUESTS",
            "100".to_owned(),
        ),
        (
            "TOLLGATE__LIMITS__TIERS__PREMIUM__PLAYBACK__PERIOD_SECS",
            "60".to_owned(),
        ),
        (
            "TOLLGATE__LIMITS__TIERS__PREMIUM__PLAYBACK__BURST",
            "100".to_owned(),
        ),
        ("TOLLGATE__STREAMS__MAX_CONCURRENT", "1".to_owned()),
        ("TOLLGATE__UPLOADS__QUOTA_BYTES", "100".to_owned()),
    ] {
        env.push((name.to_owned(), value));
    }
    env
}

/// The other replica: a `tollgate serve` process, reached over HTTP.
struct Replica {
    process: TollgateProcess,
    http: reqwest::Client,
}

impl Replica {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.process.address))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn url(&self, token: &str, session: &str) -> StatusCode {
        let path = format!("/videos/v1/url?session={session}");
        self.call(Method::GET, &path, token, None).await.0
    }
}

#[tokio::test]
async fn two_processes_share_revocations_budgets_leases_and_quotas() {
    if !redis_server_available() {
        return;
    }
    let server = RedisServer::start();
    let one = spawn_app_with(|s| {
        State::redis(&server).apply(s);
        s.limits.playback = rate(3, 60, 3);
        s.limits.tiers.insert(
            "premium".to_owned(),
            tollgate::controls::settings::TierRates {
                playback: Some(rate(100, 60, 100)),
                ..Default::default()
            },
        );
        s.streams.max_concurrent = 1;
        s.uploads.quota_bytes = 100;
    })
    .await;
    // The same store, the same Redis and key prefix, another process.
    let two = Replica {
        process: TollgateProcess::start(&shared_env(&one, &server)),
        http: reqwest::Client::new(),
    };
    one.put_video("v1", b"x", Meta::tier("free")).await;
    let alice = one.token("alice", &[], &[]);

    // One budget: two requests through one replica, one through the other, then refused.
    assert_eq!(
        one.video_url_in_session("v1", &alice, "s").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        one.video_url_in_session("v1", &alice, "s").await.status(),
        StatusCode::OK
    );
    assert_eq!(two.url(&alice, "s").await, StatusCode::OK);
    assert_eq!(two.url(&alice, "s").await, StatusCode::TOO_MANY_REQUESTS);

    // One set of leases: the session held through one replica blocks another through the other.
    let bob = one.token("bob", &["premium"], &[]);
    assert_eq!(
        one.video_url_in_session("v1", &bob, "tv").await.status(),
        StatusCode::OK
    );
    let (status, body) = two
        .call(Method::GET, "/videos/v1/url?session=phone", &bob, None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "too_many_streams", "{body}");
    let (status, _) = two
        .call(Method::DELETE, "/videos/v1/sessions/tv", &bob, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        one.video_url_in_session("v1", &bob, "phone").await.status(),
        StatusCode::OK
    );

    // One quota: 60 bytes through one replica, 50 more refused by the other.
    let uploader = one.token("ursula", &[], &["uploader"]);
    let declaration = |size: u64| Some(json!({"content_type": "video/mp4", "size": size}));
    let (status, body) = one
        .call(Method::POST, "/uploads", &uploader, declaration(60))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = two
        .call(Method::POST, "/uploads", &uploader, declaration(50))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["remaining_bytes"], 40, "{body}");

    // A revocation through one replica is refused by the other within a second.
    let carol = one.token("carol", &["premium"], &[]);
    assert_eq!(two.url(&carol, "c").await, StatusCode::OK);
    let admin = one.token("root", &[], &["admin"]);
    let (status, body) = one.revoke(&admin, json!({"subject": "carol"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let revoked_at = Instant::now();
    loop {
        if two.url(&carol, "c").await == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "still served {:?} after the revocation",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And back: cleared through the other, served by the first.
    let (status, _) = two
        .call(
            Method::DELETE,
            "/admin/revocations/subjects/carol",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = one.video_url_in_session("v1", &carol, "c").await;
    assert_eq!(response.status(), StatusCode::OK);
}
