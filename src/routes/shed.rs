//! Load shedding: at most `server.max_in_flight` requests are served at once; one more is
//! answered `503 overloaded` with `Retry-After` at once, rather than queued behind the others
//! while its client waits and the server's memory grows. The connection limit
//! (`server.max_connections`) alone would only hold new connections in the kernel's backlog,
//! where a client cannot tell "busy" from "down".
//!
//! `/healthz` and `/metrics` are never shed: an orchestrator that cannot see a busy replica alive
//! would restart it, and operators most need the metrics then.
//!
//! Our own small layer rather than tower's `ConcurrencyLimit` + `LoadShed`: those fail with a
//! `BoxError` that needs axum's `HandleErrorLayer` (a boxed future per request) to become
//! tollgate's JSON answer. This one costs an atomic operation on the semaphore.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use crate::error::ApiError;

/// Paths answered whatever the load.
const NEVER_SHED: [&str; 2] = ["/healthz", "/metrics"];

#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    slots: Arc<Semaphore>,
}

impl LoadShedLayer {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
        }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            slots: Arc::clone(&self.slots),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadShed<S> {
    inner: S,
    slots: Arc<Semaphore>,
}

impl<S, B> Service<Request<B>> for LoadShed<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if NEVER_SHED.contains(&request.uri().path()) {
            return ResponseFuture::Admitted {
                inner: self.inner.call(request),
                permit: None,
            };
        }
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => ResponseFuture::Admitted {
                inner: self.inner.call(request),
                permit: Some(permit),
            },
            Err(_) => ResponseFuture::Shed,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, holding a slot until it is ready (the body, already built,
    /// is written afterwards), or the shed answer.
    #[project = Projected]
    pub enum ResponseFuture<F> {
        Admitted {
            #[pin]
            inner: F,
            permit: Option<OwnedSemaphorePermit>,
        },
        Shed,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Admitted { inner, permit } => {
                let answer = std::task::ready!(inner.poll(cx));
                permit.take();
                Poll::Ready(answer)
            }
            Projected::Shed => Poll::Ready(Ok(ApiError::Overloaded.into_response())),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn the_request_beyond_the_limit_is_shed_and_its_slot_comes_back() {
        let (release, released) = tokio::sync::watch::channel(false);
        let slow = tower::service_fn(move |_: Request<Body>| {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|r| *r).await;
                Ok::<_, Infallible>(StatusCode::OK.into_response())
            }
        });
        let service = LoadShedLayer::new(1).layer(slow);
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();

        // `call` takes the slot at once, before the answer is awaited.
        let first = tokio::spawn(service.clone().call(get("/videos/a/url")));
        let shed = service.clone().oneshot(get("/videos/b/url")).await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()["retry-after"], "1");

        // Liveness and metrics pass however busy the server is.
        let health = tokio::spawn(service.clone().oneshot(get("/healthz")));
        release.send(true).unwrap();
        assert_eq!(health.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        // The first request's slot is free again.
        let after = service.oneshot(get("/videos/c/url")).await.unwrap();
        assert_eq!(after.status(), StatusCode::OK);
    }
}
