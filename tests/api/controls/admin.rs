//! The admin routes and the CLI: who may use them, what they refuse, what they show.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::json;

use super::{State, rate, spawn, states};
use crate::cli::tollgate;
use crate::helpers::{Meta, RedisServer, assert_error, redis_server_available};

#[tokio::test]
async fn only_admins_use_the_admin_routes() {
    let app = spawn(&State::Memory, |_| {}).await;
    let user = app.token("alice", &["premium"], &["uploader"]);
    let (status, body) = app.revoke(&user, json!({"subject": "alice"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app.admin_subject(&user, "alice", "").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .revocation(Method::DELETE, &user, "subjects", "alice")
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let response = app.get("/admin/subjects/alice", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_revocations_are_refused_with_400() {
    let app = spawn(&State::Memory, |_| {}).await;
    let admin = app.token("root", &[], &["admin"]);
    let long = "x".repeat(1025);
    for body in [
        json!({}),
        json!({"subject": "a", "video": "v1"}),
        json!({"jti": "j", "not_before": 5}),
        json!({"subject": ""}),
        json!({"subject": long}),
        json!({"subject": "a\nb"}),
        json!({"jti": "x".repeat(257)}),
        json!({"video": "../v1"}),
        json!({"subject": "a", "extra": 1}),
        json!({"subject": 5}),
        json!(["subject"]),
    ] {
        let (status, answer) = app.revoke(&admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert!(answer["error"]["code"].is_string(), "{answer}");
    }
    let (status, body) = app.revocation(Method::GET, &admin, "users", "alice").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.revocation(Method::GET, &admin, "videos", "v1").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "revocation_not_found");
}

#[tokio::test]
async fn the_subject_view_shows_what_a_subject_can_still_do() {
    for state in states() {
        let app = spawn(&state, |s| {
            s.limits.playback = rate(10, 60, 4);
            s.limits.upload = rate(100, 60, 10);
            s.streams.max_concurrent = 2;
        })
        .await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let admin = app.token("root", &[], &["admin"]);
        let alice = app.token("alice", &[], &[]);
        assert_eq!(
            app.video_url_in_session("v1", &alice, "tab").await.status(),
            StatusCode::OK
        );
        app.revoke(&admin, json!({"subject": "alice", "not_before": 1_000}))
            .await;

        let (status, view) = app.admin_subject(&admin, "alice", "free").await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(
            view["revocation"]["not_before"],
            1_000,
            "{}: {view}",
            state.name()
        );
        assert_eq!(view["streams"]["leases"][0]["session"], "tab", "{view}");
        assert!(
            view["streams"]["leases"][0]["expires_at"]
                .as_i64()
                .is_some(),
            "{view}"
        );
        let playback = &view["limits"][0];
        assert_eq!(playback["policy"], "playback", "{view}");
        assert_eq!(playback["quota"], 4, "{view}");
        assert_eq!(playback["remaining"], 3, "one request spent: {view}");
        assert_eq!(view["limits"][1]["policy"], "upload", "{view}");
        assert_eq!(view["limits"][1]["remaining"], 10, "{view}");
        // Viewing spends nothing.
        let (_, again) = app.admin_subject(&admin, "alice", "free").await;
        assert_eq!(again["limits"][0]["remaining"], 3, "{again}");
        // A subject nobody has seen.
        let (status, view) = app.admin_subject(&admin, "nobody", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            view["revocation"]["not_before"],
            serde_json::Value::Null,
            "{view}"
        );
        assert_eq!(view["streams"]["leases"], json!([]), "{view}");
    }
}

#[tokio::test]
async fn the_cli_revokes_in_redis_and_every_replica_refuses() {
    if !redis_server_available() {
        return;
    }
    let server = RedisServer::start();
    let state = State::redis(&server);
    let app = spawn(&state, |_| {}).await;
    app.put_video("v1", b"x", Meta::tier("free")).await;
    let token = app.token("alice", &[], &[]);
    assert_eq!(app.video_url("v1", &token).await.0, StatusCode::OK);

    let env = [
        ("TOLLGATE__STATE__REDIS_URL", server.url()),
        (
            "TOLLGATE__STATE__KEY_PREFIX",
            app.settings.state.key_prefix.clone(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = tollgate(&["revoke", "--video", "v1"], &env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (status, body) = app.video_url("v1", &token).await;
    assert_error(status, &body, StatusCode::GONE, "video_taken_down");

    let output = tollgate(&["unrevoke", "--video", "v1"], &env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(app.video_url("v1", &token).await.0, StatusCode::OK);

    // Exactly one target, and a valid one.
    for args in [
        &["revoke"][..],
        &["revoke", "--sub", "a", "--video", "v1"],
        &["revoke", "--video", "../x"],
        &["revoke", "--jti", "j", "--not-before", "5"],
    ] {
        let output = tollgate(args, &env);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn the_cli_needs_redis_to_revoke() {
    let output = tollgate(&["revoke", "--sub", "alice"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("state.redis_url"), "{stderr}");
}
