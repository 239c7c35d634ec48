//! What tollgate's own key may do, asked of the store itself. A presigned URL carries its
//! signer's permissions: signing with a key that cannot read (or write) hands out URLs that can
//! only fail, so such requests are refused (503 `storage_forbidden`) while the probe says so.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use super::client::classify;
use super::{StorageError, StorageErrorKind};

/// Name of the object the probes read and write, under `storage.key_prefix` (where a policy
/// scoped to the prefix lets the keys act; no video id contains a dot). The read probe does not
/// need it to exist (404 proves read permission as well as 200); the write probe stores it
/// empty.
pub const PROBE_NAME: &str = ".tollgate-probe";
/// While a capability is known missing, requests re-probe at most this often (so a fixed
/// permission is noticed without a restart, and a flood of requests is not a flood of probes).
const REPROBE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// GetObject: what playback URLs need.
    Read,
    /// PutObject: what upload URLs need.
    Write,
}

pub struct CapabilityProbe {
    capability: Capability,
    client: Client,
    bucket: String,
    key: String,
    region: String,
    /// Last known answer; starts optimistic so that a slow store does not block start-up.
    allowed: AtomicBool,
    last_reprobe: tokio::sync::Mutex<Option<Instant>>,
}

impl CapabilityProbe {
    pub fn new(
        capability: Capability,
        client: Client,
        bucket: String,
        key_prefix: &str,
        region: String,
    ) -> Self {
        Self {
            capability,
            client,
            bucket,
            key: format!("{key_prefix}{PROBE_NAME}"),
            region,
            allowed: AtomicBool::new(true),
            last_reprobe: tokio::sync::Mutex::new(None),
        }
    }

    fn is_allowed(&self) -> bool {
        self.allowed.load(Ordering::Relaxed)
    }

    /// Records what the probe learnt: only probes change what tollgate believes of its keys
    /// (one object's 403 does not).
    fn observe(&self, allowed: bool) {
        self.allowed.store(allowed, Ordering::Relaxed);
    }

    /// `is_allowed`, re-probing (rate-limited) while it is false.
    pub async fn allowed_now(&self) -> bool {
        if self.is_allowed() {
            return true;
        }
        Box::pin(self.reprobe_if_due()).await
    }

    async fn reprobe_if_due(&self) -> bool {
        let mut last = self.last_reprobe.lock().await;
        if last.is_none_or(|at| at.elapsed() >= REPROBE_EVERY) {
            *last = Some(Instant::now());
            let _ = self.check().await;
        }
        self.is_allowed()
    }

    /// Asks the store. Read: GET one byte of the probe object. A GET rather than a HEAD: its
    /// error body names the cause (HEAD answers carry none), which is how a wrong region is told
    /// apart. Write: PUT the probe object, empty.
    pub async fn check(&self) -> Result<(), StorageError> {
        let outcome = match self.capability {
            Capability::Read => {
                let result = self
                    .client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .range("bytes=0-0")
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) => self.judge(&e, "GET probe object", true),
                }
            }
            Capability::Write => {
                let result = self
                    .client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .body(ByteStream::from_static(b""))
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) => self.judge(&e, "PUT probe object", false),
                }
            }
        };
        match &outcome {
            Ok(()) => self.observe(true),
            Err(e) if e.kind == StorageErrorKind::Forbidden => self.observe(false),
            Err(_) => {}
        }
        outcome
    }

    fn judge<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        &self,
        e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        operation: &str,
        missing_is_fine: bool,
    ) -> Result<(), StorageError> {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.as_service_error().and_then(ProvideErrorMetadata::code);
        let message = e
            .as_service_error()
            .and_then(ProvideErrorMetadata::message)
            .unwrap_or_default();
        match (status, code) {
            // Missing, or present but empty: either way the key may read.
            (Some(404 | 416), _) | (_, Some("NoSuchKey" | "InvalidRange")) if missing_is_fine => {
                Ok(())
            }
            (Some(403), _) => Err(StorageError::new(
                StorageErrorKind::Forbidden,
                self.missing_permission(),
            )),
            (_, Some("AuthorizationHeaderMalformed")) => Err(self.wrong_region(message)),
            (Some(400), _) if message.to_ascii_lowercase().contains("region") => {
                Err(self.wrong_region(message))
            }
            _ => Err(classify(e, operation)),
        }
    }

    fn missing_permission(&self) -> String {
        let (key, verb, action) = match self.capability {
            Capability::Read => ("read", "read", "s3:GetObject"),
            Capability::Write => ("upload", "write", "s3:PutObject"),
        };
        format!(
            "tollgate's {key} key may not {verb} objects in bucket {:?} (needs {action})",
            self.bucket
        )
    }

    fn wrong_region(&self, store_says: &str) -> StorageError {
        StorageError::new(
            StorageErrorKind::WrongRegion,
            format!(
                "storage.region is {:?} but the store signs for another region ({store_says})",
                self.region
            ),
        )
    }
}
