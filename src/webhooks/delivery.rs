//! Delivery: a bounded queue in front of one background task, which POSTs each event, retries
//! it with exponential backoff and full jitter, and drains what is left at shutdown.
//!
//! Requests never wait for a receiver: they put the event in the queue or, when it is full,
//! drop it (logged and counted). The queue is in memory: events still in it when the process
//! dies are lost (the README says so).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;

use super::{Message, WebhookSecret, WebhookSettings};
use crate::clock::{SharedClock, unix_secs};
use crate::metrics::Metrics;

/// Why webhooks could not be set up (settings validation catches the first two earlier).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhooks.secret is required with webhooks.url")]
    NoSecret,
    #[error("webhooks.secret {0}")]
    Secret(#[from] super::SecretError),
    #[error("webhooks.url is not a URL")]
    Url(#[source] url_error::ParseError),
    #[error("could not build the webhooks' HTTP client")]
    Client(#[source] reqwest::Error),
}

/// `url::ParseError`, as reqwest re-exports it.
mod url_error {
    pub type ParseError = <reqwest::Url as std::str::FromStr>::Err;
}

/// Where completions hand their events: cheap to clone, and a no-op without `webhooks.url`.
#[derive(Clone, Default)]
pub struct Webhooks {
    queue: Option<mpsc::Sender<Message>>,
    pending: Pending,
}

/// The ids of the events queued or being delivered. An event whose id is pending is not queued
/// again: the receiver would drop the copy anyway (same `webhook-id`), and one uploader
/// repeating `POST /uploads/{id}/complete` could otherwise fill the queue with copies and
/// crowd out everyone else's events. Holds at most `queue_capacity + max_in_flight` ids.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<HashSet<String>>>);

impl Pending {
    /// Marks `id` pending; false if it already was.
    fn claim(&self, id: &str) -> bool {
        self.ids().insert(id.to_owned())
    }

    fn release(&self, id: &str) {
        self.ids().remove(id);
    }

    fn ids(&self) -> MutexGuard<'_, HashSet<String>> {
        // Nothing can leave the set half-changed: a poisoned lock is still a consistent set.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops the delivery task at shutdown, after it delivered what it could.
pub struct Drain {
    stop: oneshot::Sender<Instant>,
    worker: JoinHandle<()>,
}

impl Webhooks {
    /// No webhooks: every event is ignored.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// The queue and its delivery task (spawned on the current runtime), or nothing when
    /// `webhooks.url` is unset.
    pub fn start(
        settings: &WebhookSettings,
        clock: SharedClock,
    ) -> Result<(Self, Option<Drain>), WebhookError> {
        let Some(url) = &settings.url else {
            return Ok((Self::disabled(), None));
        };
        let secret = settings.secret.as_ref().ok_or(WebhookError::NoSecret)?;
        let secret = WebhookSecret::parse(secret.expose())?;
        let url = reqwest::Url::parse(url).map_err(WebhookError::Url)?;
        let http = reqwest::Client::builder()
            // The specification: a redirect is a failure, and the URL is to be fixed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(WebhookError::Client)?;
        tracing::info!(
            host = url.host_str().unwrap_or_default(),
            "webhooks on: completed uploads are announced"
        );
        let sender = Arc::new(Sender {
            http,
            url,
            secret,
            clock,
            retry: Retry {
                max_attempts: settings.max_attempts,
                base: settings.backoff_base(),
                max: settings.backoff_max(),
            },
            attempt_timeout: settings.attempt_timeout(),
        });
        let (queue, received) = mpsc::channel(settings.queue_capacity);
        let (stop, stopped) = oneshot::channel();
        let pending = Pending::default();
        let worker = tokio::spawn(run(
            received,
            sender,
            pending.clone(),
            settings.max_in_flight,
            stopped,
        ));
        Ok((
            Self {
                queue: Some(queue),
                pending,
            },
            Some(Drain { stop, worker }),
        ))
    }

    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `message` without waiting, unless an event with its id is still queued or being
    /// delivered: when the queue is full (or closed at shutdown) it is dropped, logged and
    /// counted.
    pub fn send(&self, message: Message) {
        let Some(queue) = &self.queue else {
            return;
        };
        if !self.pending.claim(&message.id) {
            tracing::debug!(webhook_id = %message.id, "webhook event already pending: not queued again");
            return;
        }
        let (reason, message) = match queue.try_send(message) {
            Ok(()) => return,
            Err(TrySendError::Full(message)) => ("queue_full", message),
            Err(TrySendError::Closed(message)) => ("closed", message),
        };
        self.pending.release(&message.id);
        tracing::warn!(
            webhook_id = %message.id,
            event = message.kind,
            reason,
            "webhook event dropped"
        );
        Metrics::global().webhook_dropped(reason);
    }
}

impl Drain {
    /// Takes no new events, delivers those queued and in flight (retries included) until
    /// `deadline`, then gives up on the rest (logged and counted as abandoned).
    pub async fn finish(self, deadline: Instant) {
        if self.stop.send(deadline).is_err() {
            return;
        }
        // The task returns by the deadline; the margin only guards against a stuck runtime.
        match tokio::time::timeout_at(deadline + Duration::from_secs(1), self.worker).await {
            Ok(ended) => report(ended),
            Err(_) => tracing::error!("webhook delivery did not stop at the shutdown deadline"),
        }
    }
}

/// The delivery task: takes events while a slot is free, and at the stop signal closes the
/// queue, delivers what is left until the deadline, and abandons the rest.
async fn run(
    mut queue: mpsc::Receiver<Message>,
    sender: Arc<Sender>,
    pending: Pending,
    max_in_flight: usize,
    mut stop: oneshot::Receiver<Instant>,
) {
    let mut in_flight = JoinSet::new();
    let mut queue_open = true;
    let mut stop_armed = true;
    let mut deadline = None;
    while queue_open || !in_flight.is_empty() {
        tokio::select! {
            Some(ended) = in_flight.join_next(), if !in_flight.is_empty() => report(ended),
            received = queue.recv(), if queue_open && in_flight.len() < max_in_flight => {
                match received {
                    Some(message) => {
                        let (sender, pending) = (Arc::clone(&sender), pending.clone());
                        in_flight.spawn(async move {
                            sender.deliver(&message).await;
                            // Delivered or given up: a completion repeated from now on is
                            // announced again.
                            pending.release(&message.id);
                        });
                    }
                    // Closed and emptied: no event can come any more.
                    None => queue_open = false,
                }
            }
            signal = &mut stop, if stop_armed => {
                stop_armed = false;
                // A dropped `Drain` (an app never run) is no stop: deliver as usual.
                if let Ok(at) = signal {
                    queue.close();
                    deadline = Some(at);
                    tracing::info!(
                        queued = queue.len(),
                        in_flight = in_flight.len(),
                        "shutdown: delivering the webhook events left"
                    );
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                let abandoned = queue.len() + in_flight.len();
                in_flight.shutdown().await;
                tracing::warn!(abandoned, "shutdown grace over: webhook events abandoned");
                let metrics = Metrics::global();
                for _ in 0..abandoned {
                    metrics.webhook_delivery("abandoned");
                }
                return;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn report(ended: Result<(), JoinError>) {
    if let Err(e) = ended
        && e.is_panic()
    {
        tracing::error!(error = %e, "webhook delivery panicked");
    }
}

/// `webhooks.max_attempts` and the backoff bounds.
#[derive(Debug, Clone, Copy)]
struct Retry {
    max_attempts: u32,
    base: Duration,
    max: Duration,
}

impl Retry {
    /// The pause after failed attempt `failed` (1 for the first): drawn uniformly from
    /// `[0, min(max, base·2^(failed−1))]` by `unit` in `[0, 1]` ("full jitter", so that
    /// receivers recovering from an outage are not hit by every sender at once), yet never
    /// shorter than the receiver's `Retry-After`, itself capped at `max`.
    fn pause_after(self, failed: u32, unit: f64, retry_after: Option<Duration>) -> Duration {
        let ceiling = 2u32
            .checked_pow(failed.saturating_sub(1))
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.max, |bound| bound.min(self.max));
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let jittered = ceiling.mul_f64(unit);
        retry_after.map_or(jittered, |asked| jittered.max(asked.min(self.max)))
    }
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("no answer within the attempt timeout")]
    Timeout,
    #[error("request failed")]
    Network(#[source] reqwest::Error),
    #[error("answered {0}")]
    Status(StatusCode, Option<Duration>),
}

impl AttemptError {
    /// The attempts metric's `result` label.
    fn label(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Network(_) => "network",
            Self::Status(..) => "non_2xx",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status(_, after) => *after,
            _ => None,
        }
    }
}

/// Sends one event, attempt after attempt.
struct Sender {
    http: reqwest::Client,
    url: reqwest::Url,
    secret: WebhookSecret,
    clock: SharedClock,
    retry: Retry,
    attempt_timeout: Duration,
}

impl Sender {
    /// Attempts until one is answered 2xx or `max_attempts` failed, with the same id and body
    /// every time (a fresh timestamp and signature each).
    async fn deliver(&self, message: &Message) {
        let metrics = Metrics::global();
        for attempt in 1..=self.retry.max_attempts {
            let failure = match self.attempt(message).await {
                Ok(()) => {
                    metrics.webhook_attempt("ok");
                    metrics.webhook_delivery("delivered");
                    tracing::debug!(webhook_id = %message.id, attempt, "webhook delivered");
                    return;
                }
                Err(failure) => failure,
            };
            metrics.webhook_attempt(failure.label());
            if attempt == self.retry.max_attempts {
                break;
            }
            let pause = self.retry.pause_after(
                attempt,
                crate::jitter::random_unit(),
                failure.retry_after(),
            );
            tracing::info!(
                webhook_id = %message.id,
                attempt,
                error = %crate::telemetry::error_chain(&failure),
                retry_in = ?pause,
                "webhook attempt failed"
            );
            tokio::time::sleep(pause).await;
        }
        metrics.webhook_delivery("exhausted");
        tracing::warn!(
            webhook_id = %message.id,
            event = message.kind,
            attempts = self.retry.max_attempts,
            "webhook not delivered: every attempt failed"
        );
    }

    /// One signed POST, answered 2xx within the attempt timeout or failed.
    async fn attempt(&self, message: &Message) -> Result<(), AttemptError> {
        // The timestamp of the attempt, not of the event: receivers refuse stale ones.
        let timestamp = unix_secs(self.clock.now());
        let signature = self.secret.sign(&message.id, timestamp, &message.body);
        let response = self
            .http
            .post(self.url.clone())
            .timeout(self.attempt_timeout)
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.clone())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    AttemptError::Timeout
                } else {
                    // Its URL may carry a token in its query: not for the logs.
                    AttemptError::Network(e.without_url())
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(AttemptError::Status(
                status,
                retry_after(response.headers()),
            ))
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by receivers worth the parsing).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Retry = Retry {
        max_attempts: 10,
        base: Duration::from_millis(100),
        max: Duration::from_secs(2),
    };

    #[test]
    fn pauses_double_up_to_the_cap_and_jitter_spans_all_of_it() {
        let ceilings: Vec<u128> = (1..=7)
            .map(|failed| RETRY.pause_after(failed, 1.0, None).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000]);
        for failed in [1, 4, 30, 31, 32, 1000, u32::MAX] {
            assert_eq!(RETRY.pause_after(failed, 0.0, None), Duration::ZERO);
            assert!(RETRY.pause_after(failed, 1.0, None) <= RETRY.max);
        }
        assert_eq!(RETRY.pause_after(3, 0.5, None), Duration::from_millis(200));
        // Out-of-range draws cannot make a pause longer than its bound, or panic.
        assert_eq!(RETRY.pause_after(1, 7.0, None), Duration::from_millis(100));
        assert_eq!(RETRY.pause_after(1, f64::NAN, None), Duration::ZERO);
    }

    #[test]
    fn retry_after_lengthens_a_pause_up_to_the_cap_only() {
        let asked = Some(Duration::from_secs(1));
        assert_eq!(RETRY.pause_after(1, 0.0, asked), Duration::from_secs(1));
        assert_eq!(
            RETRY.pause_after(1, 0.0, Some(Duration::from_secs(3600))),
            RETRY.max
        );
        assert_eq!(
            RETRY.pause_after(6, 1.0, Some(Duration::from_millis(10))),
            RETRY.max
        );
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
