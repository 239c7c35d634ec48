//! Arbitrary `Authorization` headers and arbitrary JWTs signed with the configured HS256 secret,
//! on `GET /videos/{id}/url`: never a 500, every refusal a JSON error, and a token gets past
//! authentication only when its header and claims are what the configuration requires.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use common::{HARNESS, send};

/// A JWT of `header` and `claims` (any bytes) signed with `secret`.
fn sign(header: &[u8], claims: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether `claims` are what tollgate must demand before it lets a token through.
fn acceptable(claims: &[u8]) -> bool {
    let auth = &HARNESS.settings.auth;
    let Ok(claims) = serde_json::from_slice::<Value>(claims) else {
        return false;
    };
    if !claims.is_object() {
        return false;
    }
    let leeway = i64::try_from(auth.leeway_secs).unwrap_or(0);
    let exp_ok = claims["exp"].as_f64().is_some_and(|exp| exp + leeway as f64 > now() as f64);
    let sub_ok = claims["sub"].as_str().is_some_and(|s| !s.is_empty());
    let iss_ok = auth.issuer.as_deref().is_none_or(|iss| claims["iss"] == iss);
    let aud_ok = auth.audience.as_deref().is_none_or(|aud| {
        claims["aud"] == aud || claims["aud"].as_array().is_some_and(|a| a.iter().any(|v| v == aud))
    });
    exp_ok && sub_ok && iss_ok && aud_ok
}

fuzz_target!(|data: &[u8]| {
    let harness = &*HARNESS;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let secret = harness.settings.auth.hmac_secret.as_ref().expect("dev secret");
    let secret = secret.expose().as_bytes();
    let (authorization, may_pass) = match mode % 3 {
        // Any bytes as the header: nothing here can carry a valid signature.
        0 => (rest.to_vec(), false),
        // Any claims, validly signed: only acceptable claims get through.
        1 => {
            let jwt = sign(br#"{"alg":"HS256","typ":"JWT"}"#, rest, secret);
            (format!("Bearer {jwt}").into_bytes(), acceptable(rest))
        }
        // Any JOSE header over good claims: only HS256 gets through (no "none", no confusion).
        _ => {
            let claims = serde_json::json!({
                "sub": "fuzz", "exp": now() + 3600, "iat": now(),
                "iss": harness.settings.auth.issuer, "aud": harness.settings.auth.audience,
                "entitlements": ["premium"],
            });
            let jwt = sign(rest, claims.to_string().as_bytes(), secret);
            let alg_ok = serde_json::from_slice::<Value>(rest)
                .is_ok_and(|h| h["alg"] == "HS256");
            (format!("Bearer {jwt}").into_bytes(), alg_ok)
        }
    };
    let Ok(value) = HeaderValue::from_bytes(&authorization) else {
        return;
    };
    let request = Request::get("/videos/fuzz-video/url")
        .header(header::AUTHORIZATION, value)
        .body(Body::empty())
        .expect("request");
    let (status, body) = harness.runtime.block_on(send(&harness.router, request));
    if status != StatusCode::UNAUTHORIZED {
        assert!(
            may_pass,
            "mode {mode}: {status} for a token that must be refused: {}",
            String::from_utf8_lossy(&body)
        );
    }
});
