//! What tollgate's own key may do, asked of the store itself. A presigned URL carries its
//! signer's permissions: signing with a key that cannot read hands out URLs that can only fail,
//! so playback is refused (503 `storage_forbidden`) while the probe says so.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;

use super::client::classify;
use super::{StorageError, StorageErrorKind};

/// Object read by the probe; it need not exist (404 proves read permission as well as 200).
pub const PROBE_KEY: &str = ".tollgate-probe";
/// While the key is known unreadable, requests re-probe at most this often (so a fixed
/// permission is noticed without a restart, and a flood of requests is not a flood of probes).
const REPROBE_EVERY: Duration = Duration::from_secs(5);

pub struct ReadProbe {
    client: Client,
    bucket: String,
    region: String,
    /// Last known answer; starts optimistic so that a slow store does not block start-up.
    can_read: AtomicBool,
    last_reprobe: tokio::sync::Mutex<Option<Instant>>,
}

impl ReadProbe {
    pub fn new(client: Client, bucket: String, region: String) -> Self {
        Self {
            client,
            bucket,
            region,
            can_read: AtomicBool::new(true),
            last_reprobe: tokio::sync::Mutex::new(None),
        }
    }

    pub fn can_read(&self) -> bool {
        self.can_read.load(Ordering::Relaxed)
    }

    /// Records what a real request learnt (a 403 on HEAD, or a success).
    pub fn observe(&self, readable: bool) {
        self.can_read.store(readable, Ordering::Relaxed);
    }

    /// `can_read`, re-probing (rate-limited) while it is false.
    pub async fn readable(&self) -> bool {
        if self.can_read() {
            return true;
        }
        let mut last = self.last_reprobe.lock().await;
        if last.is_none_or(|at| at.elapsed() >= REPROBE_EVERY) {
            *last = Some(Instant::now());
            let _ = self.check().await;
        }
        self.can_read()
    }

    /// GETs one byte of the probe object. A GET rather than a HEAD: its error body names the
    /// cause (HEAD answers carry none), which is how a wrong region is told apart.
    pub async fn check(&self) -> Result<(), StorageError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(PROBE_KEY)
            .range("bytes=0-0")
            .send()
            .await;
        let outcome = match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = e.as_service_error().and_then(ProvideErrorMetadata::code);
                let message = e
                    .as_service_error()
                    .and_then(ProvideErrorMetadata::message)
                    .unwrap_or_default();
                match (status, code) {
                    // Missing, or present but empty: either way the key may read.
                    (Some(404 | 416), _) | (_, Some("NoSuchKey" | "InvalidRange")) => Ok(()),
                    (Some(403), _) => Err(StorageError::new(
                        StorageErrorKind::Forbidden,
                        format!(
                            "tollgate's key may not read objects in bucket {:?} (needs s3:GetObject)",
                            self.bucket
                        ),
                    )),
                    (_, Some("AuthorizationHeaderMalformed")) => Err(self.wrong_region(message)),
                    (Some(400), _) if message.to_ascii_lowercase().contains("region") => {
                        Err(self.wrong_region(message))
                    }
                    _ => Err(classify(&e, "GET probe object")),
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
