//! The object store: S3 clients (internal and public endpoint), object metadata cache,
//! presigner, readiness check, and the embedded s3s-fs store.

mod client;
mod credentials;
#[cfg(feature = "embedded-store")]
mod embedded;
mod metadata;
mod presign;
mod put;

use std::sync::Arc;

use aws_sdk_s3::Client;

pub use client::S3Clients;
pub use credentials::CredentialsCache;
#[cfg(feature = "embedded-store")]
pub use embedded::{EmbeddedStore, EmbeddedStoreError};
pub use metadata::{MetadataCache, ObjectMeta};
pub use presign::{PresignedUrl, Presigner, effective_expiry_secs};
pub use put::{VideoMetadata, put_video};

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
}

/// Everything the request handlers need from the store.
pub struct Storage {
    bucket: String,
    key_prefix: String,
    internal: Client,
    readiness_timeout: std::time::Duration,
    pub metadata: MetadataCache,
    pub presigner: Presigner,
}

impl Storage {
    pub fn new(
        settings: &StorageSettings,
        clients: S3Clients,
        clock: crate::clock::SharedClock,
    ) -> Self {
        let credentials = Arc::clone(&clients.credentials);
        Self {
            bucket: settings.bucket.clone(),
            key_prefix: settings.key_prefix.clone(),
            metadata: MetadataCache::new(clients.internal.clone(), settings),
            presigner: Presigner::new(clients.public, settings.bucket.clone(), credentials, clock),
            internal: clients.internal,
            readiness_timeout: settings.readiness_timeout(),
        }
    }

    pub fn key_for(&self, id: &VideoId) -> Result<ObjectKey, crate::domain::ParseError> {
        ObjectKey::for_video(&self.key_prefix, id)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Readiness: HEAD the bucket within the configured timeout.
    pub async fn check_bucket(&self) -> Result<(), StorageError> {
        let head = self.internal.head_bucket().bucket(&self.bucket).send();
        match tokio::time::timeout(self.readiness_timeout, head).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(client::classify(&e, "HEAD bucket")),
            Err(_) => Err(StorageError::new(
                StorageErrorKind::Unavailable,
                format!("HEAD bucket timed out after {:?}", self.readiness_timeout),
            )),
        }
    }
}
