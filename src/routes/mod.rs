//! The HTTP surface: routes, middleware, and JSON answers for everything else.

mod fallback;
mod health;
mod videos;

use std::any::Any;

use axum::Router;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;
use crate::telemetry;

/// The whole application as a `Router` (no listener): what tests and benches drive.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/videos/{id}/url", get(videos::video_url))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .with_state(state)
        // Layers run bottom-up on the way in: request id first, so every log line carries it.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::make_span))
        .layer(axum::middleware::from_fn(telemetry::request_id))
}

#[allow(clippy::needless_pass_by_value)] // the signature CatchPanicLayer::custom requires
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}
