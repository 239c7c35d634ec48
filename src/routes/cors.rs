//! CORS for browser apps on other origins, for the methods and headers tollgate's API uses.
//! The bucket needs its own CORS rules for the presigned URLs (README).
//!
//! - An `OPTIONS` request is a preflight, answered here, before any route (`200`, no body):
//!   the allowed methods, headers and max-age, and `Access-Control-Allow-Origin` when the
//!   origin is allowed. It counts against the client IP's limit like any request that proves
//!   nothing (`429` over it).
//! - Any other request goes on; its answer gets `Access-Control-Allow-Origin` and
//!   `Access-Control-Expose-Headers: x-request-id` when its origin is allowed.
//! - Every answer varies by `Origin` and the preflight's two headers.
//!
//! Our own layer rather than tower-http's `CorsLayer` (kept for the embedded store's CORS, see
//! [`allow_origins`]): that one builds a header map and a `Vary` value for every request, and
//! axum clones its whole configuration for each, while here the header values are made once
//! and a request without an allowed `Origin` costs one header lookup and the `Vary`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tower_http::cors::AllowOrigin;

use super::admission::charge_unauthenticated;
use crate::config::CorsSettings;
use crate::controls::RouteClass;
use crate::domain::OriginPattern;
use crate::state::AppState;

/// What every answer varies by when CORS is on: the origin, and a preflight's questions.
const VARY_BY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);
const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET,POST,DELETE,OPTIONS");
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("authorization,content-type,accept");
const EXPOSE_HEADERS: HeaderValue = HeaderValue::from_static("x-request-id");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");

/// The origins allowed, from patterns validated at start-up (exact origins, any port of a
/// host, or `*`).
#[derive(Debug)]
enum Origins {
    Any,
    Some(Vec<OriginPattern>),
}

impl Origins {
    fn parse(patterns: &[String]) -> Self {
        let patterns: Vec<OriginPattern> = patterns
            .iter()
            .filter_map(|p| OriginPattern::parse(p).ok())
            .collect();
        if patterns.contains(&OriginPattern::Any) {
            Self::Any
        } else {
            Self::Some(patterns)
        }
    }

    /// `Access-Control-Allow-Origin` for a request with these headers: `*` for any origin
    /// (with or without `Origin`), else the origin itself when a pattern allows it.
    fn allow(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        match self {
            Self::Any => Some(ANY_ORIGIN),
            Self::Some(patterns) => {
                let origin = headers.get(ORIGIN)?;
                patterns
                    .iter()
                    .any(|p| p.matches(origin.as_bytes()))
                    .then(|| origin.clone())
            }
        }
    }
}

/// tower-http's CORS rule for the same patterns, for the embedded store's own CORS layer.
pub fn allow_origins(patterns: &[String]) -> AllowOrigin {
    match Origins::parse(patterns) {
        Origins::Any => AllowOrigin::any(),
        Origins::Some(patterns) => AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            patterns.iter().any(|p| p.matches(origin.as_bytes()))
        }),
    }
}

struct Rules {
    origins: Origins,
    max_age: HeaderValue,
}

/// The CORS layer, when `cors.allowed_origins` names any.
#[derive(Clone)]
pub struct CorsLayer {
    rules: Arc<Rules>,
    state: AppState,
}

impl CorsLayer {
    pub fn new(settings: &CorsSettings, state: &AppState) -> Option<Self> {
        if settings.allowed_origins.is_empty() {
            return None;
        }
        Some(Self {
            rules: Arc::new(Rules {
                origins: Origins::parse(&settings.allowed_origins),
                max_age: HeaderValue::from(settings.max_age_secs),
            }),
            state: state.clone(),
        })
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors {
            inner,
            rules: Arc::clone(&self.rules),
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Cors<S> {
    inner: S,
    rules: Arc<Rules>,
    state: AppState,
}

impl<S> Service<Request> for Cors<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let allowed = self.rules.origins.allow(request.headers());
        if request.method() != Method::OPTIONS {
            return ResponseFuture::Passed {
                inner: self.inner.call(request),
                allowed,
            };
        }
        let mut answer = Response::default();
        let headers = answer.headers_mut();
        if let Some(origin) = allowed {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        headers.insert(ACCESS_CONTROL_MAX_AGE, self.rules.max_age.clone());
        headers.append(VARY, VARY_BY);
        let state = self.state.clone();
        ResponseFuture::Preflight {
            future: Box::pin(async move {
                let ip = state
                    .controls
                    .trusted_proxies()
                    .of_request(request.extensions(), request.headers());
                match charge_unauthenticated(&state, RouteClass::Playback, ip).await {
                    Ok(_) => Ok(answer),
                    Err(refused) => {
                        let mut refused = refused.into_response();
                        refused.headers_mut().append(VARY, VARY_BY);
                        Ok(refused)
                    }
                }
            }),
        }
    }
}

type Preflight = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project_lite::pin_project! {
    #[project = Projected]
    pub enum ResponseFuture<F> {
        Passed {
            #[pin]
            inner: F,
            // `Access-Control-Allow-Origin`'s value, when the origin is allowed.
            allowed: Option<HeaderValue>,
        },
        Preflight {
            future: Preflight,
        },
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Passed { inner, allowed } => {
                let mut answer = std::task::ready!(inner.poll(cx));
                if let Ok(response) = &mut answer {
                    let headers = response.headers_mut();
                    if let Some(origin) = allowed.take() {
                        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
                    }
                    // After any the answer has.
                    headers.append(VARY, VARY_BY);
                }
                Poll::Ready(answer)
            }
            Projected::Preflight { future } => future.as_mut().poll(cx),
        }
    }
}
