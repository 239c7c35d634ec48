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
