use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, IdentityCache, Region, SharedCredentialsProvider,
};
use aws_sdk_s3::error::SdkError;

use super::credentials::{CachedProvider, CredentialsCache};
use super::{StorageError, StorageErrorKind};
use super::{StorageSettings, StoreKeySettings};
use crate::clock::SharedClock;

/// Longest wait for a TCP connection to the store, whatever the attempt timeout: a store that
/// does not accept within this is down, and the attempt's remaining time is better spent on a
/// retry.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// First pause before a retry; the SDK doubles it per attempt with full jitter, capped at 20 s
/// (which `operation_timeout_ms` cuts short anyway).
const RETRY_INITIAL_BACKOFF: Duration = Duration::from_millis(50);

/// Two clients over one key: `internal` for tollgate's own calls, `public` for
/// presigning (its endpoint is the host written into URLs).
#[derive(Clone)]
pub struct S3Clients {
    pub internal: Client,
    pub public: Client,
    pub credentials: Arc<CredentialsCache>,
}

impl S3Clients {
    /// Clients signing with `key` (`None`: the AWS default chain). `endpoint` overrides
    /// `settings.endpoint` (the embedded store's address).
    pub async fn new(
        settings: &StorageSettings,
        key: Option<StoreKeySettings>,
        endpoint: Option<String>,
        clock: SharedClock,
    ) -> Result<Self, StorageError> {
        let source = match key {
            Some(key) => SharedCredentialsProvider::new(Credentials::new(
                key.access_key,
                key.secret_key.expose(),
                None,
                None,
                "tollgate-config",
            )),
            None => aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(settings.region.clone()))
                .load()
                .await
                .credentials_provider()
                .ok_or_else(|| {
                    StorageError::new(
                        StorageErrorKind::Credentials,
                        "no AWS credentials provider found",
                    )
                })?,
        };
        let credentials = Arc::new(CredentialsCache::new(
            source,
            clock,
            settings.operation_timeout(),
        ));
        let base = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(CachedProvider(Arc::clone(&credentials)))
            .identity_cache(IdentityCache::no_cache())
            .interceptor(super::store_metrics::StoreMetrics)
            .force_path_style(settings.force_path_style)
            // A slow or silent store costs a request at most `operation_timeout`: each attempt
            // is cut at `attempt_timeout` (connecting included), and only retryable failures
            // are retried, with the SDK's exponential backoff and full jitter.
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.attempt_timeout().min(MAX_CONNECT_TIMEOUT))
                    .operation_attempt_timeout(settings.attempt_timeout())
                    .operation_timeout(settings.operation_timeout())
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts)
                    .with_initial_backoff(RETRY_INITIAL_BACKOFF),
            );
        let endpoint = endpoint.or_else(|| settings.endpoint.clone());
        let public_endpoint = settings
            .public_endpoint
            .clone()
            .or_else(|| endpoint.clone());
        let with_endpoint = |url: Option<String>| {
            let builder = base.clone();
            Client::from_conf(match url {
                Some(url) => builder.endpoint_url(url).build(),
                None => builder.build(),
            })
        };
        Ok(Self {
            internal: with_endpoint(endpoint),
            public: with_endpoint(public_endpoint),
            credentials,
        })
    }
}

/// Maps an SDK failure to what the handler needs to know: forbidden or unavailable.
pub(super) fn classify<E: std::error::Error + Send + Sync + 'static>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    operation: &str,
) -> StorageError {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let kind = match status {
        Some(401 | 403) => StorageErrorKind::Forbidden,
        _ => StorageErrorKind::Unavailable,
    };
    let detail = format!(
        "{operation}: {} (status {status:?})",
        crate::telemetry::error_chain(err)
    );
    StorageError::new(kind, detail)
}
