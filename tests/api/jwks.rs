//! RS256 / ES256 / EdDSA tokens verified with keys from a JWKS endpoint.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{JwksServer, Meta, SigningKey, TestApp, assert_error, spawn_app_with};

fn keys() -> [SigningKey; 3] {
    [
        SigningKey::from_fixture("rsa_private.pem", Algorithm::RS256, "rsa-1"),
        SigningKey::from_fixture("ec_private.pem", Algorithm::ES256, "ec-1"),
        SigningKey::from_fixture("ed25519_private.pem", Algorithm::EdDSA, "ed-1"),
    ]
}

async fn app_with_jwks(jwks: &JwksServer, refresh_secs: u64) -> TestApp {
    let url = jwks.url.clone();
    let app = spawn_app_with(move |s| {
        s.auth.jwks_url = Some(url);
        s.auth.jwks_refresh_secs = refresh_secs;
    })
    .await;
    app.put_video("gold-1", b"gold", Meta::tier("gold")).await;
    app
}

fn entitled_claims(app: &TestApp) -> serde_json::Map<String, Value> {
    let mut claims = app.claims("carol");
    claims.insert("entitlements".into(), serde_json::json!(["gold"]));
    claims
}

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_are_verified_through_the_jwks() {
    let keys = keys();
    let jwks = JwksServer::start(keys.iter().map(|k| k.jwk.clone()).collect()).await;
    let app = app_with_jwks(&jwks, 300).await;
    for key in &keys {
        let url = app
            .granted_url("gold-1", &key.sign(&entitled_claims(&app)))
            .await;
        assert_eq!(
            app.fetch(&url).await.bytes().await.unwrap().as_ref(),
            b"gold",
            "{:?}",
            key.alg
        );
    }
    let ready: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(ready["checks"]["jwks"]["status"], "ok");
}

#[tokio::test]
async fn a_token_whose_kid_names_a_key_of_another_algorithm_is_401() {
    let [rsa, ec, _] = keys();
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    let app = app_with_jwks(&jwks, 300).await;
    // ES256 signature, but the kid points at the RSA key.
    let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
    header.kid = Some("rsa-1".to_owned());
    let token = jsonwebtoken::encode(&header, &entitled_claims(&app), &ec.encoding).unwrap();
    let (status, body) = app.video_url("gold-1", &token).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_then_waits_30_seconds() {
    let [rsa, ec, _] = keys();
    let rotated = SigningKey::from_fixture("rsa2_private.pem", Algorithm::RS256, "rsa-2");
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    let app = app_with_jwks(&jwks, 300).await;
    assert_eq!(jwks.fetches(), 1, "start-up fetch");

    // Key rotation: the IdP publishes rsa-2 and starts signing with it.
    jwks.set_keys(vec![rsa.jwk.clone(), rotated.jwk.clone()]);
    app.granted_url("gold-1", &rotated.sign(&entitled_claims(&app)))
        .await;
    assert_eq!(jwks.fetches(), 2, "one refetch for the unknown kid");

    // Another unknown kid within 30 s: no refetch, 401 (even though the IdP now has it).
    jwks.set_keys(vec![rsa.jwk.clone(), rotated.jwk.clone(), ec.jwk.clone()]);
    let (status, body) = app
        .video_url("gold-1", &ec.sign(&entitled_claims(&app)))
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    let forged = SigningKey::from_fixture("ec_private.pem", Algorithm::ES256, "garbage-kid");
    for _ in 0..5 {
        let (status, _) = app
            .video_url("gold-1", &forged.sign(&entitled_claims(&app)))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        jwks.fetches(),
        2,
        "rate-limited: garbage kids cause no fetches"
    );
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() {
    let [rsa, _, _] = keys();
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    let app = app_with_jwks(&jwks, 1).await;
    jwks.set_up(false);
    let before = jwks.fetches();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        jwks.fetches() > before,
        "the refresher tried the failing endpoint"
    );
    app.granted_url("gold-1", &rsa.sign(&entitled_claims(&app)))
        .await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_fails_while_no_jwks_key_was_ever_loaded() {
    let [rsa, _, _] = keys();
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    jwks.set_up(false);
    let app = app_with_jwks(&jwks, 300).await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["jwks"]["status"], "error", "{body}");
    assert_eq!(body["checks"]["storage"]["status"], "ok", "{body}");

    // HS256 callers are unaffected, and an RS256 caller succeeds once the IdP is back
    // (the unknown-kid refetch loads the keys).
    app.granted_url("gold-1", &app.token("dave", &["gold"], &[]))
        .await;
    jwks.set_up(true);
    app.granted_url("gold-1", &rsa.sign(&entitled_claims(&app)))
        .await;
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_stops_working_even_for_remembered_tokens() {
    let [rsa, ec, _] = keys();
    let jwks = JwksServer::start(vec![rsa.jwk.clone(), ec.jwk.clone()]).await;
    let app = app_with_jwks(&jwks, 1).await;
    let token = ec.sign(&entitled_claims(&app));
    // Verified, then served from the verified-token cache.
    app.granted_url("gold-1", &token).await;
    app.granted_url("gold-1", &token).await;

    // The IdP drops the EC key; the next refresh (every second here) notices.
    jwks.set_keys(vec![rsa.jwk.clone()]);
    let before = jwks.fetches();
    for _ in 0..50 {
        if jwks.fetches() > before + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        jwks.fetches() > before + 1,
        "the refresher fetched the new set"
    );
    let (status, body) = app.video_url("gold-1", &token).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    // Tokens under keys still published keep working.
    app.granted_url("gold-1", &rsa.sign(&entitled_claims(&app)))
        .await;
}
