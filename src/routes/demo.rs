//! `/demo` (development only, `demo.enabled`): one page where a developer uploads a video with
//! Uppy 6.x through `POST /s3/sign`, completes it and plays it back. The page and its bundle,
//! built by `scripts/build-demo.sh` from `web/demo/`, are compiled in: `cargo run` needs no
//! Node.js.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admission::{ClientIp, charge_unauthenticated};
use super::openapi::refusals;
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

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(script))
        .routes(routes!(style))
        .routes(routes!(session))
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

refusals!(AssetRefusals {});

#[utoipa::path(get, path = "/demo", tag = "demo", summary = "The demo page", responses(
    (status = 200, description = "The page", content_type = "text/html", body = String),
    AssetRefusals,
))]
async fn page() -> impl IntoResponse {
    asset("text/html; charset=utf-8", PAGE)
}

#[utoipa::path(get, path = "/demo/demo.js", tag = "demo", summary = "The demo page's script", responses(
    (status = 200, description = "The script", content_type = "text/javascript", body = String),
    AssetRefusals,
))]
async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

#[utoipa::path(get, path = "/demo/demo.css", tag = "demo", summary = "The demo page's style", responses(
    (status = 200, description = "The style sheet", content_type = "text/css", body = String),
    AssetRefusals,
))]
async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// A token for the demo page, when this tollgate mints them.
#[derive(Debug, Serialize, ToSchema)]
struct DemoSession {
    /// Where the page's uploads go (`storage.key_prefix`).
    key_prefix: String,
    /// `null` unless `auth.hmac_secret` is the published development secret: the page then asks
    /// for a token.
    token: Option<String>,
    /// The token's lifetime in seconds, with the token.
    expires_in: Option<u64>,
}

refusals!(SessionRefusals {
    404 => [NotFound],
    429 => [RateLimited],
    503 => [StateUnavailable],
});

/// `POST /demo/session` → `{"key_prefix", "token"}`: a token for the page when this tollgate
/// mints them (the published development secret), else `null` and the page asks for one.
#[utoipa::path(post, path = "/demo/session", tag = "demo", summary = "A token for the demo page", responses(
    (status = 200, description = "The token, or `null`", body = DemoSession),
    SessionRefusals,
))]
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
    let body = DemoSession {
        key_prefix: demo.key_prefix.clone(),
        expires_in: token.as_ref().map(|_| demo.token_ttl_secs()),
        token,
    };
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    ))
}
