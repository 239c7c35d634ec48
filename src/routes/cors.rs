//! CORS for browser apps on other origins: tower-http's layer writes the headers, for the
//! methods and headers tollgate's API uses, and this module's layer, outside it, does what it
//! does not:
//! - CORS answers preflights before any route: they are counted here against the client IP's
//!   limit like any request that proves nothing (429 over the limit);
//! - `Vary` is one static header on every answer; tower-http builds its text anew for each.
//!
//! The bucket needs its own CORS rules for the presigned URLs (README).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::header::{
    ACCEPT, ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, CONTENT_TYPE, VARY,
};
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::admission::charge_unauthenticated;
use crate::config::CorsSettings;
use crate::controls::RouteClass;
use crate::domain::OriginPattern;
use crate::state::AppState;
use crate::telemetry;

/// What every answer varies by when CORS is on: the origin, and a preflight's questions.
const VARY_BY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// The CORS layers, outermost first, when `cors.allowed_origins` names any.
pub fn layers(
    settings: &CorsSettings,
    state: &AppState,
) -> Option<(PreflightLimitLayer, CorsLayer)> {
    if settings.allowed_origins.is_empty() {
        return None;
    }
    let origins = allow_origins(&settings.allowed_origins);
    let cors = CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE, ACCEPT])
        .expose_headers([telemetry::REQUEST_ID.clone()])
        .max_age(Duration::from_secs(settings.max_age_secs))
        // PreflightLimit adds it.
        .vary([]);
    Some((PreflightLimitLayer::new(state.clone()), cors))
}

/// The origins a CORS layer allows, from patterns validated at start-up (exact origins, any port
/// of a host, or `*`).
pub fn allow_origins(patterns: &[String]) -> AllowOrigin {
    let patterns: Vec<OriginPattern> = patterns
        .iter()
        .filter_map(|p| OriginPattern::parse(p).ok())
        .collect();
    if patterns.contains(&OriginPattern::Any) {
        return AllowOrigin::any();
    }
    AllowOrigin::predicate(move |origin: &HeaderValue, _| {
        patterns.iter().any(|p| p.matches(origin.as_bytes()))
    })
}

#[derive(Clone)]
pub struct PreflightLimitLayer {
    state: AppState,
}

impl PreflightLimitLayer {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for PreflightLimitLayer {
    type Service = PreflightLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PreflightLimit {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct PreflightLimit<S> {
    inner: S,
    state: AppState,
}

fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

impl<S> Service<Request> for PreflightLimit<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !is_preflight(&request) {
            return ResponseFuture::Passed {
                inner: self.inner.call(request),
            };
        }
        // The ready service answers this request once the charge is through; a clone takes
        // its place for the next one (tower's usual way to move a service into a future).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        ResponseFuture::Charged {
            future: Box::pin(async move {
                let ip = request
                    .extensions()
                    .get::<ConnectInfo<std::net::SocketAddr>>()
                    .map(|info| {
                        state
                            .controls
                            .trusted_proxies()
                            .client_ip(info.0.ip(), request.headers())
                    });
                match charge_unauthenticated(&state, RouteClass::Playback, ip).await {
                    Ok(_) => inner.call(request).await,
                    Err(refused) => Ok(refused.into_response()),
                }
            }),
        }
    }
}

type Charged = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project_lite::pin_project! {
    #[project = Projected]
    pub enum ResponseFuture<F> {
        Passed {
            #[pin]
            inner: F,
        },
        Charged {
            future: Charged,
        },
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answer = match self.project() {
            Projected::Passed { inner } => std::task::ready!(inner.poll(cx)),
            Projected::Charged { future } => std::task::ready!(future.as_mut().poll(cx)),
        };
        Poll::Ready(answer.map(|mut response| {
            // After any the answer has (as tower-http appends its own).
            response.headers_mut().append(VARY, VARY_BY);
            response
        }))
    }
}
