//! Request ids, outermost: the caller's `x-request-id` when it is short and printable, else a
//! new UUID; every log line of the request carries it, and the answer echoes it (unless it set
//! its own). The request's `Authorization` header (each value of it) is marked sensitive here
//! too, so that no `Debug` of its headers prints a token.
//!
//! One small layer for what tower-http's `PropagateRequestId` and `SetSensitiveRequestHeaders`
//! with a `map_request` did as three (each future wraps the next, and the id was also kept in
//! the request's extensions, where nothing read it).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::header::{AUTHORIZATION, Entry};
use axum::http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::telemetry::REQUEST_ID;

#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestId { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequestId<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for RequestId<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let headers = request.headers_mut();
        let id = match headers.get(&REQUEST_ID) {
            Some(id) if is_acceptable(id) => id.clone(),
            _ => {
                let id = new_id();
                headers.insert(REQUEST_ID.clone(), id.clone());
                id
            }
        };
        // Every value: a request may send the header twice.
        if let Entry::Occupied(mut authorization) = headers.entry(AUTHORIZATION) {
            for value in authorization.iter_mut() {
                value.set_sensitive(true);
            }
        }
        ResponseFuture {
            inner: self.inner.call(request),
            id: Some(id),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut answer = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(id)) = (&mut answer, this.id.take())
            && !response.headers().contains_key(&REQUEST_ID)
        {
            response.headers_mut().insert(REQUEST_ID.clone(), id);
        }
        Poll::Ready(answer)
    }
}

fn is_acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=128).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
}

/// A random (v4) UUID, written without going through `Display`.
fn new_id() -> HeaderValue {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_printable_request_ids_are_kept() {
        assert!(is_acceptable(&HeaderValue::from_static("abc-123")));
        assert!(!is_acceptable(&HeaderValue::from_static("has space")));
        assert!(!is_acceptable(&HeaderValue::from_static("")));
        let long = "a".repeat(129);
        assert!(!is_acceptable(&HeaderValue::from_str(&long).unwrap()));
        assert!(is_acceptable(&HeaderValue::from_str(&long[1..]).unwrap()));
    }

    /// Each `Authorization` value is hidden from `Debug`, not only the first.
    #[tokio::test]
    async fn every_authorization_value_is_sensitive() {
        use tower::ServiceExt;
        let inner = tower::service_fn(|request: Request<()>| async move {
            let values: Vec<bool> = request
                .headers()
                .get_all(AUTHORIZATION)
                .iter()
                .map(HeaderValue::is_sensitive)
                .collect();
            let printed = format!("{:?}", request.headers());
            Ok::<_, std::convert::Infallible>(Response::new((values, printed)))
        });
        let request = Request::builder()
            .header(AUTHORIZATION, "Bearer first.token")
            .header(AUTHORIZATION, "Bearer second.token")
            .body(())
            .unwrap();
        let answer = RequestId { inner }.oneshot(request).await.unwrap();
        let (values, printed) = answer.into_body();
        assert_eq!(values, [true, true]);
        assert!(!printed.contains("token"), "{printed}");
    }

    #[test]
    fn new_ids_are_distinct_lowercase_uuids() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        let text = a.to_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(text).unwrap().get_version_num(), 4);
        assert_eq!(text, text.to_ascii_lowercase());
        assert!(is_acceptable(&a));
    }
}
