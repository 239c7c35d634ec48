//! Answers for requests that match no route or no method: they count against the client IP's
//! limit like any request that proves nothing.

use axum::extract::State;

use super::admission::{ClientIp, charge_unauthenticated};
use crate::controls::RouteClass;
use crate::error::ApiError;
use crate::state::AppState;

/// 404 on the admin port, which has no client limits.
pub async fn plain_not_found() -> ApiError {
    ApiError::RouteNotFound
}

pub async fn not_found(State(state): State<AppState>, ClientIp(ip): ClientIp) -> ApiError {
    match charge_unauthenticated(&state, RouteClass::Playback, ip).await {
        Ok(_) => ApiError::RouteNotFound,
        Err(refused) => refused,
    }
}

pub async fn method_not_allowed(State(state): State<AppState>, ClientIp(ip): ClientIp) -> ApiError {
    match charge_unauthenticated(&state, RouteClass::Playback, ip).await {
        Ok(_) => ApiError::MethodNotAllowed,
        Err(refused) => refused,
    }
}

/// CORS preflights are answered by the CORS layer, before any route: this layer, outside it,
/// counts them against the client IP (429 over the limit).
pub async fn count_preflights(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let preflight = request.method() == axum::http::Method::OPTIONS
        && request
            .headers()
            .contains_key(axum::http::header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let ip = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| {
                state
                    .controls
                    .trusted_proxies()
                    .client_ip(info.0.ip(), request.headers())
            });
        if let Err(refused) = charge_unauthenticated(&state, RouteClass::Playback, ip).await {
            return refused.into_response();
        }
    }
    next.run(request).await
}
