//! Revocation: a token by its `jti`, a subject's tokens issued before a not-before (also while
//! the token sits in the token cache, and through an HLS grant), a video's takedown.

use axum::http::StatusCode;
use jsonwebtoken::Header;
use reqwest::Method;
use serde_json::json;

use super::{PLAYLIST, spawn, states};
use crate::helpers::{Meta, assert_error, grant_of, hls_objects, now_secs};

#[tokio::test]
async fn a_revoked_jti_is_refused_and_its_subjects_other_tokens_are_not() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let admin = app.token("root", &[], &["admin"]);
        let mut claims = app.claims("alice");
        claims.insert("jti".into(), json!("token-1"));
        let token = app.sign_hs256(&Header::default(), &claims);
        let other = app.token("alice", &[], &[]);
        assert_eq!(
            app.video_url("v1", &token).await.0,
            StatusCode::OK,
            "{}",
            state.name()
        );

        let (status, body) = app.revoke(&admin, json!({"jti": "token-1"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["jti"], "token-1", "{body}");
        assert!(body["expires_at"].as_i64().unwrap() > now_secs(), "{body}");

        let (status, body) = app.video_url("v1", &token).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_revoked");
        assert_eq!(
            app.video_url("v1", &other).await.0,
            StatusCode::OK,
            "{}",
            state.name()
        );

        let (status, _) = app
            .revocation(Method::GET, &admin, "tokens", "token-1")
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .revocation(Method::DELETE, &admin, "tokens", "token-1")
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = app
            .revocation(Method::DELETE, &admin, "tokens", "token-1")
            .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "revocation_not_found");
        assert_eq!(
            app.video_url("v1", &token).await.0,
            StatusCode::OK,
            "{}",
            state.name()
        );
    }
}

#[tokio::test]
async fn a_subjects_not_before_refuses_older_tokens_even_from_the_token_cache() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let admin = app.token("root", &[], &["admin"]);
        let mut old = app.claims("bob");
        old.insert("iat".into(), json!(now_secs() - 60));
        let old = app.sign_hs256(&Header::default(), &old);
        let mut no_iat = app.claims("bob");
        no_iat.remove("iat");
        let no_iat = app.sign_hs256(&Header::default(), &no_iat);
        // Both verified once: from now on they are token-cache hits.
        assert_eq!(app.video_url("v1", &old).await.0, StatusCode::OK);
        assert_eq!(app.video_url("v1", &no_iat).await.0, StatusCode::OK);

        let (status, body) = app.revoke(&admin, json!({"subject": "bob"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let not_before = body["not_before"].as_i64().unwrap();
        assert!((not_before - now_secs()).abs() <= 2, "{body}");

        for (token, what) in [(&old, "issued before"), (&no_iat, "without iat")] {
            let (status, body) = app.video_url("v1", token).await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_revoked");
            assert!(
                app.get("/videos/v1/url", Some(token)).await.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains("invalid_token"),
                "{what}"
            );
        }
        // Issued in the second of the revocation: refused too (an iat has one-second grain).
        let mut same_second = app.claims("bob");
        same_second.insert("iat".into(), json!(not_before));
        let same_second = app.sign_hs256(&Header::default(), &same_second);
        assert_eq!(
            app.video_url("v1", &same_second).await.0,
            StatusCode::UNAUTHORIZED
        );
        let mut fresh = app.claims("bob");
        fresh.insert("iat".into(), json!(not_before + 1));
        let fresh = app.sign_hs256(&Header::default(), &fresh);
        assert_eq!(
            app.video_url("v1", &fresh).await.0,
            StatusCode::OK,
            "{}",
            state.name()
        );

        // Upload routes too: the same check runs on every authenticated route.
        let uploader_old = {
            let mut claims = app.claims("bob");
            claims.insert("iat".into(), json!(not_before - 5));
            claims.insert("roles".into(), json!(["uploader"]));
            app.sign_hs256(&Header::default(), &claims)
        };
        let declaration = json!({"content_type": "video/mp4", "size": 10});
        let (status, body) = app.post_uploads(&uploader_old, &declaration).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_revoked");
    }
}

#[tokio::test]
async fn a_grant_from_a_revoked_token_no_longer_fetches_playlists() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        app.put_hls("h1", "free", &hls_objects(&[("index.m3u8", PLAYLIST)]))
            .await;
        let admin = app.token("root", &[], &["admin"]);
        let mut claims = app.claims("carol");
        claims.insert("iat".into(), json!(now_secs() - 30));
        claims.insert("jti".into(), json!("carol-1"));
        let token = app.sign_hs256(&Header::default(), &claims);
        let url = app.hls_entry("h1", &token).await;
        assert_eq!(
            app.get_text(&url).await.0,
            StatusCode::OK,
            "{}",
            state.name()
        );

        app.revoke(&admin, json!({"jti": "carol-1"})).await;
        let response = app.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "token_revoked", "{body}");

        app.revocation(Method::DELETE, &admin, "tokens", "carol-1")
            .await;
        assert_eq!(app.get_text(&url).await.0, StatusCode::OK);
        app.revoke(&admin, json!({"subject": "carol"})).await;
        assert_eq!(
            app.get_text(&url).await.0,
            StatusCode::UNAUTHORIZED,
            "{}",
            grant_of(&url)
        );
    }
}

#[tokio::test]
async fn a_taken_down_video_gets_no_new_url_except_for_admins() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        app.put_hls("h1", "free", &hls_objects(&[("index.m3u8", PLAYLIST)]))
            .await;
        let admin = app.token("root", &[], &["admin"]);
        let viewer = app.token("dave", &[], &[]);
        let url = app.hls_entry("h1", &viewer).await;
        let admin_url = app.hls_entry("h1", &admin).await;

        for video in ["v1", "h1"] {
            let (status, body) = app.revoke(&admin, json!({"video": video})).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (status, body) = app.video_url("v1", &viewer).await;
        assert_error(status, &body, StatusCode::GONE, "video_taken_down");
        assert_eq!(
            app.video_url("v1", &admin).await.0,
            StatusCode::OK,
            "{}",
            state.name()
        );
        // The grant handed out before the takedown fetches no playlist; an admin's does.
        assert_eq!(app.get_text(&url).await.0, StatusCode::GONE);
        assert_eq!(app.get_text(&admin_url).await.0, StatusCode::OK);
        // Other videos are not affected.
        assert_eq!(app.video_url("v2", &viewer).await.0, StatusCode::NOT_FOUND);

        app.revocation(Method::DELETE, &admin, "videos", "v1").await;
        assert_eq!(app.video_url("v1", &viewer).await.0, StatusCode::OK);
    }
}
