//! The audit trail: one structured event per decision (a playback URL, a playlist, an upload and
//! each of its steps, a revocation, …), granted or refused, under the tracing target `audit`
//! and, with `audit.path`, appended to a file of its own, rotated by size.
//!
//! An event says who (subject, client IP, user agent), what (action, method, video or upload
//! id, object key), until when (`expires_at` of what was handed out), and the decision (`granted`,
//! or the refusal's error code), with the request id. Never a URL, a signature, a credential or
//! a token: a URL is a bearer credential, so the event names the object, not the URL.
//!
//! Each audited request carries an [`AuditSlot`]; extractors and handlers write what they learn
//! into it, and [`record`] writes the event once the answer is known, so that a refusal at any
//! step is recorded like a grant.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request};
use axum::http::Method;
use axum::http::header::USER_AGENT;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower::{Layer, Service};

use crate::routes::json::JsonObject;
use crate::state::AppState;

/// Longest user agent recorded.
const MAX_USER_AGENT: usize = 256;
/// Events waiting for the file writer; beyond, a request waits for room (nothing is dropped).
const QUEUE: usize = 8192;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// A file the events are appended to, one JSON object per line; unset: the `audit` log
    /// target only.
    pub path: Option<PathBuf>,
    /// The file is rotated (`path` → `path.1` → `path.2` …) once it would grow past this.
    pub max_file_bytes: u64,
    /// Rotated files kept besides the current one.
    pub max_files: u32,
}

impl AuditSettings {
    pub fn validate(&self, problems: &mut Vec<String>) {
        if self.max_file_bytes < 4096 {
            problems.push(format!(
                "audit.max_file_bytes must be at least 4096, got {}",
                self.max_file_bytes
            ));
        }
        if !(1..=1000).contains(&self.max_files) {
            problems.push(format!(
                "audit.max_files must be 1..=1000, got {}",
                self.max_files
            ));
        }
    }
}

/// What one request's handlers learnt, for its event.
#[derive(Debug, Default)]
pub struct Details {
    pub subject: Option<String>,
    pub video: Option<String>,
    pub upload: Option<String>,
    pub key: Option<String>,
    /// Seconds since the epoch.
    pub expires_at: Option<i64>,
    /// What an admin revoked or cleared (`subject:bob`, `jti:…`, `video:…`).
    pub target: Option<String>,
}

/// The request's details, shared by the extractors and handlers that fill them; empty when
/// nobody reads them (the route is not audited, or events go nowhere), and then
/// [`AuditSlot::update`] does nothing, not even run its closure.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Option<Arc<Mutex<Details>>>);

impl AuditSlot {
    /// A slot whose details [`record`] reads.
    fn read() -> Self {
        Self(Some(Arc::default()))
    }

    /// Changes the details (a poisoned lock only means a panic elsewhere: keep recording).
    pub fn update(&self, change: impl FnOnce(&mut Details)) {
        if let Some(details) = &self.0 {
            change(
                &mut details
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }
    }

    fn take(&self) -> Details {
        self.0.as_ref().map_or_else(Details::default, |details| {
            std::mem::take(
                &mut *details
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
        })
    }
}

/// The request's slot; on a route that is not audited, one nobody reads.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AuditSlot {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Self>().cloned().unwrap_or_default())
    }
}

/// The error code of a refused request, which `ApiError` leaves on its response.
#[derive(Debug, Clone, Copy)]
pub struct RefusalCode(pub &'static str);

/// Where events go.
pub struct Audit {
    file: Option<SyncSender<Vec<u8>>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("file", &self.file.is_some())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open the audit file {0}")]
pub struct AuditError(PathBuf, #[source] std::io::Error);

impl Audit {
    /// Opens `audit.path` (creating it) when set, with its writer thread.
    pub fn new(settings: &AuditSettings) -> Result<Self, AuditError> {
        let Some(path) = &settings.path else {
            return Ok(Self { file: None });
        };
        let file = RotatingFile::open(path, settings.max_file_bytes, settings.max_files)
            .map_err(|e| AuditError(path.clone(), e))?;
        let (sender, receiver) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("audit-writer".to_owned())
            .spawn(move || file.write_all_from(&receiver))
            .map_err(|e| AuditError(path.clone(), e))?;
        Ok(Self { file: Some(sender) })
    }

    /// Whether an event would go anywhere: to the file, or to a log that keeps the `audit`
    /// target at `info`.
    pub fn wants_events(&self) -> bool {
        self.file.is_some() || tracing::enabled!(target: "audit", tracing::Level::INFO)
    }

    /// Writes one event: to the `audit` target (its fields as the log line's), and to the file.
    pub fn write(&self, event: &Event<'_>) {
        // The values are worked out only when the target is enabled.
        tracing::info!(
            target: "audit",
            request_id = event.request_id,
            action = event.action,
            method = event.method,
            decision = event.decision,
            code = event.code,
            status = u64::from(event.status),
            subject = event.subject,
            video = event.video,
            upload = event.upload,
            key = event.key,
            target_ = event.target,
            expires_at = event.expires_at.and_then(rfc3339).as_deref(),
            client_ip = event.client_ip.map(tracing::field::display),
            user_agent = event.user_agent,
            "audit"
        );
        if let Some(file) = &self.file {
            let line = event.to_json();
            match file.try_send(line) {
                Ok(()) => {}
                // The writer is behind: wait for room rather than lose the event.
                Err(TrySendError::Full(line)) => {
                    if file.send(line).is_err() {
                        tracing::error!("audit writer stopped; event not written to the file");
                    }
                }
                Err(TrySendError::Disconnected(_)) => {
                    tracing::error!("audit writer stopped; event not written to the file");
                }
            }
        }
    }
}

/// One decision, as written.
#[derive(Debug)]
pub struct Event<'a> {
    pub time: SystemTime,
    pub request_id: Option<&'a str>,
    pub action: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub decision: &'a str,
    pub code: Option<&'a str>,
    pub status: u16,
    pub subject: Option<&'a str>,
    pub video: Option<&'a str>,
    pub upload: Option<&'a str>,
    pub key: Option<&'a str>,
    pub target: Option<&'a str>,
    /// Seconds since the epoch.
    pub expires_at: Option<i64>,
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
}

impl Event<'_> {
    /// The file's line: a JSON object, its names in alphabetical order, `null` for what the
    /// event does not know.
    fn to_json(&self) -> Vec<u8> {
        let time = OffsetDateTime::from(self.time).format(&Rfc3339).ok();
        let expires_at = self.expires_at.and_then(rfc3339);
        let client_ip = self.client_ip.map(|ip| ip.to_string());
        let mut object = JsonObject::with_capacity(512);
        object
            .str("action", self.action)
            .opt_str("client_ip", client_ip.as_deref())
            .opt_str("code", self.code)
            .str("decision", self.decision)
            .opt_str("expires_at", expires_at.as_deref())
            .opt_str("key", self.key)
            .str("method", self.method)
            .opt_str("request_id", self.request_id)
            .str("route", self.route)
            .u64("status", u64::from(self.status))
            .opt_str("subject", self.subject)
            .opt_str("target", self.target)
            .opt_str("time", time.as_deref())
            .opt_str("upload", self.upload)
            .opt_str("user_agent", self.user_agent)
            .opt_str("video", self.video);
        object.finish()
    }
}

/// An append-only file, rotated by size.
struct RotatingFile {
    path: PathBuf,
    out: BufWriter<File>,
    len: u64,
    max_len: u64,
    keep: u32,
}

impl RotatingFile {
    fn open(path: &Path, max_len: u64, keep: u32) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            len,
            max_len,
            keep,
        })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// `path.{keep-1}` → `path.{keep}` … `path` → `path.1`, then a new `path`.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1))?;
            }
        }
        std::fs::rename(&self.path, self.rotated(1))?;
        *self = Self::open(&self.path, self.max_len, self.keep)?;
        Ok(())
    }

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let bytes = line.len() as u64 + 1;
        if self.len > 0 && self.len + bytes > self.max_len {
            self.rotate()?;
        }
        self.out.write_all(line)?;
        self.out.write_all(b"\n")?;
        self.len += bytes;
        Ok(())
    }

    /// Writes events as they come, flushing whenever none is waiting, until every sender is gone.
    fn write_all_from(mut self, events: &Receiver<Vec<u8>>) {
        while let Ok(line) = events.recv() {
            let mut batch = vec![line];
            batch.extend(events.try_iter());
            for line in batch {
                if let Err(e) = self.write_line(&line) {
                    tracing::error!(error = %e, path = %self.path.display(), "audit file write failed");
                }
            }
            if let Err(e) = self.out.flush() {
                tracing::error!(error = %e, path = %self.path.display(), "audit file flush failed");
            }
        }
    }
}

/// The action a route's request performs.
fn action(method: &Method, route: &str) -> &'static str {
    match (method.as_str(), route) {
        ("GET", "/videos/{id}/url") => "playback_url",
        ("GET", "/videos/{id}/hls/{*path}") => "playlist",
        ("DELETE", "/videos/{id}/sessions/{session}") => "end_session",
        ("POST", "/uploads" | "/s3/multipart") | ("GET", "/s3/params") => "upload",
        ("POST", "/s3/sign") => "sign_upload_request",
        ("GET", "/uploads/{id}/parts/{n}" | "/s3/multipart/{upload_id}/{part_number}") => "part",
        ("GET", "/uploads/{id}/parts" | "/s3/multipart/{upload_id}") => "list_parts",
        ("POST", "/uploads/{id}/complete" | "/s3/multipart/{upload_id}/complete") => "complete",
        ("DELETE", "/uploads/{id}" | "/s3/multipart/{upload_id}") => "abort",
        ("POST", "/admin/revocations") => "revoke",
        ("DELETE", "/admin/revocations/{kind}/{id}") => "unrevoke",
        ("GET", _) if route.starts_with("/admin/") => "admin_view",
        _ => "other",
    }
}

/// `secs` since the epoch in RFC 3339; `None` (`null` in the event) where it cannot be written.
fn rfc3339(secs: i64) -> Option<String> {
    crate::clock::rfc3339(crate::clock::from_unix_secs(secs)?)
}

/// The decision an answer carries, and its refusal code, counted in the metrics.
fn count(action: &'static str, response: &Response) -> (&'static str, Option<&'static str>) {
    let refusal = response.extensions().get::<RefusalCode>().map(|c| c.0);
    let decision = if refusal.is_none() && response.status().is_success() {
        "granted"
    } else {
        "refused"
    };
    crate::metrics::Metrics::global().decision(action, decision, refusal.unwrap_or(""));
    (decision, refusal)
}

/// The audit trail on the routes (inside the routing, which names the route): a slot for the
/// handlers, then one event for the answer. Its own small service rather than axum's
/// `from_fn`, which boxes the inner service and the future of every request.
#[derive(Clone)]
pub struct RecordLayer {
    /// `None`: a router without the app (the middleware's own unit tests), nothing to record.
    state: Option<AppState>,
}

impl RecordLayer {
    pub fn new(state: Option<AppState>) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Record {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Record<S> {
    inner: S,
    state: Option<AppState>,
}

impl<S> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RecordFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Some(state) = &self.state else {
            return RecordFuture::new(self.inner.call(request), None);
        };
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str);
        let action = action(request.method(), route);
        // Not a decision (health, metrics, the demo page, no route): not audited.
        if action == "other" {
            return RecordFuture::new(self.inner.call(request), None);
        }
        // Nobody reads events (no file, and the `audit` target filtered out): only counted.
        if !state.audit.wants_events() {
            let future = self.inner.call(request);
            return RecordFuture::new(future, Some(Pending::Count(action)));
        }
        let route = route.to_owned();
        let (request, event) = EventStart::new(state, action, route, request);
        let future = self.inner.call(request);
        RecordFuture::new(future, Some(Pending::Event(Box::new(event))))
    }
}

/// What is left to do once the answer is known.
enum Pending {
    /// Count the decision.
    Count(&'static str),
    /// Count it and write its event.
    Event(Box<EventStart>),
}

pin_project_lite::pin_project! {
    pub struct RecordFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F> RecordFuture<F> {
    fn new(inner: F, pending: Option<Pending>) -> Self {
        Self { inner, pending }
    }
}

impl<F, E> Future for RecordFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &answer {
            match this.pending.take() {
                Some(Pending::Count(action)) => {
                    count(action, response);
                }
                Some(Pending::Event(event)) => event.finish(response),
                None => {}
            }
        }
        Poll::Ready(answer)
    }
}

/// What an event knows before the answer: the request's side.
struct EventStart {
    state: AppState,
    action: &'static str,
    slot: AuditSlot,
    method: Method,
    route: String,
    request_id: Option<String>,
    user_agent: Option<String>,
    client_ip: Option<IpAddr>,
}

impl EventStart {
    /// Reads `request`, and leaves a slot in it for the handlers.
    fn new(
        state: &AppState,
        action: &'static str,
        route: String,
        mut request: Request,
    ) -> (Request, Self) {
        let slot = AuditSlot::read();
        request.extensions_mut().insert(slot.clone());
        let request_id = request
            .headers()
            .get(&crate::telemetry::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let user_agent = request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>());
        // The path names the video or the upload.
        let (mut parts, body) = request.into_parts();
        if let Some(params) = path_params(&mut parts) {
            let videos = route.starts_with("/videos/");
            slot.update(|details| {
                for (name, value) in &params {
                    match name {
                        "id" if videos => details.video = Some(value.to_owned()),
                        "id" | "upload_id" if !route.starts_with("/admin/") => {
                            details.upload = Some(value.to_owned());
                        }
                        _ => {}
                    }
                }
            });
        }
        let request = Request::from_parts(parts, body);
        let client_ip = state
            .controls
            .trusted_proxies()
            .of_request(request.extensions(), request.headers());
        let start = Self {
            state: state.clone(),
            action,
            slot,
            method: request.method().clone(),
            route,
            request_id,
            user_agent,
            client_ip,
        };
        (request, start)
    }

    /// Counts the decision and writes its event.
    fn finish(self, response: &Response) {
        let details = self.slot.take();
        let (decision, refusal) = count(self.action, response);
        self.state.audit.write(&Event {
            time: self.state.clock.now(),
            request_id: self.request_id.as_deref(),
            action: self.action,
            method: self.method.as_str(),
            route: &self.route,
            decision,
            code: refusal,
            status: response.status().as_u16(),
            subject: details.subject.as_deref(),
            video: details.video.as_deref(),
            upload: details.upload.as_deref(),
            key: details.key.as_deref(),
            target: details.target.as_deref(),
            expires_at: details.expires_at,
            client_ip: self.client_ip,
            user_agent: self.user_agent.as_deref(),
        });
    }
}

/// The path's parameters, as the router matched them. Axum's extractor only reads the
/// request's extensions: it is ready when first polled, and never waits.
fn path_params(parts: &mut axum::http::request::Parts) -> Option<RawPathParams> {
    let future = std::pin::pin!(RawPathParams::from_request_parts(parts, &()));
    match future.poll(&mut Context::from_waker(std::task::Waker::noop())) {
        Poll::Ready(Ok(params)) => Some(params),
        Poll::Ready(Err(_)) | Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's lines are what `serde_json::json!` wrote for the same event.
    #[test]
    fn file_lines_are_serde_jsons_objects() {
        let full = Event {
            time: SystemTime::UNIX_EPOCH + std::time::Duration::new(1_796_094_306, 5_000),
            request_id: Some("7f"),
            action: "playback",
            method: "GET",
            route: "/videos/{id}/url",
            decision: "refused",
            code: Some("not_entitled"),
            status: 403,
            subject: Some("al\"ice\u{1}"),
            video: Some("v-1"),
            upload: Some("u-1"),
            key: Some("videos/v-1"),
            target: Some("subject:bob"),
            expires_at: Some(1_796_094_606),
            client_ip: Some(IpAddr::from([192, 0, 2, 1])),
            user_agent: Some("curl/8 \u{2028} é"),
        };
        let bare = Event {
            request_id: None,
            code: None,
            subject: None,
            video: None,
            upload: None,
            key: None,
            target: None,
            expires_at: None,
            client_ip: None,
            user_agent: None,
            ..full
        };
        for event in [full, bare] {
            let expected = serde_json::json!({
                "time": OffsetDateTime::from(event.time).format(&Rfc3339).ok(),
                "request_id": event.request_id,
                "action": event.action,
                "method": event.method,
                "route": event.route,
                "decision": event.decision,
                "code": event.code,
                "status": event.status,
                "subject": event.subject,
                "video": event.video,
                "upload": event.upload,
                "key": event.key,
                "target": event.target,
                "expires_at": event.expires_at.and_then(rfc3339),
                "client_ip": event.client_ip.map(|ip| ip.to_string()),
                "user_agent": event.user_agent,
            });
            let line = String::from_utf8(event.to_json()).unwrap();
            assert_eq!(line, expected.to_string());
        }
    }

    #[test]
    fn the_file_rotates_by_size_and_keeps_so_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut file = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..10 {
            file.write_line(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(30)).as_bytes())
                .unwrap();
        }
        file.out.flush().unwrap();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert!(read(&path).len() <= 100);
        assert!(read(&file.rotated(1)).len() <= 100);
        assert!(file.rotated(2).exists());
        assert!(!file.rotated(3).exists(), "only two rotated files are kept");
        // The newest lines are in the current file, whole.
        let last = read(&path).lines().last().unwrap().to_owned();
        assert!(last.starts_with("{\"n\":9,"), "{last}");
        for p in [&path, &file.rotated(1), &file.rotated(2)] {
            for line in read(p).lines() {
                serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
        }
    }

    #[test]
    fn every_audited_route_names_its_action() {
        for (method, route, expected) in [
            (Method::GET, "/videos/{id}/url", "playback_url"),
            (Method::GET, "/videos/{id}/hls/{*path}", "playlist"),
            (Method::POST, "/uploads", "upload"),
            (Method::POST, "/uploads/{id}/complete", "complete"),
            (Method::DELETE, "/s3/multipart/{upload_id}", "abort"),
            (Method::POST, "/admin/revocations", "revoke"),
            (Method::GET, "/admin/subjects/{sub}", "admin_view"),
        ] {
            assert_eq!(action(&method, route), expected, "{method} {route}");
        }
    }
}
