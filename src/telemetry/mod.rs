//! Logging setup, request ids, and redaction of what must never reach a log line.

use axum::http::HeaderName;
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, filter_fn};
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use serde::{Deserialize, Serialize};

mod json;

pub use json::{JsonLines, JsonSpanFields};

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Query parameters of a presigned URL that grant access: redacted from logs.
const SECRET_QUERY_PARAMS: [&str; 3] = [
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
];

/// Targets that print secrets when verbose, and the most verbose level they may log at, whatever
/// the filter (`RUST_LOG` included): the AWS SDK's signer prints canonical requests (credential
/// scope, session token) at `trace`, its runtime signed request headers; the embedded store (s3s)
/// prints whole requests, `Authorization` headers and presigned query strings, at `debug`, and
/// s3s-fs opens a span at `info` for each operation holding the whole request (`#[instrument]`),
/// which any line logged inside it would carry.
const SECRET_BEARING_TARGETS: [(&str, Level); 3] = [
    ("aws_sigv4", Level::DEBUG),
    ("aws_smithy_runtime", Level::DEBUG),
    ("s3s", Level::WARN), // and s3s_fs
];

/// Drops the events of [`SECRET_BEARING_TARGETS`] above their level. A filter, not `EnvFilter`
/// directives: a directive for a target would also *raise* it above the configured level.
pub fn secret_filter() -> FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool + Clone> {
    filter_fn(|meta| {
        // The embedded store reports every request it refuses as an ERROR of its own: a hostile
        // client's 403, and the upload key's expected 403 at each readiness probe. They are the
        // store's answers, which tollgate logs from its side where they matter.
        let store_refusal = meta.target() == "s3s::ops" && *meta.level() == Level::ERROR;
        !store_refusal
            && !SECRET_BEARING_TARGETS
                .iter()
                .any(|(target, max)| meta.target().starts_with(target) && meta.level() > max)
    })
}

/// The `json` format, writing to `writer`: one line per event, its fields at the top level, and
/// the request's span (method, path, request id) once, under `span` ([`JsonLines`]).
pub fn json_layer<S, W>(writer: W) -> fmt::Layer<S, JsonSpanFields, JsonLines, W>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fmt::layer()
        .fmt_fields(JsonSpanFields)
        .event_format(JsonLines)
        .with_writer(writer)
}

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(settings: &LogSettings) {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.filter.clone());
    let registry = tracing_subscriber::registry().with(EnvFilter::new(directives));
    let _ = match settings.format {
        LogFormat::Json => registry
            .with(json_layer(std::io::stdout).with_filter(secret_filter()))
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_filter(secret_filter()))
            .try_init(),
    };
}

/// The span of one request: method, path (never the query or headers) and request id.
pub fn make_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

/// A URL with its access-granting query values replaced by `REDACTED`, safe to log.
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            if SECRET_QUERY_PARAMS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
            {
                format!("{name}=REDACTED")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{base}?{}", redacted.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_signature_credential_and_token() {
        let url = "http://s3/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2024&X-Amz-Security-Token=tok&X-Amz-Signature=abc&x-id=GetObject";
        let redacted = redact_url(url);
        assert_eq!(
            redacted,
            "http://s3/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED&x-id=GetObject"
        );
        assert_eq!(redact_url("http://s3/b/k"), "http://s3/b/k");
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` for humans, `json` for log shippers.
    pub format: LogFormat,
    /// tracing `EnvFilter` directives; `RUST_LOG` wins when set.
    pub filter: String,
}

/// `outer: inner: innermost`, for the log line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
