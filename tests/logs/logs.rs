//! What reaches the logs: never a token, a URL signature, a credential or a security token.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::helpers::{Meta, spawn_app};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// tollgate's subscriber (as `telemetry::init` builds it) for `directives`, writing to `captured`.
fn subscriber(directives: &str, captured: &Captured) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry()
        .with(EnvFilter::new(directives))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(captured.clone())
                .with_filter(tollgate::telemetry::secret_filter()),
        )
}

/// The `json` format: one JSON object per line, the request's span once under `span` (not
/// again in a `spans` list), the event's own fields at the top level.
#[tokio::test]
async fn json_lines_carry_the_request_span_once() {
    let _serial = crate::ONE_AT_A_TIME.lock().await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(
            tollgate::telemetry::json_layer(captured.clone())
                .with_filter(tollgate::telemetry::secret_filter()),
        );
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = spawn_app().await;
    app.put_video("gold-1", b"gold", Meta::tier("gold")).await;
    app.granted_url("gold-1", &app.token("alice", &["gold"], &[]))
        .await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let access: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["message"] == "finished processing request"
                && l["span"]["path"] == "/videos/gold-1/url"
        })
        .collect();
    assert_eq!(access.len(), 1, "{logs}");
    let line = access[0];
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["span"]["method"], "GET", "{line}");
    assert!(line["span"]["request_id"].is_string(), "{line}");
    assert!(line.get("spans").is_none(), "{line}");
}

#[tokio::test]
async fn the_default_filter_logs_nothing_more_verbose_than_info() {
    let _serial = crate::ONE_AT_A_TIME.lock().await;
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber("info", &captured));
    let app = spawn_app().await;
    app.put_video("gold-1", b"gold", Meta::tier("gold")).await;
    app.granted_url("gold-1", &app.token("alice", &["gold"], &[]))
        .await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("access granted"), "the capture works");
    // One access-log line per request, in the request's span: method, path, request id,
    // then the status and latency; never the query string.
    let access: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("finished processing request") && l.contains("/videos/gold-1/url"))
        .collect();
    assert_eq!(access.len(), 1, "{logs}");
    for field in [
        "INFO",
        "method=GET",
        "request_id=",
        "status=200",
        "latency=",
        " ms",
    ] {
        assert!(
            access[0].contains(field),
            "{field} is missing: {}",
            access[0]
        );
    }
    assert!(!access[0].contains('?'), "{}", access[0]);
    let verbose: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("DEBUG") || l.contains("TRACE"))
        .collect();
    assert!(verbose.is_empty(), "{}", verbose.join("\n"));
}

#[tokio::test]
async fn tokens_and_url_secrets_never_reach_the_logs_even_at_trace() {
    let _serial = crate::ONE_AT_A_TIME.lock().await;
    // With tollgate's own subscriber, as `RUST_LOG=trace` would give.
    let captured = Captured::default();
    let subscriber = subscriber("trace", &captured);
    // #[tokio::test] runs the app's tasks on this thread, so a thread-local subscriber sees them.
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await;
    app.put_video("gold-1", b"gold", Meta::tier("gold")).await;
    let token = app.token("alice", &["gold"], &[]);
    let url = app.granted_url("gold-1", &token).await;
    let (_, _) = app.video_url("gold-1", &format!("{token}x")).await;
    let (_, _) = app.video_url("gold-1", &app.token("bob", &[], &[])).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("access granted"), "the capture works");
    assert!(logs.contains("authentication failed"), "the capture works");
    assert!(
        logs.contains("X-Amz-Signature=REDACTED"),
        "the presign debug line is redacted"
    );

    let signature = url.split("X-Amz-Signature=").nth(1).unwrap();
    let secret_key = app
        .settings
        .storage
        .secret_access_key
        .as_ref()
        .unwrap()
        .expose();
    let token_signature = token.rsplit('.').next().unwrap();
    let access_key = app.settings.storage.access_key_id.clone().unwrap();
    let in_url = format!("{access_key}%2F");
    let in_header = format!("{access_key}/");
    for (what, secret) in [
        ("URL signature", signature),
        ("token", token.as_str()),
        ("token signature", token_signature),
        ("store secret key", secret_key),
        ("credential in a URL", in_url.as_str()),
        ("credential in an Authorization header", in_header.as_str()),
    ] {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            leaks.is_empty(),
            "{what} leaked into the logs:\n{}",
            leaks.join("\n")
        );
    }
}
