//! Panic recovery: a handler that panics is answered `500 internal_error` (JSON, like every
//! error) and the connection lives on; the panic's message goes to the log, never to the client.
//!
//! Our own small layer rather than tower-http's `CatchPanicLayer`, which boxes every future
//! and every response body (two allocations per request, and axum boxes the body again to make
//! it its own). This one costs a `catch_unwind` around each poll.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

#[derive(Debug, Clone)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S, R> Service<R> for CatchPanic<S>
where
    S: Service<R, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        // A panic in `call` itself (an extractor run eagerly, a layer) is caught too.
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(inner) => ResponseFuture::Running { inner },
            Err(panic) => ResponseFuture::Panicked {
                answer: Some(panic_response(&*panic)),
            },
        }
    }
}

pin_project_lite::pin_project! {
    #[project = Projected]
    pub enum ResponseFuture<F> {
        Running {
            #[pin]
            inner: F,
        },
        Panicked {
            answer: Option<Response>,
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
            // The future is not polled again after a panic: it is answered at once.
            Projected::Running { inner } => {
                match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(polled) => polled,
                    Err(panic) => Poll::Ready(Ok(panic_response(&*panic))),
                }
            }
            Projected::Panicked { answer } => Poll::Ready(Ok(answer.take().unwrap_or_else(|| {
                ApiError::Internal("polled after its answer".to_owned()).into_response()
            }))),
        }
    }
}

/// The 500 for a panic; its message is logged (as an internal error's detail), not sent.
fn panic_response(panic: &(dyn Any + Send)) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}
