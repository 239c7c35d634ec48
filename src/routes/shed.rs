//! Load shedding: at most `server.max_in_flight` requests are served at once; one more is
//! answered `503 overloaded` with `Retry-After` at once, rather than queued behind the others
//! while its client waits and the server's memory grows. The connection limit
//! (`server.max_connections`) alone would only hold new connections in the kernel's backlog,
//! where a client cannot tell "busy" from "down".
//!
//! `GET /healthz` and `GET /metrics` are never shed: an orchestrator that cannot see a busy
//! replica alive would restart it, and operators most need the metrics then. Only those routes,
//! as matched: any other method on their paths, or `/metrics` where the admin port serves it,
//! goes to a fallback that charges the client IP's limit (a call to the shared state), and is
//! shed like any request.
//!
//! Our own small layer rather than tower's `ConcurrencyLimit` + `LoadShed`: those fail with a
//! `BoxError` that needs axum's `HandleErrorLayer` (a boxed future per request) to become
//! tollgate's JSON answer. This one costs an atomic operation on the semaphore.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::MatchedPath;
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use crate::error::ApiError;

/// Routes answered whatever the load (to `GET` and `HEAD`).
const NEVER_SHED: [&str; 2] = ["/healthz", "/metrics"];

/// Whether `request` is for one of the [`NEVER_SHED`] routes, as the router matched it (this
/// layer runs inside the routing): a path of theirs that no route serves is not.
fn never_shed<B>(request: &Request<B>) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD)
        && request
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|route| NEVER_SHED.contains(&route.as_str()))
}

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
        if never_shed(&request) {
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
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// Until the requests spawned so far hold every slot (the router calls a route's service
    /// when its future is first polled).
    async fn until_full(layer: &LoadShedLayer) {
        while layer.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn the_request_beyond_the_limit_is_shed_and_its_slot_comes_back() {
        let (release, released) = tokio::sync::watch::channel(false);
        let slow = move || {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|r| *r).await;
                StatusCode::OK
            }
        };
        let layer = LoadShedLayer::new(1);
        let service = Router::new()
            .route("/videos/{id}/url", get(slow))
            .route("/healthz", get(|| async { StatusCode::OK }))
            .route("/metrics", get(|| async { StatusCode::OK }))
            .layer(layer.clone());
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();

        let first = tokio::spawn(service.clone().oneshot(get("/videos/a/url")));
        until_full(&layer).await;
        let shed = service.clone().oneshot(get("/videos/b/url")).await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()["retry-after"], "1");

        // Liveness and metrics pass however busy the server is.
        for path in ["/healthz", "/healthz?probe=1", "/metrics"] {
            let answer = service.clone().oneshot(get(path)).await.unwrap();
            assert_eq!(answer.status(), StatusCode::OK, "{path}");
        }
        let head = Request::head("/healthz").body(Body::empty()).unwrap();
        let answer = service.clone().oneshot(head).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        release.send(true).unwrap();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        // The first request's slot is free again.
        let after = service.oneshot(get("/videos/c/url")).await.unwrap();
        assert_eq!(after.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn only_the_liveness_and_metrics_routes_themselves_pass_a_full_server() {
        // `/metrics` is served on the admin port here: its path leads to the fallback.
        let layer = LoadShedLayer::new(1);
        let service = Router::new()
            .route("/videos/{id}/url", get(std::future::pending::<StatusCode>))
            .route("/healthz", get(|| async { StatusCode::OK }))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(layer.clone());
        let _busy = tokio::spawn(
            service
                .clone()
                .oneshot(Request::get("/videos/a/url").body(Body::empty()).unwrap()),
        );
        until_full(&layer).await;
        for (method, path) in [
            (Method::POST, "/healthz"),
            (Method::DELETE, "/healthz"),
            (Method::OPTIONS, "/healthz"),
            (Method::GET, "/healthz/"),
            (Method::GET, "//healthz"),
            (Method::GET, "/%68ealthz"),
            (Method::GET, "/metrics"),
        ] {
            let request = Request::builder()
                .method(method.clone())
                .uri(path)
                .body(Body::empty())
                .unwrap();
            let answer = service.clone().oneshot(request).await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{method} {path}"
            );
        }
    }
}
