//! Two tollgate replicas sharing one Redis: one budget per subject, one set of leases, and a
//! revocation through one holds in the other at once.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use super::{State, rate};
use crate::helpers::{Meta, RedisServer, TestApp, redis_server_available, spawn_app_with};

/// Two apps (each with its own controls, caches and store client) on one Redis and key prefix.
async fn replicas(
    server: &RedisServer,
    customize: impl Fn(&mut tollgate::config::Settings),
) -> (TestApp, TestApp) {
    let prefix = format!("t{}:", uuid::Uuid::new_v4().simple());
    let spawn = || {
        spawn_app_with(|s| {
            State::redis(server).apply(s);
            s.state.key_prefix.clone_from(&prefix);
            customize(s);
        })
    };
    let first = spawn().await;
    let second = spawn().await;
    (first, second)
}

#[tokio::test]
async fn replicas_share_revocations_budgets_and_leases() {
    if !redis_server_available() {
        return;
    }
    let server = RedisServer::start();
    let (one, two) = replicas(&server, |s| {
        s.limits.playback = rate(3, 60, 3);
        s.limits.tiers.insert(
            "premium".to_owned(),
            tollgate::controls::settings::TierRates {
                playback: Some(rate(100, 60, 100)),
                ..Default::default()
            },
        );
        s.streams.max_concurrent = 1;
    })
    .await;
    // The same video in each replica's store (each test app has a store of its own).
    for app in [&one, &two] {
        app.put_video("v1", b"x", Meta::tier("free")).await;
    }
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
    assert_eq!(
        two.video_url_in_session("v1", &alice, "s").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        two.video_url_in_session("v1", &alice, "s").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // One set of leases: the session held through one replica blocks another through the other.
    let bob = one.token("bob", &["premium"], &[]);
    assert_eq!(
        one.video_url_in_session("v1", &bob, "tv").await.status(),
        StatusCode::OK
    );
    let response = two.video_url_in_session("v1", &bob, "phone").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams", "{body}");
    assert_eq!(
        two.end_session("v1", &bob, "tv").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        one.video_url_in_session("v1", &bob, "phone").await.status(),
        StatusCode::OK
    );

    // A revocation through one replica is refused by the other within a second.
    let carol = two.token("carol", &[], &[]);
    assert_eq!(two.video_url("v1", &carol).await.0, StatusCode::OK);
    let admin = one.token("root", &[], &["admin"]);
    let (status, body) = one.revoke(&admin, json!({"subject": "carol"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let revoked_at = Instant::now();
    loop {
        let (status, _) = two.video_url("v1", &carol).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "still served {:?} after the revocation",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(1));
}
