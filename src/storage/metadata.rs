//! Object metadata by HEAD, cached: the entitlement decision needs the tier and owner, and a
//! player asking twice must not cost two round trips to the store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use moka::Expiry;
use moka::future::Cache;

use super::StorageError;
use super::client::classify;
use crate::config::StorageSettings;
use crate::domain::ObjectKey;

/// The `x-amz-meta-*` names tollgate writes and reads, named here only.
mod names {
    pub const OWNER: &str = "owner";
    pub const ACCESS: &str = "access";
    pub const SIZE: &str = "size";
    pub const MAX_SIZE: &str = "max-size";
    pub const FILENAME: &str = "filename";
}

/// What tollgate writes into an object's metadata (through a signed URL, a multipart upload it
/// creates, or `tollgate put`), and reads back as [`ObjectMeta`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenMetadata {
    pub owner: Option<String>,
    pub tier: Option<String>,
    /// The exact size an upload was authorised for.
    pub size: Option<u64>,
    /// The most an upload of unknown size may hold.
    pub max_size: Option<u64>,
    /// Percent-encoded file name (informational).
    pub filename: Option<String>,
}

impl WrittenMetadata {
    /// `(name, value)` pairs, names without the `x-amz-meta-` prefix.
    pub fn pairs(&self) -> Vec<(String, String)> {
        [
            (names::OWNER, self.owner.clone()),
            (names::ACCESS, self.tier.clone()),
            (names::SIZE, self.size.map(|n| n.to_string())),
            (names::MAX_SIZE, self.max_size.map(|n| n.to_string())),
            (names::FILENAME, self.filename.clone()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), value?)))
        .collect()
    }
}

/// What tollgate reads from an object's HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    /// `x-amz-meta-access`.
    pub tier: Option<String>,
    /// `x-amz-meta-owner`.
    pub owner: Option<String>,
    /// `x-amz-meta-filename` (percent-encoded).
    pub filename: Option<String>,
    /// `x-amz-meta-size`: the size an upload URL was signed for.
    pub declared_size: Option<u64>,
    /// `x-amz-meta-max-size`: the most an upload of unknown size (Uppy's protocols) was
    /// authorised to hold.
    pub max_size: Option<u64>,
    pub size: Option<u64>,
    pub content_type: Option<String>,
}

impl ObjectMeta {
    /// Whether the object holds what its upload authorised: exactly the declared size, or at
    /// most the authorised maximum. Objects with neither (put by operators) are not bounded.
    pub fn within_authorised_size(&self) -> bool {
        let size = self.size.unwrap_or(0);
        self.declared_size.is_none_or(|declared| size == declared)
            && self.max_size.is_none_or(|max| size <= max)
    }
}

/// `None` records a missing object (negative caching, shorter TTL).
type Entry = Option<Arc<ObjectMeta>>;

struct TtlByOutcome {
    found: Duration,
    not_found: Duration,
}

impl Expiry<ObjectKey, Entry> for TtlByOutcome {
    fn expire_after_create(
        &self,
        _key: &ObjectKey,
        value: &Entry,
        _now: Instant,
    ) -> Option<Duration> {
        Some(if value.is_some() {
            self.found
        } else {
            self.not_found
        })
    }
}

pub struct MetadataCache {
    client: Client,
    bucket: String,
    cache: Cache<ObjectKey, Entry>,
}

impl MetadataCache {
    pub fn new(client: Client, settings: &StorageSettings) -> Self {
        let cache = Cache::builder()
            .max_capacity(settings.metadata_cache_capacity)
            .expire_after(TtlByOutcome {
                found: Duration::from_secs(settings.metadata_cache_ttl_secs),
                not_found: Duration::from_secs(settings.not_found_cache_ttl_secs),
            })
            .build();
        Self {
            client,
            bucket: settings.bucket.clone(),
            cache,
        }
    }

    /// The object's metadata, `None` when it does not exist. Concurrent misses on one key share
    /// one HEAD; errors are not cached.
    pub async fn get(&self, key: &ObjectKey) -> Result<Entry, StorageError> {
        if let Some(entry) = self.cache.get(key).await {
            return Ok(entry);
        }
        // The miss path (a HEAD through the SDK) is boxed, so that the hit path's future,
        // and every handler future that awaits it, stays small.
        Box::pin(self.cache.try_get_with_by_ref(key, self.head(key)))
            .await
            .map_err(|e| (*e).clone())
    }

    /// Forgets what is cached for `key`.
    pub async fn invalidate(&self, key: &ObjectKey) {
        self.cache.invalidate(key).await;
    }

    /// HEADs the object now (not from the cache) and caches the answer: after an upload.
    pub async fn refresh(&self, key: &ObjectKey) -> Result<Entry, StorageError> {
        let entry = self.head(key).await?;
        self.cache.insert(key.clone(), entry.clone()).await;
        Ok(entry)
    }

    async fn head(&self, key: &ObjectKey) -> Result<Entry, StorageError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        match result {
            Ok(out) => {
                let meta = out.metadata();
                Ok(Some(Arc::new(ObjectMeta {
                    tier: meta.and_then(|m| m.get(names::ACCESS)).cloned(),
                    owner: meta.and_then(|m| m.get(names::OWNER)).cloned(),
                    filename: meta.and_then(|m| m.get(names::FILENAME)).cloned(),
                    declared_size: meta
                        .and_then(|m| m.get(names::SIZE))
                        .and_then(|s| s.parse().ok()),
                    max_size: meta
                        .and_then(|m| m.get(names::MAX_SIZE))
                        .and_then(|s| s.parse().ok()),
                    size: out.content_length().and_then(|n| u64::try_from(n).ok()),
                    content_type: out.content_type().map(str::to_owned),
                })))
            }
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(classify(&e, "HEAD object")),
        }
    }
}
