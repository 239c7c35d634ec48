//! The object store: S3 clients (internal and public endpoint), object metadata cache,
//! presigner, readiness check, and the embedded s3s-fs store.

mod client;
mod credentials;
#[cfg(feature = "embedded-store")]
mod embedded;
pub mod limits;
mod metadata;
mod multipart;
mod presign;
mod probe;
mod put;
mod put_hls;
mod read;
pub mod settings;
mod store_metrics;

use std::sync::Arc;

use aws_sdk_s3::Client;

pub use client::S3Clients;
pub use credentials::CredentialsCache;
#[cfg(feature = "embedded-store")]
pub use embedded::{EmbeddedStore, EmbeddedStoreError, StoreKey, StoreRules};
pub use metadata::{MetadataCache, ObjectMeta, WrittenMetadata, owner_value};
pub use multipart::StoredPart;
pub use presign::{
    ObjectRequest, PresignedPost, PresignedUrl, Presigner, PutObjectGrant, Signed, SignerKind,
    effective_expiry_secs, window_start,
};
pub use probe::{Capability, CapabilityProbe, PROBE_NAME};
pub use put::{VideoMetadata, put_video};
pub use put_hls::{PutHlsError, put_hls};
pub use read::{ReadError, SmallObject};

use crate::domain::{ObjectKey, VideoId};
pub use settings::{EmbeddedStoreSettings, StorageSettings, StoreKeySettings};

/// What went wrong talking to the store. Cloneable so that a cache can hand it to every waiter.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct StorageError {
    pub kind: StorageErrorKind,
    /// For the log only.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StorageErrorKind {
    #[error("store unreachable or failing")]
    Unavailable,
    #[error("store refused tollgate's credentials")]
    Forbidden,
    #[error("credentials unavailable or about to expire")]
    Credentials,
    #[error("could not presign")]
    Presign,
    #[error("invalid object key")]
    InvalidKey,
    #[error("configured region does not match the store's")]
    WrongRegion,
    /// The store refused the request as the client's error (an invalid part, say).
    #[error("store refused the request")]
    Rejected,
}

impl StorageError {
    pub fn new(kind: StorageErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    pub fn is_forbidden(&self) -> bool {
        self.kind == StorageErrorKind::Forbidden
    }

    /// What an operator may be told (`/readyz`): the kind, and the detail when it is ours
    /// rather than the store's text.
    pub fn public_reason(&self) -> String {
        match self.kind {
            StorageErrorKind::Forbidden | StorageErrorKind::WrongRegion => self.detail.clone(),
            _ => self.kind.to_string(),
        }
    }
}

/// Everything the request handlers need from the store, with two keys: the read key reads
/// metadata and signs playback URLs; the upload key signs upload URLs and runs multipart
/// uploads. A URL carries its signer's permissions, so an upload URL can never read.
pub struct Storage {
    bucket: String,
    key_prefix: crate::domain::KeyPrefix,
    /// Calls made with the read key: HEAD bucket and objects, ListParts, the read probe.
    reader: Client,
    /// Calls made with the upload key: multipart create, complete and abort, the write probes.
    writer: Client,
    separate_upload_key: bool,
    upload_key_read_allowed: bool,
    readiness_timeout: std::time::Duration,
    readiness_ttl: std::time::Duration,
    readiness: tokio::sync::Mutex<Option<(std::time::Instant, Arc<Readiness>)>>,
    read_probe: CapabilityProbe,
    write_probe: CapabilityProbe,
    /// Asks whether the upload key can read: it must not.
    upload_read_probe: CapabilityProbe,
    upload_key_reads: std::sync::atomic::AtomicBool,
    pub metadata: MetadataCache,
    /// Signs with the read key: GetObject (and ListParts, a read on Garage).
    pub playback_signer: Presigner,
    /// Signs with the upload key: PutObject, UploadPart and the multipart operations.
    pub upload_signer: Presigner,
}

/// Whether the upload key can read objects, as `/readyz` reports it.
#[derive(Debug, Clone)]
pub enum UploadKeyRead {
    /// Uploads are disabled: nothing to ask.
    Skipped,
    /// The store refused the upload key a read: least privilege holds.
    CannotRead,
    /// The upload key can read (or is the read key); `allowed` when that is accepted here.
    CanRead { allowed: bool, reason: String },
    /// The store did not answer.
    Unknown(StorageError),
}

/// What the store says of tollgate's keys, at one moment.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub bucket: Result<(), StorageError>,
    pub read: Result<(), StorageError>,
    /// `None` when uploads are disabled.
    pub write: Option<Result<(), StorageError>>,
    pub upload_key_read: UploadKeyRead,
}

impl Storage {
    /// `upload_key_read_allowed`: whether an upload key that can read is accepted (outside
    /// production, or with `storage.allow_upload_key_read`).
    pub async fn new(
        settings: &StorageSettings,
        read: S3Clients,
        upload: S3Clients,
        upload_key_read_allowed: bool,
        clock: crate::clock::SharedClock,
    ) -> Result<Self, StorageError> {
        let signer = |clients: &S3Clients| {
            Presigner::new(
                clients.public.clone(),
                settings.bucket.clone(),
                Arc::clone(&clients.credentials),
                Arc::clone(&clock),
                settings.signer,
            )
        };
        let playback_signer = signer(&read).await?;
        let upload_signer = signer(&upload).await?;
        let probe = |capability, client: &Client| {
            CapabilityProbe::new(
                capability,
                client.clone(),
                settings.bucket.clone(),
                &settings.key_prefix,
                settings.region.clone(),
            )
        };
        Ok(Self {
            bucket: settings.bucket.clone(),
            key_prefix: crate::domain::KeyPrefix::parse(&settings.key_prefix)
                .map_err(|e| StorageError::new(StorageErrorKind::InvalidKey, e.to_string()))?,
            read_probe: probe(Capability::Read, &read.internal),
            write_probe: probe(Capability::Write, &upload.internal),
            upload_read_probe: probe(Capability::Read, &upload.internal),
            upload_key_reads: std::sync::atomic::AtomicBool::new(false),
            separate_upload_key: settings.has_upload_key(),
            upload_key_read_allowed,
            metadata: MetadataCache::new(read.internal.clone(), settings),
            playback_signer,
            upload_signer,
            reader: read.internal,
            writer: upload.internal,
            readiness_timeout: settings.readiness_timeout(),
            readiness_ttl: std::time::Duration::from_millis(settings.readiness_cache_ms),
            readiness: tokio::sync::Mutex::new(None),
        })
    }

    pub fn key_for(&self, id: &VideoId) -> ObjectKey {
        ObjectKey::for_video(&self.key_prefix, id)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key_prefix(&self) -> &str {
        self.key_prefix.as_str()
    }

    /// Where an object lives, as S3's CompleteMultipartUpload names it (`/bucket/key`).
    pub fn location(&self, key: &ObjectKey) -> String {
        format!("/{}/{key}", self.bucket)
    }

    /// What the store says of tollgate's keys, asked at most once per
    /// `storage.readiness_cache_ms` (concurrent callers share one round of probes), so that
    /// anonymous `/readyz` calls cannot make tollgate write to the bucket at their own pace.
    pub async fn readiness(&self, uploads_enabled: bool) -> Arc<Readiness> {
        let mut cached = self.readiness.lock().await;
        if let Some((at, report)) = cached.as_ref()
            && at.elapsed() < self.readiness_ttl
        {
            return Arc::clone(report);
        }
        let report = Arc::new(self.probe_all(uploads_enabled).await);
        *cached = Some((std::time::Instant::now(), Arc::clone(&report)));
        report
    }

    async fn probe_all(&self, uploads_enabled: bool) -> Readiness {
        // The reads are asked after the write probe has stored the probe object: a key without
        // s3:ListBucket gets 403 for a missing object, which would pass for "may not read" (the
        // read key) or "cannot read" (the upload key).
        let probes = async {
            let write = if uploads_enabled {
                Some(
                    self.within_timeout("write probe", self.write_probe.check())
                        .await,
                )
            } else {
                None
            };
            let upload_key_read = async {
                if uploads_enabled {
                    self.check_upload_key_read().await
                } else {
                    UploadKeyRead::Skipped
                }
            };
            let (read, upload_key_read) = tokio::join!(
                self.within_timeout("read probe", self.read_probe.check()),
                upload_key_read
            );
            (read, write, upload_key_read)
        };
        let (bucket, (read, write, upload_key_read)) = tokio::join!(
            self.within_timeout("HEAD bucket", self.head_bucket()),
            probes
        );
        Readiness {
            bucket,
            read,
            write,
            upload_key_read,
        }
    }

    async fn head_bucket(&self) -> Result<(), StorageError> {
        self.reader
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| client::classify(&e, "HEAD bucket"))
    }

    async fn check_upload_key_read(&self) -> UploadKeyRead {
        let allowed = self.upload_key_read_allowed;
        let verdict = if self.separate_upload_key {
            match self
                .within_timeout("upload key read probe", self.upload_read_probe.check())
                .await
            {
                Err(e) if e.is_forbidden() => UploadKeyRead::CannotRead,
                Err(e) => UploadKeyRead::Unknown(e),
                Ok(()) => UploadKeyRead::CanRead {
                    allowed,
                    reason: "the upload key (storage.upload_access_key_id) can read objects: remove s3:GetObject from it".to_owned(),
                },
            }
        } else {
            UploadKeyRead::CanRead {
                allowed,
                reason: "upload URLs are signed by the read key: set storage.upload_access_key_id to a key without s3:GetObject".to_owned(),
            }
        };
        let reads = matches!(verdict, UploadKeyRead::CanRead { .. });
        self.upload_key_reads
            .store(reads, std::sync::atomic::Ordering::Relaxed);
        verdict
    }

    /// Refuses to sign upload URLs with a key the store does not let write, or with one that
    /// can read where that is not accepted (as last probed).
    pub async fn ensure_writable(&self) -> Result<(), StorageError> {
        if !self.write_probe.allowed_now().await {
            return Err(StorageError::new(
                StorageErrorKind::Forbidden,
                "tollgate's upload key may not write objects; not signing upload URLs that would fail",
            ));
        }
        if !self.upload_key_read_allowed
            && self
                .upload_key_reads
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(StorageError::new(
                StorageErrorKind::Forbidden,
                "tollgate's upload key can read objects; not signing upload URLs with it",
            ));
        }
        Ok(())
    }

    async fn within_timeout(
        &self,
        what: &str,
        check: impl Future<Output = Result<(), StorageError>>,
    ) -> Result<(), StorageError> {
        tokio::time::timeout(self.readiness_timeout, check)
            .await
            .unwrap_or_else(|_| {
                Err(StorageError::new(
                    StorageErrorKind::Unavailable,
                    format!("{what} timed out after {:?}", self.readiness_timeout),
                ))
            })
    }

    /// The object's metadata (cached). A 403 for one object does not mark the read key as
    /// unable to read (only the probe decides that): on AWS a key without s3:ListBucket gets 403
    /// for a missing object, so any caller asking for random ids could otherwise stop playback.
    /// While the probe says the key reads, such an object is answered as missing.
    pub async fn object_meta(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<Arc<ObjectMeta>>, StorageError> {
        match self.metadata.get(key).await {
            Err(e) if e.is_forbidden() && self.read_probe.allowed_now().await => {
                tracing::debug!(%key, error = %e, "HEAD refused for one object; answered as missing");
                Ok(None)
            }
            result => result,
        }
    }

    /// Refuses to sign with a key the store does not let read: such URLs could only fail.
    pub async fn ensure_readable(&self) -> Result<(), StorageError> {
        if self.read_probe.allowed_now().await {
            Ok(())
        } else {
            Err(StorageError::new(
                StorageErrorKind::Forbidden,
                "tollgate's key may not read objects; not signing URLs that would fail",
            ))
        }
    }
}
