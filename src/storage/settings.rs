//! The store's settings (`[storage]`), their validation, and the URL checks the rest of the
//! configuration shares.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Longest `storage.operation_timeout_ms`: a store call slower than a minute is an outage, and
/// `server.request_timeout_secs` ends the request before then anyway.
const MAX_STORE_TIMEOUT_MS: u64 = 60_000;
/// Most `storage.max_attempts`: more only multiplies the load on a struggling store.
const MAX_STORE_ATTEMPTS: u32 = 10;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub bucket: String,
    pub region: String,
    /// Endpoint tollgate calls; `None` means AWS. Replaced by the embedded store's address.
    pub endpoint: Option<String>,
    /// Host written into presigned URLs; defaults to `endpoint`.
    pub public_endpoint: Option<String>,
    pub force_path_style: bool,
    /// Who writes presigned URLs: tollgate's own SigV4 signer or aws-sdk-s3.
    pub signer: crate::storage::SignerKind,
    /// The read key: signs playback (GET) URLs and reads object metadata. Needs `s3:GetObject`
    /// (and `s3:ListBucket`, so that a missing object is a 404). When unset, the AWS default
    /// chain (env, profile, IMDS, …) is used.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// The upload key: signs upload and multipart URLs and creates, completes and aborts
    /// multipart uploads. Needs `s3:PutObject` and `s3:AbortMultipartUpload`, and must not be
    /// able to read: a presigned URL carries its signer's permissions, so a store that lets a
    /// client turn an upload URL into a copy still cannot read through it. Unset: the read key
    /// signs uploads too (development only; refused in production unless
    /// `allow_upload_key_read`).
    pub upload_access_key_id: Option<String>,
    pub upload_secret_access_key: Option<Secret>,
    /// Accept an upload key that can read objects (production refuses to start otherwise).
    pub allow_upload_key_read: bool,
    /// Object key of video `{id}` is `key_prefix + id`.
    pub key_prefix: String,
    pub metadata_cache_ttl_secs: u64,
    pub metadata_cache_capacity: u64,
    pub not_found_cache_ttl_secs: u64,
    pub readiness_timeout_ms: u64,
    /// Milliseconds one attempt of a store call may take (connecting included) before it is
    /// abandoned and, within `operation_timeout_ms`, retried.
    pub attempt_timeout_ms: u64,
    /// Milliseconds a store call may take in all, its retries included: past it the request
    /// is answered `503 storage_unavailable` with `Retry-After`.
    pub operation_timeout_ms: u64,
    /// Attempts of one store call (1: no retry), with the SDK's exponential backoff and jitter
    /// between them. Only failures worth retrying are (timeouts, connection errors, 5xx,
    /// throttling).
    pub max_attempts: u32,
    /// `/readyz` asks the store at most once per this many milliseconds (it writes the probe
    /// object), whoever calls it.
    pub readiness_cache_ms: u64,
    pub embedded: EmbeddedStoreSettings,
}

/// A static access key of the store.
#[derive(Debug, Clone)]
pub struct StoreKeySettings {
    pub access_key: String,
    pub secret_key: Secret,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedStoreSettings {
    /// Run s3s-fs in-process (feature `embedded-store`).
    pub enabled: bool,
    /// Loopback address of the embedded store; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Where the embedded store keeps objects (one folder per bucket).
    pub data_dir: PathBuf,
    /// Browser origins allowed to use presigned URLs on the embedded store (a bucket CORS
    /// rule): exact origins, `scheme://host:*` for any port, or `["*"]`; empty for none.
    pub cors_origins: Vec<String>,
}

impl StorageSettings {
    pub(crate) fn validate(
        &self,
        production: bool,
        uploads_enabled: bool,
        problems: &mut Vec<String>,
    ) {
        if !is_valid_bucket_name(&self.bucket) {
            problems.push(format!(
                "storage.bucket {:?} is not a valid bucket name (3-63 of a-z 0-9 . -)",
                self.bucket
            ));
        }
        if self.region.trim().is_empty() {
            problems.push("storage.region must not be empty".to_owned());
        }
        for (name, value) in [
            ("endpoint", &self.endpoint),
            ("public_endpoint", &self.public_endpoint),
        ] {
            if let Some(Err(e)) = value.as_deref().map(|url| check_url(url, false)) {
                problems.push(format!("storage.{name}: {e}"));
            }
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            problems
                .push("storage.access_key_id and storage.secret_access_key go together".to_owned());
        }
        if self.upload_access_key_id.is_some() != self.upload_secret_access_key.is_some() {
            problems.push(
                "storage.upload_access_key_id and storage.upload_secret_access_key go together"
                    .to_owned(),
            );
        }
        if production && uploads_enabled && !self.has_upload_key() && !self.allow_upload_key_read {
            problems.push(
                "storage.upload_access_key_id is required in production: upload URLs must be signed by a key that cannot read objects (or set storage.allow_upload_key_read = true)"
                    .to_owned(),
            );
        }
        if let Err(e) = crate::domain::ObjectKey::check_prefix(&self.key_prefix) {
            problems.push(format!("storage.key_prefix: {e}"));
        }
        if self.metadata_cache_capacity == 0 {
            problems.push("storage.metadata_cache_capacity must be positive".to_owned());
        }
        if self.readiness_timeout_ms == 0 {
            problems.push("storage.readiness_timeout_ms must be positive".to_owned());
        }
        if !(1..=MAX_STORE_TIMEOUT_MS).contains(&self.attempt_timeout_ms)
            || !(self.attempt_timeout_ms..=MAX_STORE_TIMEOUT_MS)
                .contains(&self.operation_timeout_ms)
        {
            problems.push(format!(
                "storage.attempt_timeout_ms ({}) and storage.operation_timeout_ms ({}) must satisfy 1 <= attempt <= operation <= {MAX_STORE_TIMEOUT_MS}",
                self.attempt_timeout_ms, self.operation_timeout_ms
            ));
        }
        if !(1..=MAX_STORE_ATTEMPTS).contains(&self.max_attempts) {
            problems.push(format!(
                "storage.max_attempts must be 1..={MAX_STORE_ATTEMPTS}, got {}",
                self.max_attempts
            ));
        }
        if self.embedded.enabled {
            if production {
                problems.push("storage.embedded.enabled must be false in production".to_owned());
            }
            if !cfg!(feature = "embedded-store") {
                problems.push(
                    "storage.embedded.enabled is true but this build lacks the `embedded-store` feature".to_owned(),
                );
            }
            if self.access_key_id.is_none() {
                problems.push(
                    "the embedded store needs storage.access_key_id and storage.secret_access_key"
                        .to_owned(),
                );
            }
            if !self.embedded.addr.ip().is_loopback() {
                problems.push(format!(
                    "storage.embedded.addr must be a loopback address, got {}",
                    self.embedded.addr
                ));
            }
        }
    }

    pub fn readiness_timeout(&self) -> Duration {
        Duration::from_millis(self.readiness_timeout_ms)
    }

    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }

    pub fn operation_timeout(&self) -> Duration {
        Duration::from_millis(self.operation_timeout_ms)
    }

    /// The read key, when static credentials are configured.
    pub fn read_key(&self) -> Option<StoreKeySettings> {
        key_pair(self.access_key_id.as_ref(), self.secret_access_key.as_ref())
    }

    /// The upload key, when one is configured apart from the read key.
    pub fn upload_key(&self) -> Option<StoreKeySettings> {
        key_pair(
            self.upload_access_key_id.as_ref(),
            self.upload_secret_access_key.as_ref(),
        )
    }

    /// Whether upload URLs are signed by a key of their own.
    pub fn has_upload_key(&self) -> bool {
        self.upload_access_key_id.is_some()
    }
}

fn key_pair(id: Option<&String>, secret: Option<&Secret>) -> Option<StoreKeySettings> {
    Some(StoreKeySettings {
        access_key: id?.clone(),
        secret_key: secret?.clone(),
    })
}

/// Bucket naming rules shared by AWS, MinIO and Garage (the strict subset).
fn is_valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric)
        && name
            .as_bytes()
            .last()
            .is_some_and(u8::is_ascii_alphanumeric)
}

/// http(s) URL with a host; with `https_unless_loopback`, plain http only towards loopback.
pub(crate) fn check_url(raw: &str, https_unless_loopback: bool) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("{raw:?} has no host"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if !https_unless_loopback => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(format!(
            "{raw:?} must use https (http is accepted only on loopback)"
        )),
        other => Err(format!("{raw:?} has unsupported scheme {other:?}")),
    }
}

pub(crate) fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
