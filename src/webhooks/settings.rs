//! `[webhooks]`: where completion events go, the key that signs them, and how hard tollgate
//! tries to deliver them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::WebhookSecret;
use crate::secret::Secret;

/// Most attempts per event: beyond this a receiver that never answers keeps a delivery slot
/// for hours.
pub const MAX_ATTEMPTS: u32 = 100;
/// Longest pause between two attempts, and longest wait for one attempt's answer.
pub const MAX_BACKOFF_MS: u64 = 3_600_000;
pub const MAX_ATTEMPT_TIMEOUT_MS: u64 = 300_000;
/// Bounds of the queue and of the deliveries running at once.
pub const MAX_QUEUE_CAPACITY: usize = 1_000_000;
pub const MAX_IN_FLIGHT: usize = 1024;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where every event is POSTed (http or https); unset: no webhooks. Printed (`tollgate
    /// check-config`) as its origin only: a receiver's path or query may hold its token.
    #[serde(serialize_with = "origin_only")]
    pub url: Option<String>,
    /// The Standard Webhooks signing secret, `whsec_` + base64 of 24 to 64 random bytes;
    /// required with `url`.
    pub secret: Option<Secret>,
    /// Attempts per event, the first included; then it is given up (and counted).
    pub max_attempts: u32,
    /// The pause after the first failed attempt is at most this; it doubles after each failure.
    pub backoff_base_ms: u64,
    /// …up to this. Each pause is drawn uniformly below its bound ("full jitter").
    pub backoff_max_ms: u64,
    /// One attempt's answer must start within this, or the attempt failed.
    pub attempt_timeout_ms: u64,
    /// Events waiting for delivery; a completion finding the queue full is dropped (logged and
    /// counted), never waited for.
    pub queue_capacity: usize,
    /// Events being delivered at once (each holds its slot through its retries).
    pub max_in_flight: usize,
}

impl WebhookSettings {
    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    pub fn backoff_base(&self) -> Duration {
        Duration::from_millis(self.backoff_base_ms)
    }

    pub fn backoff_max(&self) -> Duration {
        Duration::from_millis(self.backoff_max_ms)
    }

    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }

    /// Every problem, naming settings and never the secret's value.
    pub fn validate(&self, problems: &mut Vec<String>) {
        if let Some(url) = &self.url {
            if let Err(e) = check_url(url) {
                problems.push(format!("webhooks.url {e}"));
            }
            if self.secret.is_none() {
                problems.push(
                    "webhooks.secret is required with webhooks.url: receivers verify every event with it"
                        .to_owned(),
                );
            }
        }
        if let Some(Err(e)) = self
            .secret
            .as_ref()
            .map(|s| WebhookSecret::parse(s.expose()))
        {
            problems.push(format!("webhooks.secret {e}"));
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            problems.push(format!(
                "webhooks.max_attempts must be 1..={MAX_ATTEMPTS}, got {}",
                self.max_attempts
            ));
        }
        for (name, value, max) in [
            ("backoff_base_ms", self.backoff_base_ms, MAX_BACKOFF_MS),
            ("backoff_max_ms", self.backoff_max_ms, MAX_BACKOFF_MS),
            (
                "attempt_timeout_ms",
                self.attempt_timeout_ms,
                MAX_ATTEMPT_TIMEOUT_MS,
            ),
        ] {
            if !(1..=max).contains(&value) {
                problems.push(format!("webhooks.{name} must be 1..={max}, got {value}"));
            }
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            problems.push(format!(
                "webhooks.backoff_max_ms ({}) must be at least webhooks.backoff_base_ms ({})",
                self.backoff_max_ms, self.backoff_base_ms
            ));
        }
        for (name, value, max) in [
            ("queue_capacity", self.queue_capacity, MAX_QUEUE_CAPACITY),
            ("max_in_flight", self.max_in_flight, MAX_IN_FLIGHT),
        ] {
            if !(1..=max).contains(&value) {
                problems.push(format!("webhooks.{name} must be 1..={max}, got {value}"));
            }
        }
    }
}

/// `url` as `scheme://host[:port]/***`, or `***` when it is not a URL.
fn origin_only<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url.as_deref().map(reqwest::Url::parse) {
        None => s.serialize_none(),
        Some(Ok(url)) => s.serialize_some(&format!("{}/***", url.origin().ascii_serialization())),
        Some(Err(_)) => s.serialize_some("***"),
    }
}

/// An http(s) URL with a host, and without a fragment (never sent) or credentials (the signature
/// is what authenticates tollgate, and errors would print them). Plain http is allowed: the
/// signature protects the event's integrity, and receivers on a private network are common.
fn check_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must be http or https, got {:?}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must carry no credentials (user:password@)".to_owned());
    }
    if url.fragment().is_some() {
        return Err("must have no #fragment".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn settings() -> WebhookSettings {
        WebhookSettings {
            url: Some("https://hooks.example.com/tollgate".to_owned()),
            secret: Some(Secret::new(SECRET)),
            max_attempts: 12,
            backoff_base_ms: 1000,
            backoff_max_ms: 300_000,
            attempt_timeout_ms: 15_000,
            queue_capacity: 1024,
            max_in_flight: 8,
        }
    }

    fn problems(s: &WebhookSettings) -> String {
        let mut problems = Vec::new();
        s.validate(&mut problems);
        problems.join("\n")
    }

    #[test]
    fn http_and_https_urls_with_a_secret_are_accepted() {
        let mut s = settings();
        assert_eq!(problems(&s), "");
        for url in [
            "http://127.0.0.1:8081/hooks",
            "http://receiver.internal/hooks?source=tollgate",
            "https://[::1]:9000/",
        ] {
            s.url = Some(url.to_owned());
            assert_eq!(problems(&s), "", "{url}");
        }
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host_and_no_credentials() {
        let mut s = settings();
        for (url, why) in [
            ("ftp://hooks.example.com/", "must be http or https"),
            ("file:///etc/passwd", "must be http or https"),
            ("hooks.example.com/tollgate", "is not a URL"),
            ("https://", "is not a URL"),
            ("https://user:pw@hooks.example.com/", "no credentials"),
            ("https://hooks.example.com/#x", "no #fragment"),
        ] {
            s.url = Some(url.to_owned());
            let p = problems(&s);
            assert!(p.contains("webhooks.url") && p.contains(why), "{url}: {p}");
            assert!(!p.contains("pw@"), "{p}");
        }
    }

    #[test]
    fn a_url_needs_a_valid_secret_which_is_never_printed() {
        let mut s = settings();
        s.secret = None;
        assert!(problems(&s).contains("webhooks.secret is required with webhooks.url"));
        s.url = None;
        assert_eq!(problems(&s), "", "off: no secret needed");

        s.url = Some("https://hooks.example.com/".to_owned());
        for (secret, why) in [
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "must be \"whsec_\" followed by",
            ),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa$$", "is not base64"),
            ("whsec_c2hvcnQ=", "must hold 24..=64 bytes, got 5"),
        ] {
            s.secret = Some(Secret::new(secret));
            let p = problems(&s);
            assert!(
                p.contains(&format!("webhooks.secret {why}")),
                "{secret}: {p}"
            );
            assert!(!p.contains(secret), "{p}");
        }
    }

    #[test]
    fn only_the_urls_origin_is_printed() {
        let mut s = settings();
        s.url =
            Some("https://hooks.example.com:8443/T0001/B0001/xoxKEY?token=t0ps3cret".to_owned());
        let printed = serde_json::to_string(&s).unwrap();
        assert!(
            printed.contains(r#""url":"https://hooks.example.com:8443/***""#),
            "{printed}"
        );
        for hidden in ["xoxKEY", "t0ps3cret", "MfKQ9r8G"] {
            assert!(!printed.contains(hidden), "{printed}");
        }
        s.url = Some("not a url with xoxKEY".to_owned());
        let printed = serde_json::to_string(&s).unwrap();
        assert!(printed.contains(r#""url":"***""#), "{printed}");
        s.url = None;
        let printed = serde_json::to_string(&s).unwrap();
        assert!(printed.contains(r#""url":null"#), "{printed}");
    }

    #[test]
    fn retry_and_queue_bounds_are_checked() {
        let mut s = settings();
        s.max_attempts = 0;
        s.backoff_base_ms = 0;
        s.attempt_timeout_ms = MAX_ATTEMPT_TIMEOUT_MS + 1;
        s.queue_capacity = 0;
        s.max_in_flight = MAX_IN_FLIGHT + 1;
        let p = problems(&s);
        for expected in [
            "webhooks.max_attempts must be 1..=100, got 0",
            "webhooks.backoff_base_ms must be 1..=3600000, got 0",
            "webhooks.attempt_timeout_ms must be 1..=300000, got 300001",
            "webhooks.queue_capacity must be 1..=1000000, got 0",
            "webhooks.max_in_flight must be 1..=1024, got 1025",
        ] {
            assert!(p.contains(expected), "{expected}: {p}");
        }

        let mut s = settings();
        s.backoff_base_ms = 2000;
        s.backoff_max_ms = 1000;
        assert!(problems(&s).contains("backoff_max_ms (1000) must be at least"));
    }
}
