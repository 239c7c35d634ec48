//! `/demo` (development only, `demo.enabled`): one page where a developer uploads a video with
//! Uppy 6.x through `POST /s3/sign`, completes it and plays it back. The page and its bundle,
//! built by `scripts/build-demo.sh` from `web/demo/`, are compiled in: `cargo run` needs no
//! Node.js.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::admission::{ClientIp, charge_unauthenticated};
use crate::error::ApiError;
use crate::state::AppState;

const PAGE: &str = include_str!("../../web/demo/index.html");
const SCRIPT: &str = include_str!("../../web/demo/dist/demo.js");
const STYLE: &str = include_str!("../../web/demo/dist/demo.css");

/// The page loads only its own files; it calls tollgate and the store (any origin: the store's
/// is configuration) and plays from the store.
const PAGE_POLICY: &str = "default-src 'self'; connect-src 'self' http: https:; \
     media-src http: https: blob:; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/demo", get(page))
        .route("/demo/demo.js", get(script))
        .route("/demo/demo.css", get(style))
        .route("/demo/session", post(session))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            ),
        ],
        body,
    )
}

async fn page() -> impl IntoResponse {
    asset("text/html; charset=utf-8", PAGE)
}

async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// `POST /demo/session` → `{"key_prefix", "token"}`: a token for the page when this tollgate
/// mints them (the published development secret), else `null` and the page asks for one.
async fn session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
) -> Result<impl IntoResponse, ApiError> {
    let demo = state.demo.as_ref().ok_or(ApiError::RouteNotFound)?;
    // It mints tokens: one more request that proves nothing, for the IP's limit.
    charge_unauthenticated(&state, crate::controls::RouteClass::Playback, ip).await?;
    let token = demo
        .token(&state.uploads.uploader_role, state.clock.now())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body: Value = json!({
        "key_prefix": demo.key_prefix,
        "token": token,
        "expires_in": token.as_ref().map(|_| demo.token_ttl_secs()),
    });
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    ))
}
