//! The HTTP surface: routes, middleware, and JSON answers for everything else.

mod access_log;
mod admin;
mod admission;
mod cors;
#[cfg(feature = "demo")]
mod demo;
mod fallback;
mod health;
mod hls;
pub(crate) mod json;
pub mod openapi;
mod panic;
mod request_id;
mod shed;
mod timeout;
mod uploads;
mod uppy;
mod videos;

use axum::Router;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::CorsSettings;
use crate::state::AppState;

/// What each request is held to (`server.*`).
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Bounds each request, handler and body read included (`server.request_timeout_secs`).
    pub timeout: Duration,
    /// Requests served at once; more are shed (`server.max_in_flight`).
    pub max_in_flight: usize,
}

impl RequestLimits {
    pub fn from_settings(server: &crate::config::ServerSettings) -> Self {
        Self {
            timeout: server.request_timeout(),
            max_in_flight: server.max_in_flight,
        }
    }
}

/// The whole application as a `Router` (no listener): what tests and benches drive.
pub fn router(
    state: AppState,
    cors: &CorsSettings,
    limits: RequestLimits,
    metrics_here: bool,
) -> Router {
    let (routes, _) = api(&state, metrics_here);
    let routes = routes
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .with_state(state.clone());
    let cors = cors::CorsLayer::new(cors, &state);
    with_middleware(routes, limits, Some(state), cors)
}

/// Every route of the API with its OpenAPI document, which `GET /openapi.json` serves. The
/// router and the document come from the same registrations (`routes!`): a route cannot be
/// added without its documentation.
pub fn api(state: &AppState, metrics_here: bool) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let document = openapi::Document::default();
    let routes = openapi::api_router(&document)
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz));
    let routes = if metrics_here {
        routes.routes(routes!(crate::metrics::serve))
    } else {
        routes
    };
    let routes = routes
        .merge(playback_routes())
        .merge(upload_routes())
        .merge(admin::routes());
    #[cfg(feature = "demo")]
    let routes = if state.demo.is_some() {
        routes.merge(demo::routes())
    } else {
        routes
    };
    #[cfg(not(feature = "demo"))]
    let _ = state;
    openapi::finish(routes, &document)
}

/// The admin port's service (`server.admin_port`): `/metrics` and `/healthz`, nothing else.
pub fn admin_router() -> Router {
    Router::new()
        .route("/metrics", get(crate::metrics::serve))
        .route("/healthz", get(health::healthz))
        .fallback(fallback::plain_not_found)
}

pub use cors::allow_origins;

/// Playback URLs and HLS playlists, and the end of a playback session.
fn playback_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(videos::video_url))
        .routes(routes!(hls::playlist))
        .routes(routes!(videos::end_session))
}

/// Every route that hands out upload URLs or ids. Their answers are for one caller and carry
/// capabilities: `Cache-Control: no-store` on each, so that no cache keeps them.
fn upload_routes() -> OpenApiRouter<AppState> {
    uploads::routes()
        .merge(uppy::routes())
        .route_layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// Request ids (with sensitive headers kept out of the logs), access log, CORS (which answers
/// every `OPTIONS` itself, counted against the client IP's limit), metrics, load shedding, the
/// audit trail (with the app's state), panic recovery and the request timeout around `routes`.
fn with_middleware(
    routes: Router,
    limits: RequestLimits,
    audit: Option<AppState>,
    cors: Option<cors::CorsLayer>,
) -> Router {
    // One `Router::layer` call: each call boxes every route's service once more, and every
    // request clones those boxes and polls one more boxed future (callgrind: thousands of
    // instructions a layer). The first layer here is the outermost. The layers are axum's
    // `from_fn` nowhere: it boxes the inner service and the future of every request.
    routes.layer(
        ServiceBuilder::new()
            // The request id first, so that every log line carries it.
            .layer(request_id::RequestIdLayer)
            .layer(access_log::AccessLogLayer)
            // Inside the access log (a preflight is logged like any request), outside the
            // routes' own layers: CORS answers preflights itself.
            .option_layer(cors)
            .layer(crate::metrics::TrackLayer)
            // Inside the metrics, which count the 503s; before any work, so that a shed request
            // costs next to nothing.
            .layer(shed::LoadShedLayer::new(limits.max_in_flight))
            // Outside panic recovery and the timeout: a 500 or a 408 is recorded too.
            .layer(crate::audit::RecordLayer::new(audit))
            .layer(panic::CatchPanicLayer)
            .layer(timeout::RequestTimeoutLayer::new(limits.timeout)),
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    fn test_limits(timeout: Duration) -> RequestLimits {
        RequestLimits {
            timeout,
            max_in_flight: 16,
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_json_error_with_a_request_id() {
        async fn boom() -> &'static str {
            panic!("boom")
        }
        let app = with_middleware(
            Router::new().route("/boom", get(boom)),
            test_limits(Duration::from_secs(30)),
            None,
            None,
        );
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key("x-request-id"));
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "internal_error", "message": "internal error"}})
        );
    }

    #[tokio::test]
    async fn a_request_slower_than_the_timeout_becomes_a_408_json_error_and_its_work_is_dropped() {
        // The handler owns `alive`: once its future is dropped, the receiver hears so.
        let (alive, handler_gone) = tokio::sync::oneshot::channel::<()>();
        let alive = std::sync::Arc::new(std::sync::Mutex::new(Some(alive)));
        let slow = move || {
            let alive = alive.lock().ok().and_then(|mut a| a.take());
            async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                drop(alive);
                "too late"
            }
        };
        let app = with_middleware(
            Router::new().route("/slow", get(slow)),
            test_limits(Duration::from_millis(100)),
            None,
            None,
        );
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            app.oneshot(Request::get("/slow").body(Body::empty()).unwrap()),
        )
        .await
        .expect("the timeout answers long before the handler would")
        .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(response.headers()["connection"], "close");
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "request_timeout", "{json}");
        assert!(json["error"]["message"].is_string(), "{json}");
        assert!(
            handler_gone.await.is_err(),
            "the handler's future was dropped without finishing"
        );
    }

    #[tokio::test]
    async fn a_request_within_the_timeout_is_answered_normally() {
        async fn quick() -> &'static str {
            tokio::time::sleep(Duration::from_millis(10)).await;
            "done"
        }
        let app = with_middleware(
            Router::new().route("/quick", get(quick)),
            test_limits(Duration::from_secs(5)),
            None,
            None,
        );
        let response = app
            .oneshot(Request::get("/quick").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("connection"));
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        assert_eq!(&body[..], b"done");
    }
}
