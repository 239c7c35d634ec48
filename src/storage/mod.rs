//! The object store: S3 clients (internal and public endpoint), object metadata cache,
//! presigner, readiness check, and the embedded s3s-fs store.

mod client;
mod credentials;
#[cfg(feature = "embedded-store")]
mod embedded;
mod metadata;
mod multipart;
mod presign;
mod probe;
mod put;
mod sigv4;

use std::sync::Arc;

use aws_sdk_s3::Client;

pub use client::S3Clients;
pub use credentials::CredentialsCache;
#[cfg(feature = "embedded-store")]
pub use embedded::{EmbeddedStore, EmbeddedStoreError, StoreKey};
pub use metadata::{MetadataCache, ObjectMeta};
pub use multipart::StoredPart;
pub use presign::{
    ObjectRequest, PresignedUrl, Presigner, PutObjectGrant, Signed, SignerKind,
    effective_expiry_secs,
};
pub use probe::{Capability, CapabilityProbe, PROBE_KEY};
pub use put::{VideoMetadata, put_video};
pub use sigv4::MultipartOperation;

use crate::config::StorageSettings;
use crate::domain::{ObjectKey, VideoId};

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

/// Everything the request handlers need from the store.
pub struct Storage {
    bucket: String,
    key_prefix: String,
    internal: Client,
    readiness_timeout: std::time::Duration,
    pub read_probe: CapabilityProbe,
    pub write_probe: CapabilityProbe,
    pub metadata: MetadataCache,
    pub presigner: Presigner,
}

impl Storage {
    pub async fn new(
        settings: &StorageSettings,
        clients: S3Clients,
        clock: crate::clock::SharedClock,
    ) -> Result<Self, StorageError> {
        let credentials = Arc::clone(&clients.credentials);
        let presigner = Presigner::new(
            clients.public,
            settings.bucket.clone(),
            credentials,
            clock,
            clients.public_endpoint.clone(),
            settings.region.clone(),
            settings.signer,
        )
        .await?;
        Ok(Self {
            bucket: settings.bucket.clone(),
            key_prefix: settings.key_prefix.clone(),
            read_probe: CapabilityProbe::new(
                Capability::Read,
                clients.internal.clone(),
                settings.bucket.clone(),
                settings.region.clone(),
            ),
            write_probe: CapabilityProbe::new(
                Capability::Write,
                clients.internal.clone(),
                settings.bucket.clone(),
                settings.region.clone(),
            ),
            metadata: MetadataCache::new(clients.internal.clone(), settings),
            presigner,
            internal: clients.internal,
            readiness_timeout: settings.readiness_timeout(),
        })
    }

    pub fn key_for(&self, id: &VideoId) -> Result<ObjectKey, crate::domain::ParseError> {
        ObjectKey::for_video(&self.key_prefix, id)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Readiness: HEAD the bucket within the configured timeout.
    pub async fn check_bucket(&self) -> Result<(), StorageError> {
        let head = async {
            let result = self
                .internal
                .head_bucket()
                .bucket(&self.bucket)
                .send()
                .await;
            result
                .map(|_| ())
                .map_err(|e| client::classify(&e, "HEAD bucket"))
        };
        self.within_timeout("HEAD bucket", head).await
    }

    /// Readiness: may tollgate's key read objects (and is the region right)?
    pub async fn check_read(&self) -> Result<(), StorageError> {
        self.within_timeout("read probe", self.read_probe.check())
            .await
    }

    /// Readiness where uploads are enabled: may tollgate's key write objects?
    pub async fn check_write(&self) -> Result<(), StorageError> {
        self.within_timeout("write probe", self.write_probe.check())
            .await
    }

    /// Refuses to sign upload URLs with a key the store does not let write.
    pub async fn ensure_writable(&self) -> Result<(), StorageError> {
        if self.write_probe.allowed_now().await {
            Ok(())
        } else {
            Err(StorageError::new(
                StorageErrorKind::Forbidden,
                "tollgate's key may not write objects; not signing upload URLs that would fail",
            ))
        }
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

    /// The object's metadata (cached); a 403 marks tollgate's key as unable to read.
    pub async fn object_meta(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<Arc<ObjectMeta>>, StorageError> {
        let result = self.metadata.get(key).await;
        if matches!(&result, Err(e) if e.is_forbidden()) {
            self.read_probe.observe(false);
        }
        result
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
