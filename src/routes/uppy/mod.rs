//! Uppy's `@uppy/aws-s3` clients: the Companion-style routes of 4.x/5.x (`companion`) and the
//! `signRequest` route of 6.x (`sign`). Both map requests and answers; the rules are in
//! `crate::uploads`.

mod companion;
mod companion_body;
mod sign;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::state::AppState;

/// Uppy 4.x/5.x's Companion-style routes and 6.x's `POST /s3/sign`, answering errors in
/// Companion's shape too.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(companion::params))
        .routes(routes!(sign::sign))
        .routes(routes!(companion::create_multipart))
        .routes(routes!(companion::list_parts, companion::abort))
        .routes(routes!(companion::sign_part))
        .routes(routes!(companion::complete).layer(DefaultBodyLimit::max(
            super::uploads::MAX_COMPLETE_BODY_BYTES,
        )))
        .route_layer(axum::middleware::from_fn(companion_errors))
}

/// Companion's error shape, which `@uppy/companion-client` reads: a top-level `message` (shown to
/// the user for 4xx) and `requestId`, beside tollgate's own `error` object.
pub async fn companion_errors(request: Request, next: Next) -> Response {
    // The request id middleware runs outside this one: the id is on the request already.
    let request_id = request
        .headers()
        .get(&crate::telemetry::REQUEST_ID)
        .cloned();
    let response = next.run(request).await;
    if response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(message) = value.pointer("/error/message").cloned() {
        value["message"] = message;
    }
    if let Some(id) = request_id.as_ref().and_then(|v| v.to_str().ok()) {
        value["requestId"] = Value::from(id);
    }
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}
