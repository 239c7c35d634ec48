//! Object metadata by HEAD, cached: the entitlement decision needs the tier and owner, and a
//! player asking twice must not cost two round trips to the store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use moka::Expiry;
use moka::future::Cache;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::StorageError;
use super::StorageSettings;
use super::client::classify;
use crate::domain::ObjectKey;

/// The `x-amz-meta-*` names tollgate writes and reads, named here only.
mod names {
    pub const OWNER: &str = "owner";
    pub const ACCESS: &str = "access";
    pub const SIZE: &str = "size";
    pub const MAX_SIZE: &str = "max-size";
    pub const FILENAME: &str = "filename";
}

/// What is percent-encoded in the owner's metadata value: control characters, spaces (stores
/// and SigV4 trim and collapse them) and `%` itself (so that no other subject encodes to the
/// same value); non-ASCII is always encoded. Every other visible ASCII character is kept, so a
/// subject that is a plain header value (`alice`, `auth0|123`, `https://idp/users/7`) is
/// stored as it is. Any subject can then own an upload and reads back the same on every store
/// (AWS returns non-ASCII metadata RFC 2047-encoded; s3s-fs does not return it as sent).
const OWNER_ENCODED: &AsciiSet = &CONTROLS.add(b' ').add(b'%');

/// The metadata value that names `subject` as an object's owner.
pub fn owner_value(subject: &str) -> String {
    utf8_percent_encode(subject, OWNER_ENCODED).to_string()
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
    /// Bytes the metadata takes as S3 counts them: each `x-amz-meta-` name and its value.
    pub fn byte_len(&self) -> usize {
        self.pairs()
            .iter()
            .map(|(name, value)| "x-amz-meta-".len() + name.len() + value.len())
            .sum()
    }

    /// `(name, value)` pairs, names without the `x-amz-meta-` prefix.
    pub fn pairs(&self) -> Vec<(String, String)> {
        [
            (names::OWNER, self.owner.as_deref().map(owner_value)),
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
    /// Response headers the object carries that no upload URL signs (`Content-Encoding`,
    /// `Content-Disposition`, `Cache-Control`, `Content-Language`, `Expires`): a client may add
    /// them to a PUT unsigned, and the store then serves them to every viewer. A `Cache-Control`
    /// that only forbids reuse (what browsers add themselves) is not counted.
    pub unsigned_response_headers: Vec<&'static str>,
}

impl ObjectMeta {
    /// Whether `subject` owns the object.
    pub fn is_owned_by(&self, subject: &str) -> bool {
        self.owner.as_deref() == Some(owner_value(subject).as_str())
    }

    /// Whether an upload URL wrote the object (it carries the signed size or maximum).
    pub fn is_upload(&self) -> bool {
        self.declared_size.is_some() || self.max_size.is_some()
    }

    /// Why the object is not what its upload authorised, if it is not: another size than the
    /// declared one, more than the authorised maximum, or response headers no upload URL signs
    /// (a gzip `Content-Encoding` turns a bounded object into an unbounded one for viewers; a
    /// `Content-Disposition` or `Cache-Control` changes how every viewer gets it). Objects that
    /// no upload URL wrote (put by operators) are taken as they are.
    pub fn unauthorised(&self) -> Option<String> {
        if !self.is_upload() {
            return None;
        }
        let size = self.size.unwrap_or(0);
        if let Some(declared) = self.declared_size
            && size != declared
        {
            return Some(format!("{size} bytes stored, {declared} authorised"));
        }
        if let Some(max) = self.max_size
            && size > max
        {
            return Some(format!("{size} bytes stored, at most {max} authorised"));
        }
        if !self.unsigned_response_headers.is_empty() {
            return Some(format!(
                "the object carries headers its upload did not sign: {}",
                self.unsigned_response_headers.join(", ")
            ));
        }
        None
    }
}

/// Whether a stored `Cache-Control` only keeps caches from reusing the object: what clients add
/// to a request with `If-None-Match` by themselves (Chromium `max-age=0`, fetch `no-cache`), so
/// that every browser upload carries one. Harmless, unlike one that lets caches keep the object
/// (`public, max-age=31536000`).
fn only_restricts_caching(value: &str) -> bool {
    value.split(',').all(|directive| {
        matches!(
            directive.trim().to_ascii_lowercase().as_str(),
            "no-cache" | "no-store" | "max-age=0" | "must-revalidate"
        )
    })
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
        let hit = self.cache.get(key).await;
        crate::metrics::Metrics::global().cache_lookup("metadata", hit.is_some());
        if let Some(entry) = hit {
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
                    unsigned_response_headers: [
                        ("content-encoding", out.content_encoding().is_some()),
                        ("content-disposition", out.content_disposition().is_some()),
                        (
                            "cache-control",
                            out.cache_control()
                                .is_some_and(|v| !only_restricts_caching(v)),
                        ),
                        ("content-language", out.content_language().is_some()),
                        ("expires", out.expires_string().is_some()),
                    ]
                    .into_iter()
                    .filter_map(|(name, present)| present.then_some(name))
                    .collect(),
                })))
            }
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(classify(&e, "HEAD object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cache_control_that_forbids_reuse_is_harmless() {
        for value in [
            "max-age=0",
            "no-cache",
            "No-Cache, max-age=0",
            "no-store,must-revalidate",
        ] {
            assert!(only_restricts_caching(value), "{value}");
        }
        for value in [
            "public, max-age=31536000",
            "max-age=60",
            "no-cache, public",
            "",
            "immutable",
        ] {
            assert!(!only_restricts_caching(value), "{value}");
        }
    }
}
