//! Prometheus metrics, served at `/metrics` (on `server.admin_port` when set, else on the API's
//! port; never behind the Bearer check): requests by route and status with their latency, URLs
//! issued by operation, decisions by action and result, store calls with their outcome and
//! latency, cache lookups (token, metadata, playlist), JWKS refreshes, calls to the controls'
//! state, webhook deliveries, attempts and dropped events.
//!
//! One registry per process ([`Metrics::global`]), as a process is what Prometheus scrapes.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{LazyLock, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use tower::{Layer, Service};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: RouteLabel,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: RouteLabel,
}

/// A request's route template, as the router matched it: its own `MatchedPath`, shared rather
/// than copied into a label of its own on every request.
#[derive(Clone, Debug)]
pub enum RouteLabel {
    Matched(MatchedPath),
    /// No route matched: the fallback answered.
    Unmatched,
}

impl RouteLabel {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Matched(path) => path.as_str(),
            Self::Unmatched => "unmatched",
        }
    }
}

impl std::hash::Hash for RouteLabel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq for RouteLabel {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RouteLabel {}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// A request's method as a label: the methods HTTP defines, and `other` for any other token a
/// client sends (hyper accepts any), so that clients cannot grow the label set without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub action: &'static str,
    pub decision: &'static str,
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub operation: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub cache: &'static str,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// A family's metrics, found by the identity of their labels rather than their text.
/// `Family::get_or_create` hashes the labels' text with SipHash under a lock on every call
/// (~400 instructions; a playback request made six). The first lookup of a label set goes to
/// the family and keeps the metric's handle (an `Arc`: the same series); later ones hash a
/// few addresses with foldhash. A family's samples still appear once they are first counted.
struct Handles<K, M> {
    by_identity: RwLock<HashMap<K, M, foldhash::fast::RandomState>>,
}

impl<K: Hash + Eq, M: Clone> Handles<K, M> {
    fn new() -> Self {
        Self {
            by_identity: RwLock::new(HashMap::default()),
        }
    }

    /// Applies `apply` to the metric under `key`, which `find` looks up in its family the
    /// first time.
    fn with(&self, key: K, find: impl FnOnce() -> M, apply: impl FnOnce(&M)) {
        // A poisoned lock only means a panic elsewhere: the map is still whole.
        if let Some(metric) = self
            .by_identity
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            apply(metric);
            return;
        }
        let metric = find();
        apply(&metric);
        let mut by_identity = self
            .by_identity
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Label sets are few (routes × methods × statuses), but identity is an address: were a
        // route's template ever made anew per request (axum does for nested routers), each
        // would be a new key. Past the bound, lookups go to the family, uncached.
        if by_identity.len() < MAX_HANDLES {
            by_identity.insert(key, metric);
        }
    }
}

/// How many handles a family keeps: far more label sets than tollgate's routes, methods and
/// statuses make.
const MAX_HANDLES: usize = 4096;

/// A `&'static str` label by its address: a constant's text never moves nor is freed, so the
/// same address is the same text (the same text at two addresses only takes two entries
/// leading to the same metric).
#[derive(Clone, Copy)]
struct Static(&'static str);

impl Hash for Static {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.as_ptr() as usize);
        state.write_usize(self.0.len());
    }
}

impl PartialEq for Static {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Static {}

/// A route by the address of its template: the key holds the router's `MatchedPath` (an
/// `Arc`), so the address cannot be reused for other text while the entry lives.
#[derive(Clone)]
struct RouteId(RouteLabel);

impl Hash for RouteId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let route = self.0.as_str();
        state.write_usize(route.as_ptr() as usize);
        state.write_usize(route.len());
    }
}

impl PartialEq for RouteId {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0.as_str(), other.0.as_str())
    }
}

impl Eq for RouteId {}

fn latency() -> Histogram {
    // 50 µs … ~26 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

pub struct Metrics {
    registry: Registry,
    /// The families' names as scraped (`tollgate_` + name; counters add `_total` to samples).
    /// A family appears in `/metrics` only once it has a sample.
    families: Vec<String>,
    http_requests: Family<HttpLabels, Counter>,
    http_requests_by_id: Handles<(RouteId, Static, u16), Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    http_duration_by_id: Handles<RouteId, Histogram>,
    urls_issued: Family<OperationLabels, Counter>,
    urls_issued_by_id: Handles<Static, Counter>,
    decisions: Family<DecisionLabels, Counter>,
    decisions_by_id: Handles<(Static, Static, Static), Counter>,
    store_calls: Family<OutcomeLabels, Counter>,
    store_duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    cache_lookups: Family<CacheLabels, Counter>,
    cache_lookups_by_id: Handles<(Static, bool), Counter>,
    jwks_refreshes: Family<ResultLabels, Counter>,
    state_calls: Family<ResultLabels, Counter>,
    state_calls_by_id: Handles<bool, Counter>,
    webhook_deliveries: Family<DeliveryLabels, Counter>,
    webhook_attempts: Family<ResultLabels, Counter>,
    webhook_dropped: Family<ReasonLabels, Counter>,
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Registers `metric` as `tollgate_{name}` and remembers the name.
fn register(
    registry: &mut Registry,
    families: &mut Vec<String>,
    name: &'static str,
    help: &'static str,
    metric: impl prometheus_client::registry::Metric,
) {
    families.push(format!("tollgate_{name}"));
    registry.register(name, help, metric);
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("tollgate");
        let mut families = Vec::new();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        let urls_issued = Family::<OperationLabels, Counter>::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        let store_calls = Family::<OutcomeLabels, Counter>::default();
        let store_duration =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        let jwks_refreshes = Family::<ResultLabels, Counter>::default();
        let state_calls = Family::<ResultLabels, Counter>::default();
        let webhook_deliveries = Family::<DeliveryLabels, Counter>::default();
        let webhook_attempts = Family::<ResultLabels, Counter>::default();
        let webhook_dropped = Family::<ReasonLabels, Counter>::default();
        register(
            &mut registry,
            &mut families,
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "http_request_duration_seconds",
            "Time from a request's head to its answer, by route template",
            http_duration.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "urls_issued",
            "Presigned URLs and requests signed, by S3 operation",
            urls_issued.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "decisions",
            "Decisions (the audit trail's events) by action, decision and refusal code",
            decisions.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "store_requests",
            "Requests tollgate made to the store, by operation and outcome (ok, not_found, error)",
            store_calls.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "store_request_duration_seconds",
            "Latency of tollgate's requests to the store, by operation",
            store_duration.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "cache_lookups",
            "Cache lookups by cache (token, metadata, playlist) and result (hit, miss)",
            cache_lookups.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "jwks_refreshes",
            "JWKS fetches by result (ok, error)",
            jwks_refreshes.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "state_calls",
            "Calls to the controls' shared state by result (ok, error)",
            state_calls.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "webhook_deliveries",
            "Webhook events by how their delivery ended (delivered, exhausted: every attempt \
             failed, abandoned: still pending when the shutdown grace ended)",
            webhook_deliveries.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "webhook_attempts",
            "Webhook POSTs by result (ok, non_2xx, timeout, network)",
            webhook_attempts.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "webhook_events_dropped",
            "Webhook events never queued, by reason (queue_full, closed: after shutdown began)",
            webhook_dropped.clone(),
        );
        Self {
            registry,
            families,
            http_requests,
            http_requests_by_id: Handles::new(),
            http_duration,
            http_duration_by_id: Handles::new(),
            urls_issued,
            urls_issued_by_id: Handles::new(),
            decisions,
            decisions_by_id: Handles::new(),
            store_calls,
            store_duration,
            cache_lookups,
            cache_lookups_by_id: Handles::new(),
            jwks_refreshes,
            state_calls,
            state_calls_by_id: Handles::new(),
            webhook_deliveries,
            webhook_attempts,
            webhook_dropped,
        }
    }

    /// The process's metrics.
    pub fn global() -> &'static Self {
        &GLOBAL
    }

    /// Every family's name, with or without samples yet.
    pub fn families(&self) -> &[String] {
        &self.families
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        out
    }

    /// One presigned request for `operation` (an HLS playlist signs thousands: a label lookup
    /// each, no allocation).
    pub fn url_issued(&self, operation: &'static str) {
        self.urls_issued_by_id.with(
            Static(operation),
            || {
                self.urls_issued
                    .get_or_create_owned(&OperationLabels { operation })
            },
            |issued| {
                issued.inc();
            },
        );
    }

    pub fn decision(&self, action: &'static str, decision: &'static str, code: &'static str) {
        self.decisions_by_id.with(
            (Static(action), Static(decision), Static(code)),
            || {
                self.decisions.get_or_create_owned(&DecisionLabels {
                    action,
                    decision,
                    code,
                })
            },
            |decisions| {
                decisions.inc();
            },
        );
    }

    /// One request to the store that started at `started`.
    pub fn store_call(&self, operation: &'static str, outcome: &'static str, started: Instant) {
        self.store_calls
            .get_or_create(&OutcomeLabels { operation, outcome })
            .inc();
        self.store_duration
            .get_or_create(&OperationLabels { operation })
            .observe(started.elapsed().as_secs_f64());
    }

    pub fn cache_lookup(&self, cache: &'static str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache_lookups_by_id.with(
            (Static(cache), hit),
            || {
                self.cache_lookups
                    .get_or_create_owned(&CacheLabels { cache, result })
            },
            |lookups| {
                lookups.inc();
            },
        );
    }

    pub fn jwks_refresh(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.jwks_refreshes
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// One call to the shared state and whether it answered (every request with a caller
    /// makes one: its revocation check).
    pub fn state_call(&self, ok: bool) {
        self.state_calls_by_id.with(
            ok,
            || {
                let result = if ok { "ok" } else { "error" };
                self.state_calls
                    .get_or_create_owned(&ResultLabels { result })
            },
            |calls| {
                calls.inc();
            },
        );
    }

    /// One webhook event whose delivery ended with `outcome`.
    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.webhook_deliveries
            .get_or_create(&DeliveryLabels { outcome })
            .inc();
    }

    /// One webhook POST and its `result`.
    pub fn webhook_attempt(&self, result: &'static str) {
        self.webhook_attempts
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// One webhook event dropped before it was queued.
    pub fn webhook_dropped(&self, reason: &'static str) {
        self.webhook_dropped
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }
}

/// Counts every request and its latency by route template (`unmatched` for none): a layer
/// inside the routing, where the route is known. Its own small service rather than axum's
/// `from_fn`, which boxes the inner service and the future of every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Track { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Track<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .cloned()
            .map_or(RouteLabel::Unmatched, RouteLabel::Matched);
        let method = method_label(request.method());
        TrackFuture {
            started: Instant::now(),
            inner: self.inner.call(request),
            method,
            route: Some(route),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        method: &'static str,
        // Taken when the answer is counted.
        route: Option<RouteLabel>,
    }
}

impl<F, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(route)) = (&answer, this.route.take()) {
            let metrics = Metrics::global();
            let status = response.status().as_u16();
            let method = *this.method;
            metrics.http_duration_by_id.with(
                RouteId(route.clone()),
                || {
                    metrics.http_duration.get_or_create_owned(&RouteLabels {
                        route: route.clone(),
                    })
                },
                |duration| duration.observe(this.started.elapsed().as_secs_f64()),
            );
            metrics.http_requests_by_id.with(
                (RouteId(route.clone()), Static(method), status),
                || {
                    metrics.http_requests.get_or_create_owned(&HttpLabels {
                        route,
                        method,
                        status,
                    })
                },
                |requests| {
                    requests.inc();
                },
            );
        }
        Poll::Ready(answer)
    }
}

crate::routes::openapi::refusals!(MetricsRefusals {});

/// `GET /metrics`: the Prometheus metrics, on the API's port unless `server.admin_port` is set.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String),
        MetricsRefusals,
    )
)]
pub async fn serve() -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        Metrics::global().render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(series: &str) -> Option<String> {
        Metrics::global()
            .render()
            .lines()
            .find_map(|line| line.strip_prefix(series).map(|v| v.trim().to_owned()))
    }

    /// Keys that never repeat (a template made anew per request) stop being kept at the
    /// bound, and every count still lands in its series.
    #[test]
    fn handles_stay_bounded_and_still_count() {
        let handles: Handles<usize, Counter> = Handles::new();
        let counter = Counter::default();
        for key in 0..MAX_HANDLES + 100 {
            handles.with(
                key,
                || counter.clone(),
                |c| {
                    c.inc();
                },
            );
        }
        handles.with(
            0,
            || unreachable!("kept"),
            |c| {
                c.inc();
            },
        );
        assert_eq!(handles.by_identity.read().unwrap().len(), MAX_HANDLES);
        assert_eq!(counter.get(), (MAX_HANDLES + 101) as u64);
    }

    /// Handles are found by address: the same text at two addresses is still one series, and
    /// every count lands in it.
    #[test]
    fn the_same_labels_at_two_addresses_are_one_series() {
        let a: &'static str = String::from("test_identity_op").leak();
        let b: &'static str = String::from("test_identity_op").leak();
        assert!(!std::ptr::eq(a, b));
        let metrics = Metrics::global();
        for operation in [a, b, a, b, b] {
            metrics.url_issued(operation);
        }
        assert_eq!(
            sample(r#"tollgate_urls_issued_total{operation="test_identity_op"}"#).as_deref(),
            Some("5")
        );
        for (cache, hit) in [(a, true), (b, true), (a, false)] {
            metrics.cache_lookup(cache, hit);
        }
        assert_eq!(
            sample(r#"tollgate_cache_lookups_total{cache="test_identity_op",result="hit"}"#)
                .as_deref(),
            Some("2")
        );
        assert_eq!(
            sample(r#"tollgate_cache_lookups_total{cache="test_identity_op",result="miss"}"#)
                .as_deref(),
            Some("1")
        );
    }
}
