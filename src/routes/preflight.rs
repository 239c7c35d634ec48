//! CORS preflights are answered by the CORS layer, before any route: this layer, outside it,
//! counts them against the client IP's limit like any request that proves nothing (429 over
//! the limit). Every other request passes through untouched, at the cost of two header checks.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, Request};
use axum::http::Method;
use axum::http::header::ACCESS_CONTROL_REQUEST_METHOD;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::admission::charge_unauthenticated;
use crate::controls::RouteClass;
use crate::state::AppState;

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
        match self.project() {
            Projected::Passed { inner } => inner.poll(cx),
            Projected::Charged { future } => future.as_mut().poll(cx),
        }
    }
}
