//! The fuzz targets' shared harness: one tollgate router, built once per process from
//! `config/local.toml` (dev secrets) and driven in-process, as the handler bench drives it.
//!
//! The store is the embedded s3s-fs store, in `$TOLLGATE_FUZZ_DATA` (scripts/fuzz.sh makes and
//! removes it) or a folder under the system's temporary one.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use tollgate::auth::{TokenRequest, mint_hs256};
use tollgate::config::{Environment, Settings};
use tower::ServiceExt;

pub struct Harness {
    pub runtime: tokio::runtime::Runtime,
    pub router: axum::Router,
    pub settings: Settings,
    /// A token of an uploader who paid for premium.
    pub uploader: String,
    /// An object key `/s3/params` handed to the uploader: inputs may say `{KEY}` for it.
    pub key: String,
}

pub static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let mut settings = Settings::load_from(&config, Environment::Local).expect("local config");
    settings.server.port = 0;
    settings.storage.embedded.addr = "127.0.0.1:0".parse().expect("addr");
    settings.storage.embedded.data_dir = std::env::var_os("TOLLGATE_FUZZ_DATA").map_or_else(
        || std::env::temp_dir().join(format!("tollgate-fuzz-{}", std::process::id())),
        Into::into,
    );
    settings.log.filter = "off".to_owned();
    let app = runtime
        .block_on(tollgate::Application::build(settings.clone()))
        .expect("app");
    let router = app.router();
    let uploader = token(&settings, &["premium"], &["uploader"]);
    let params = Request::get("/s3/params?filename=a.mp4&type=video/mp4")
        .header(header::AUTHORIZATION, format!("Bearer {uploader}"))
        .body(Body::empty())
        .expect("request");
    let (status, body) = runtime.block_on(send(&router, params));
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let params: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let key = params["fields"]["key"].as_str().expect("a key").to_owned();
    Harness {
        runtime,
        router,
        settings,
        uploader,
        key,
    }
});

pub fn token(settings: &Settings, entitlements: &[&str], roles: &[&str]) -> String {
    let request = TokenRequest {
        subject: "fuzz".to_owned(),
        entitlements: entitlements.iter().map(|s| (*s).to_owned()).collect(),
        roles: roles.iter().map(|s| (*s).to_owned()).collect(),
        ttl: Duration::from_secs(3600),
    };
    mint_hs256(&settings.auth, &request, SystemTime::now()).expect("token")
}

/// The answer's status and body.
pub async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response: Response<Body> = router.clone().oneshot(request).await.expect("infallible");
    check_answer(response).await
}

/// What every answer must be: no 500 (a panic becomes one), and every error a JSON body with a
/// code; a 401 carries its challenge.
async fn check_answer(response: Response<Body>) -> (StatusCode, Vec<u8>) {
    let status = response.status();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "a 500");
    if status == StatusCode::UNAUTHORIZED {
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body")
        .to_vec();
    if !status.is_success() {
        let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error");
        assert!(json["error"]["code"].is_string(), "{json}");
    }
    (status, body)
}

/// A POST of `body` as JSON to `path` with the uploader's token.
pub fn post_json(path: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let harness = &*HARNESS;
    let request = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", harness.uploader))
        .header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(Body::from(body))
        .expect("request");
    harness.runtime.block_on(send(&harness.router, request))
}
