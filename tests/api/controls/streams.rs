//! Concurrent streams: a playback session holds a lease for its URL's lifetime; one session more
//! than the subject's limit is refused; ending a session frees its lease.

use axum::http::StatusCode;
use serde_json::Value;

use super::{PLAYLIST, spawn, states};
use crate::helpers::{Meta, assert_error, hls_objects};

#[tokio::test]
async fn one_session_more_than_the_limit_is_refused_until_one_ends() {
    for state in states() {
        let app = spawn(&state, |s| {
            s.streams.max_concurrent = 1;
            s.streams.tiers.insert("premium".to_owned(), 2);
        })
        .await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let alice = app.token("alice", &[], &[]);

        let response = app.video_url_in_session("v1", &alice, "tab-a").await;
        assert_eq!(response.status(), StatusCode::OK, "{}", state.name());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["session"], "tab-a", "{body}");
        // The same session asks again: its lease is renewed, not doubled.
        assert_eq!(
            app.video_url_in_session("v1", &alice, "tab-a")
                .await
                .status(),
            StatusCode::OK
        );

        let response = app.video_url_in_session("v1", &alice, "tab-b").await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            state.name()
        );
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=300).contains(&retry), "until the URL expires: {retry}");
        let body: Value = response.json().await.unwrap();
        assert_error(
            StatusCode::TOO_MANY_REQUESTS,
            &body,
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
        );

        // Without a session, each URL is a session of its own, and says which.
        let (status, body) = app.video_url("v1", &alice).await;
        assert_error(
            status,
            &body,
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
        );

        let admin = app.token("root", &[], &["admin"]);
        let (status, view) = app.admin_subject(&admin, "alice", "").await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["streams"]["max_concurrent"], 1, "{view}");
        assert_eq!(view["streams"]["leases"][0]["session"], "tab-a", "{view}");

        let (status, _) = app.end_session("v1", &alice, "tab-a").await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = app.end_session("v1", &alice, "tab-a").await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "session_not_found");
        let (status, body) = app.video_url("v1", &alice).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let session = body["session"].as_str().expect("a session of its own");
        assert_eq!(session.len(), 36, "{body}");

        // Another subject's sessions are its own; a premium subject holds two.
        let bob = app.token("bob", &["premium"], &[]);
        for tab in ["1", "2"] {
            assert_eq!(
                app.video_url_in_session("v1", &bob, tab).await.status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            app.video_url_in_session("v1", &bob, "3").await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        // Bob cannot end Alice's session.
        assert_eq!(
            app.end_session("v1", &bob, session).await.0,
            StatusCode::NOT_FOUND
        );

        // A lease ends with its URL: five minutes (presign.get_max_expires_secs) later, a new
        // session fits.
        app.clock.set_offset_secs(301);
        let alice = app.token("alice", &[], &[]);
        assert_eq!(
            app.video_url_in_session("v1", &alice, "tab-c")
                .await
                .status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn an_hls_grant_renews_its_sessions_lease_and_loses_it_once_ended() {
    for state in states() {
        let app = spawn(&state, |s| s.streams.max_concurrent = 1).await;
        app.put_hls("h1", "free", &hls_objects(&[("index.m3u8", PLAYLIST)]))
            .await;
        let alice = app.token("alice", &[], &[]);
        // A refused request holds no lease: an HLS video cannot be downloaded.
        let response = app
            .get("/videos/h1/url?session=dl&download=true", Some(&alice))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = app.video_url_in_session("h1", &alice, "tv").await;
        assert_eq!(response.status(), StatusCode::OK);
        let entry: Value = response.json().await.unwrap();
        let url = entry["url"].as_str().unwrap().to_owned();
        // The grant carries the session: its playlists renew the lease.
        assert_eq!(
            app.get_text(&url).await.0,
            StatusCode::OK,
            "{}",
            state.name()
        );
        assert_eq!(
            app.video_url_in_session("h1", &alice, "phone")
                .await
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        // Ended, and another session started: the old grant's next playlist is refused.
        assert_eq!(
            app.end_session("h1", &alice, "tv").await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.video_url_in_session("h1", &alice, "phone")
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get_text(&url).await.0,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            state.name()
        );
    }
}

#[tokio::test]
async fn a_session_id_that_is_not_url_safe_is_refused() {
    let app = spawn(&super::State::Memory, |s| s.streams.max_concurrent = 1).await;
    app.put_video("v1", b"x", Meta::tier("free")).await;
    let token = app.token("alice", &[], &[]);
    for bad in ["a%20b", "%2F", &"x".repeat(65)] {
        let response = app.video_url_in_session("v1", &token, bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_session", "{body}");
    }
}
