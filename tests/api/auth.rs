//! Every way a bearer token can be wrong answers 401 with a JSON body and a Bearer challenge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    JwksServer, Meta, SigningKey, TestApp, assert_error, fixture, now_secs, spawn_app,
    spawn_app_with,
};

const PATH: &str = "/videos/free-1/url";

async fn app() -> TestApp {
    let app = spawn_app().await;
    app.put_video("free-1", b"free", Meta::tier("free")).await;
    app
}

/// Sends `authorization` verbatim and checks the 401 and its challenge.
async fn assert_rejected(app: &TestApp, authorization: &str, why: &str) {
    let response = app
        .http
        .get(app.url(PATH))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let challenge = response.headers().get("www-authenticate").cloned();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        challenge.expect("challenge").to_str().unwrap(),
        r#"Bearer realm="tollgate", error="invalid_token""#,
        "{why}"
    );
    // The reason is logged, not told.
    assert_eq!(
        body["error"]["message"], "the bearer token is invalid or expired",
        "{why}"
    );
}

async fn assert_token_rejected(app: &TestApp, token: &str, why: &str) {
    assert_rejected(app, &format!("Bearer {token}"), why).await;
}

#[tokio::test]
async fn a_good_token_is_accepted() {
    let app = app().await;
    let token = app.sign_hs256(&Header::default(), &app.claims("bob"));
    app.granted_url("free-1", &token).await;
}

#[tokio::test]
async fn no_token_is_401_without_error_attribute() {
    let app = app().await;
    let response = app.get(PATH, None).await;
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="tollgate""#
    );
    let status = response.status();
    assert_error(
        status,
        &response.json().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "missing_token",
    );
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let app = app().await;
    let token = app.token("bob", &[], &[]);
    for header in [
        "Basic Ym9iOnB3".to_owned(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Token {token}"),
        format!("Bearer {token} extra"),
        format!("Bearer  {token}"),
        "Bearer not-a-jwt".to_owned(),
        "Bearer a.b.c".to_owned(),
    ] {
        assert_rejected(&app, &header, &header).await;
    }
}

#[tokio::test]
async fn two_authorization_headers_are_401() {
    let app = app().await;
    let token = app.token("bob", &[], &[]);
    let response = app
        .http
        .get(app.url(PATH))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_tokens_are_401_but_leeway_applies() {
    let app = app().await;
    let mut claims = app.claims("bob");
    claims.insert("exp".into(), json!(now_secs() - 120));
    assert_token_rejected(
        &app,
        &app.sign_hs256(&Header::default(), &claims),
        "expired",
    )
    .await;

    claims.insert("exp".into(), json!(now_secs() - 10));
    let within_leeway = app.sign_hs256(&Header::default(), &claims);
    app.granted_url("free-1", &within_leeway).await;
}

#[tokio::test]
async fn future_nbf_is_401() {
    let app = app().await;
    let mut claims = app.claims("bob");
    claims.insert("nbf".into(), json!(now_secs() + 120));
    assert_token_rejected(&app, &app.sign_hs256(&Header::default(), &claims), "nbf").await;
    claims.insert("nbf".into(), json!(now_secs() - 5));
    app.granted_url("free-1", &app.sign_hs256(&Header::default(), &claims))
        .await;
}

#[tokio::test]
async fn missing_or_wrong_standard_claims_are_401() {
    let app = app().await;
    let cases: [(&str, Option<Value>); 7] = [
        ("aud", Some(json!("someone-else"))),
        ("aud", None),
        ("iss", Some(json!("https://evil.example"))),
        ("iss", None),
        ("exp", None),
        ("sub", None),
        ("exp", Some(json!("tomorrow"))),
    ];
    for (claim, value) in cases {
        let mut claims = app.claims("bob");
        match &value {
            Some(v) => claims.insert(claim.into(), v.clone()),
            None => claims.remove(claim),
        };
        let token = app.sign_hs256(&Header::default(), &claims);
        assert_token_rejected(&app, &token, &format!("{claim} = {value:?}")).await;
    }
}

#[tokio::test]
async fn a_tampered_payload_is_401() {
    let app = app().await;
    let token = app.token("bob", &[], &[]);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["roles"] = json!(["admin"]);
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    assert_token_rejected(&app, &parts.join("."), "tampered").await;
}

#[tokio::test]
async fn alg_none_is_401() {
    let app = app().await;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&app.claims("bob")).unwrap());
    assert_token_rejected(&app, &format!("{header}.{payload}."), "alg none").await;
    assert_token_rejected(
        &app,
        &format!("{header}.{payload}"),
        "alg none, no signature part",
    )
    .await;
}

#[tokio::test]
async fn hs256_signed_with_the_jwks_public_key_is_401() {
    // Algorithm confusion: the attacker knows the RS256 public key (it is published in the JWKS)
    // and uses it as an HMAC secret.
    let rsa = SigningKey::from_fixture("rsa_private.pem", Algorithm::RS256, "rsa-1");
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    let jwks_url = jwks.url.clone();
    let app = spawn_app_with(move |s| s.auth.jwks_url = Some(jwks_url)).await;
    app.put_video("free-1", b"free", Meta::tier("free")).await;
    app.granted_url("free-1", &rsa.sign(&app.claims("bob")))
        .await;

    let public_pem = fixture("rsa_public.pem");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".to_owned());
    let forged = jsonwebtoken::encode(
        &header,
        &app.claims("bob"),
        &EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    assert_token_rejected(&app, &forged, "HS256 with the public key").await;
}

#[tokio::test]
async fn an_rs256_token_is_401_when_no_jwks_is_configured() {
    let app = app().await;
    let rsa = SigningKey::from_fixture("rsa_private.pem", Algorithm::RS256, "rsa-1");
    assert_token_rejected(&app, &rsa.sign(&app.claims("bob")), "no JWKS").await;
}

#[tokio::test]
async fn tokens_over_8_kib_are_401() {
    let app = app().await;
    let padded = |len: usize| {
        let mut claims = app.claims("bob");
        claims.insert("pad".into(), json!("x".repeat(len)));
        app.sign_hs256(&Header::default(), &claims)
    };
    let small = padded(5000);
    assert!(small.len() < 8192);
    app.granted_url("free-1", &small).await;
    let large = padded(7000);
    assert!(large.len() > 8192, "{}", large.len());
    assert_token_rejected(&app, &large, "too large").await;
}

#[tokio::test]
async fn a_crit_header_is_401() {
    let app = app().await;
    let header = Header {
        crit: Some(vec!["exp".to_owned()]),
        ..Header::default()
    };
    assert_token_rejected(&app, &app.sign_hs256(&header, &app.claims("bob")), "crit").await;
}

#[tokio::test]
async fn malformed_entitlement_claims_are_401() {
    let app = app().await;
    let mut claims = app.claims("bob");
    claims.insert("entitlements".into(), json!({"tier": "gold"}));
    assert_token_rejected(
        &app,
        &app.sign_hs256(&Header::default(), &claims),
        "entitlements object",
    )
    .await;
}

#[tokio::test]
async fn a_remembered_token_is_still_refused_once_expired_or_before_nbf() {
    let app = app().await;
    let mut claims = app.claims("alice");
    claims.insert("exp".into(), json!(now_secs() + 60));
    claims.insert("nbf".into(), json!(now_secs()));
    let token = app.sign_hs256(&Header::new(Algorithm::HS256), &claims);
    // Verified once and remembered.
    for _ in 0..2 {
        assert_eq!(app.get(PATH, Some(&token)).await.status(), StatusCode::OK);
    }
    // 60 s of life plus 30 s of leeway have passed on tollgate's clock.
    app.clock.set_offset_secs(91);
    assert_token_rejected(&app, &token, "remembered but expired").await;
    // And a clock 40 s before `nbf` (past the 30 s leeway, with room for a slow run: the real
    // clock moves on meanwhile) refuses it too.
    app.clock.set_offset_secs(-40);
    assert_token_rejected(&app, &token, "remembered but not yet valid").await;
    app.clock.set_offset_secs(0);
    assert_eq!(app.get(PATH, Some(&token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_differing_by_one_byte_from_a_remembered_one_is_verified_afresh() {
    let app = app().await;
    let token = app.token("alice", &[], &[]);
    assert_eq!(app.get(PATH, Some(&token)).await.status(), StatusCode::OK);
    // Flip the first character of the signature (a full 6 bits of it).
    let (signed_part, signature) = token.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let altered = format!("{signed_part}.{first}{}", &signature[1..]);
    assert_ne!(altered, token);
    assert_token_rejected(&app, &altered, "one byte from a remembered token").await;
}
