//! Presigned URLs, with the lifetime clamped to policy, to S3's 7-day limit and to the signing
//! credentials' own expiry, written by tollgate's own SigV4 signer (`fast`) or by aws-sdk-s3
//! (`sdk`), as `storage.signer` says.

mod encoding;
#[cfg(test)]
mod equality_tests;
mod fast;
mod post_policy;
mod sdk;
mod sigv4;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use serde::{Deserialize, Serialize};

use fast::FastSigner;
pub use post_policy::PresignedPost;

use super::{CredentialsCache, StorageError, StorageErrorKind};
use crate::clock::SharedClock;
use crate::domain::ObjectKey;
use crate::storage::limits::MAX_PRESIGN_EXPIRY_SECS;

/// A URL never outlives its credentials minus this margin (clock skew between us and S3).
const CREDENTIAL_MARGIN_SECS: u64 = 60;

#[derive(Debug, Clone)]
pub struct PresignedUrl {
    pub url: String,
    pub method: &'static str,
    /// Headers the client must send exactly (signed headers).
    pub headers: Vec<(String, String)>,
    pub expires_at: SystemTime,
    pub expires_in: u64,
}

/// The lifetime a URL gets: the shortest of what was asked, the policy maximum, S3's limit, and
/// the credentials' remaining life less a margin. `None` when the credentials leave no time.
pub fn effective_expiry_secs(
    requested: Option<u64>,
    policy_max: u64,
    credentials_expiry: Option<SystemTime>,
    now: SystemTime,
) -> Option<u64> {
    let mut secs = requested
        .unwrap_or(policy_max)
        .min(policy_max)
        .min(MAX_PRESIGN_EXPIRY_SECS);
    if let Some(expiry) = credentials_expiry {
        let left = expiry.duration_since(now).map_or(0, |d| d.as_secs());
        secs = secs.min(left.saturating_sub(CREDENTIAL_MARGIN_SECS));
    }
    (secs > 0).then_some(secs)
}

/// The signing time of a URL living `secs` from `now`: the start of the current `window`
/// (a multiple of it since the epoch), or `now` when windows are off or the lifetime is no
/// longer than one (the URL could expire before it is used).
pub fn window_start(now: SystemTime, window: u64, secs: u64) -> SystemTime {
    if window == 0 || secs <= window {
        return now;
    }
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch - since_epoch % window)
}

/// What an upload URL allows: exactly this object, type, length and metadata.
#[derive(Debug, Clone)]
pub struct PutObjectGrant {
    pub content_type: String,
    /// Signed when known (Uppy's Companion protocol does not tell the size).
    pub content_length: Option<u64>,
    /// `x-amz-meta-*` pairs (names without the prefix).
    pub metadata: Vec<(String, String)>,
    /// Base64 SHA-256 of the body, signed as `x-amz-checksum-sha256`.
    pub checksum_sha256: Option<String>,
    /// Sign `If-None-Match: *` (no overwrite).
    pub if_none_match: bool,
}

/// Which code writes presigned URLs (`storage.signer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerKind {
    /// tollgate's own SigV4 signer: the SDK's URLs, byte for byte, several times faster.
    #[default]
    Fast,
    /// aws-sdk-s3's presigning.
    Sdk,
}

/// One object operation to presign.
#[derive(Debug, Clone, Copy)]
pub enum ObjectRequest<'a> {
    Get {
        key: &'a str,
        /// Signed as `response-content-disposition`.
        content_disposition: Option<&'a str>,
    },
    Put {
        key: &'a str,
        grant: &'a PutObjectGrant,
    },
    UploadPart {
        key: &'a str,
        upload_id: &'a str,
        part_number: u64,
        content_length: Option<u64>,
    },
    /// CreateMultipartUpload with the grant's type and metadata signed (its length, checksum
    /// and If-None-Match do not apply to a create).
    CreateMultipart {
        key: &'a str,
        grant: &'a PutObjectGrant,
    },
    ListParts {
        key: &'a str,
        upload_id: &'a str,
    },
    /// CompleteMultipartUpload; with `if_none_match`, not over an existing object.
    CompleteMultipart {
        key: &'a str,
        upload_id: &'a str,
        if_none_match: bool,
    },
    AbortMultipart {
        key: &'a str,
        upload_id: &'a str,
    },
}

impl ObjectRequest<'_> {
    /// The S3 operation's name, for metrics.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Get { .. } => "get_object",
            Self::Put { .. } => "put_object",
            Self::UploadPart { .. } => "upload_part",
            Self::CreateMultipart { .. } => "create_multipart_upload",
            Self::ListParts { .. } => "list_parts",
            Self::CompleteMultipart { .. } => "complete_multipart_upload",
            Self::AbortMultipart { .. } => "abort_multipart_upload",
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            Self::Get { .. } | Self::ListParts { .. } => "GET",
            Self::Put { .. } | Self::UploadPart { .. } => "PUT",
            Self::CreateMultipart { .. } | Self::CompleteMultipart { .. } => "POST",
            Self::AbortMultipart { .. } => "DELETE",
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Self::Get { key, .. }
            | Self::Put { key, .. }
            | Self::UploadPart { key, .. }
            | Self::CreateMultipart { key, .. }
            | Self::ListParts { key, .. }
            | Self::CompleteMultipart { key, .. }
            | Self::AbortMultipart { key, .. } => key,
        }
    }

    /// Whether aws-sdk-s3 can presign the operation (the others are signed with aws-sigv4).
    pub fn sdk_can_presign(&self) -> bool {
        matches!(
            self,
            Self::Get { .. } | Self::Put { .. } | Self::UploadPart { .. }
        )
    }

    /// The headers signed besides `host` (lowercase names), in the order the SDK lists them.
    pub fn headers(&self) -> Vec<(String, String)> {
        match self {
            Self::Get { .. } | Self::ListParts { .. } | Self::AbortMultipart { .. } => Vec::new(),
            Self::Put { grant, .. } => {
                let mut headers = Vec::with_capacity(4 + grant.metadata.len());
                if let Some(length) = grant.content_length {
                    headers.push(("content-length".to_owned(), length.to_string()));
                }
                headers.push(("content-type".to_owned(), grant.content_type.clone()));
                if let Some(checksum) = &grant.checksum_sha256 {
                    headers.push(("x-amz-checksum-sha256".to_owned(), checksum.clone()));
                }
                if grant.if_none_match {
                    headers.push(("if-none-match".to_owned(), "*".to_owned()));
                }
                headers.extend(metadata_headers(grant));
                headers
            }
            Self::UploadPart { content_length, .. } => content_length
                .map(|length| vec![("content-length".to_owned(), length.to_string())])
                .unwrap_or_default(),
            Self::CreateMultipart { grant, .. } => {
                let mut headers = vec![("content-type".to_owned(), grant.content_type.clone())];
                headers.extend(metadata_headers(grant));
                headers
            }
            Self::CompleteMultipart { if_none_match, .. } => {
                if *if_none_match {
                    vec![("if-none-match".to_owned(), "*".to_owned())]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// What S3 (and the SDK) accept: part numbers and lengths within their integer types.
    fn check_ranges(&self) -> Result<(), StorageError> {
        let (part, length) = match self {
            Self::Get { .. }
            | Self::CreateMultipart { .. }
            | Self::ListParts { .. }
            | Self::CompleteMultipart { .. }
            | Self::AbortMultipart { .. } => (None, None),
            Self::Put { grant, .. } => (None, grant.content_length),
            Self::UploadPart {
                part_number,
                content_length,
                ..
            } => (Some(*part_number), *content_length),
        };
        let part_ok = part.is_none_or(|n| i32::try_from(n).is_ok());
        let length_ok = length.is_none_or(|n| i64::try_from(n).is_ok());
        if part_ok && length_ok {
            Ok(())
        } else {
            Err(StorageError::new(
                StorageErrorKind::Presign,
                "part number or length out of range",
            ))
        }
    }
}

/// `x-amz-meta-*` headers of a grant's metadata.
fn metadata_headers(grant: &PutObjectGrant) -> impl Iterator<Item = (String, String)> + '_ {
    grant.metadata.iter().map(|(name, value)| {
        (
            format!("x-amz-meta-{}", name.to_ascii_lowercase()),
            value.clone(),
        )
    })
}

/// A signed URL and the headers that must accompany it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

enum Backend {
    Sdk,
    Fast(FastSigner),
}

pub struct Presigner {
    client: Client,
    bucket: String,
    credentials: Arc<CredentialsCache>,
    clock: SharedClock,
    /// Where the SDK's URLs point, for the operations it cannot presign.
    endpoint: fast::Endpoint,
    backend: Backend,
}

/// The key of the URL the fast signer learns its endpoint from (never fetched).
const ENDPOINT_PROBE_KEY: &str = "tollgate-endpoint-probe";

/// Where the SDK puts the bucket and which region it signs for, read off a URL it presigns
/// with throw-away credentials.
async fn sdk_endpoint(client: &Client, bucket: &str) -> Result<fast::Endpoint, StorageError> {
    let config = client
        .config()
        .to_builder()
        .credentials_provider(aws_credential_types::Credentials::new(
            "ENDPOINTPROBE",
            "endpoint-probe",
            None,
            None,
            "tollgate-endpoint-probe",
        ))
        .build();
    let probe = ObjectRequest::Get {
        key: ENDPOINT_PROBE_KEY,
        content_disposition: None,
    };
    let signed = sdk::presign(
        &Client::from_conf(config),
        bucket,
        &probe,
        SystemTime::now(),
        60,
    )
    .await?;
    fast::Endpoint::from_presigned(&signed.url, ENDPOINT_PROBE_KEY)
}

impl Presigner {
    pub async fn new(
        client: Client,
        bucket: String,
        credentials: Arc<CredentialsCache>,
        clock: SharedClock,
        signer: SignerKind,
    ) -> Result<Self, StorageError> {
        let endpoint = sdk_endpoint(&client, &bucket).await?;
        let backend = match signer {
            SignerKind::Sdk => Backend::Sdk,
            SignerKind::Fast => Backend::Fast(FastSigner::new(endpoint.clone())),
        };
        Ok(Self {
            client,
            bucket,
            credentials,
            clock,
            endpoint,
            backend,
        })
    }

    /// The signing credentials, the start and the lifetime for a new URL, or why none can be
    /// given.
    async fn lifetime(
        &self,
        requested_secs: Option<u64>,
        policy_max_secs: u64,
    ) -> Result<(Credentials, SystemTime, u64), StorageError> {
        let credentials = self.credentials.get().await.map_err(|e| {
            StorageError::new(
                StorageErrorKind::Credentials,
                crate::telemetry::error_chain(&e),
            )
        })?;
        let now = self.clock.now();
        let secs =
            effective_expiry_secs(requested_secs, policy_max_secs, credentials.expiry(), now)
                .ok_or_else(|| {
                    StorageError::new(
                        StorageErrorKind::Credentials,
                        "signing credentials expire within the safety margin",
                    )
                })?;
        Ok((credentials, now, secs))
    }

    /// Presigns `request` with the configured signer.
    pub async fn presign(
        &self,
        request: ObjectRequest<'_>,
        requested_secs: Option<u64>,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        self.presign_in_window(request, requested_secs, policy_max_secs, 0)
            .await
    }

    /// As [`Presigner::presign`], signed at the start of the current `window_secs` window (when
    /// the lifetime is longer than the window), so that every URL for the same request within
    /// one window is byte-identical. The lifetime left is up to one window shorter.
    pub async fn presign_in_window(
        &self,
        request: ObjectRequest<'_>,
        requested_secs: Option<u64>,
        policy_max_secs: u64,
        window_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        request.check_ranges()?;
        let (credentials, now, secs) = self.lifetime(requested_secs, policy_max_secs).await?;
        let start = window_start(now, window_secs, secs);
        let signed = match &self.backend {
            Backend::Fast(signer) => signer.presign(&request, start, secs, &credentials)?,
            Backend::Sdk if !request.sdk_can_presign() => {
                sigv4::presign(&self.endpoint, &request, start, secs, &credentials)?
            }
            // Boxed: the SDK's future is large, and the fast path should not carry it.
            Backend::Sdk => {
                Box::pin(sdk::presign(
                    &self.client,
                    &self.bucket,
                    &request,
                    start,
                    secs,
                ))
                .await?
            }
        };
        tracing::debug!(
            url = %crate::telemetry::redact_url(&signed.url),
            method = request.method(),
            expires_in = secs,
            "presigned"
        );
        crate::metrics::Metrics::global().url_issued(request.operation());
        let expires_at = start + Duration::from_secs(secs);
        Ok(PresignedUrl {
            url: signed.url,
            method: request.method(),
            headers: signed.headers,
            expires_at,
            expires_in: expires_at
                .duration_since(now)
                .map_or(0, |left| left.as_secs()),
        })
    }

    /// A presigned PutObject URL that allows exactly `grant`: the store refuses another length,
    /// type, metadata or checksum, because they are signed headers the client must send as given.
    pub async fn put_object(
        &self,
        key: &ObjectKey,
        grant: PutObjectGrant,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let request = ObjectRequest::Put {
            key: key.as_str(),
            grant: &grant,
        };
        self.presign(request, None, policy_max_secs).await
    }

    /// A POST policy for a browser form upload of `key` that allows exactly `grant`'s type and
    /// metadata and a body of 1 to `max_length` bytes: the store checks them before it stores
    /// anything (the bound a presigned PUT cannot sign when the length is unknown).
    pub async fn post_object(
        &self,
        key: &ObjectKey,
        grant: &PutObjectGrant,
        max_length: u64,
        policy_max_secs: u64,
    ) -> Result<PresignedPost, StorageError> {
        let (credentials, now, secs) = self.lifetime(None, policy_max_secs).await?;
        let request = post_policy::PostRequest {
            bucket: &self.bucket,
            key: key.as_str(),
            grant,
            lengths: 1..=max_length,
        };
        let post = post_policy::presign_post(&self.endpoint, &request, now, secs, &credentials)?;
        tracing::debug!(url = %post.url, expires_in = secs, "signed a POST policy");
        crate::metrics::Metrics::global().url_issued("post_object");
        Ok(post)
    }

    /// A presigned UploadPart URL for part `number` of `upload_id`, with its exact length signed.
    pub async fn upload_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        number: u64,
        content_length: Option<u64>,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let request = ObjectRequest::UploadPart {
            key: key.as_str(),
            upload_id,
            part_number: number,
            content_length,
        };
        self.presign(request, None, policy_max_secs).await
    }

    /// A CreateMultipartUpload URL that signs the grant's type and metadata into the request,
    /// so that the client cannot start an upload with others.
    pub async fn create_multipart(
        &self,
        key: &ObjectKey,
        grant: PutObjectGrant,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let request = ObjectRequest::CreateMultipart {
            key: key.as_str(),
            grant: &grant,
        };
        self.presign(request, None, policy_max_secs).await
    }

    /// A ListParts URL.
    pub async fn list_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let request = ObjectRequest::ListParts {
            key: key.as_str(),
            upload_id,
        };
        self.presign(request, None, policy_max_secs).await
    }

    /// A CompleteMultipartUpload URL; with `no_overwrite`, `If-None-Match: *` is signed in, so
    /// that the completion cannot replace an object (where the store enforces it).
    pub async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        no_overwrite: bool,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let request = ObjectRequest::CompleteMultipart {
            key: key.as_str(),
            upload_id,
            if_none_match: no_overwrite,
        };
        self.presign(request, None, policy_max_secs).await
    }

    /// An AbortMultipartUpload URL.
    pub async fn abort_multipart(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let request = ObjectRequest::AbortMultipart {
            key: key.as_str(),
            upload_id,
        };
        self.presign(request, None, policy_max_secs).await
    }

    /// The unsigned URL of `key` as this signer's URLs name it (HLS: a playlist may name its
    /// objects by this absolute form).
    pub fn object_url(&self, key: &ObjectKey) -> String {
        let mut url = format!("{}{}/", self.endpoint.origin(), self.endpoint.path_prefix());
        encoding::push_encoded(&mut url, key.as_str(), &encoding::KEY_PATH_ENCODER);
        url
    }

    /// A presigned GetObject URL; `content_disposition` is signed as
    /// `response-content-disposition`; signed at the start of the current `window_secs` window
    /// (`presign.time_window_secs`, 0: now).
    pub async fn get_object(
        &self,
        key: &ObjectKey,
        requested_secs: Option<u64>,
        policy_max_secs: u64,
        content_disposition: Option<String>,
        window_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let request = ObjectRequest::Get {
            key: key.as_str(),
            content_disposition: content_disposition.as_deref(),
        };
        self.presign_in_window(request, requested_secs, policy_max_secs, window_secs)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        NOW + Duration::from_secs(secs)
    }

    #[test]
    fn shorter_requests_are_honoured_longer_ones_clamped() {
        assert_eq!(effective_expiry_secs(Some(30), 300, None, NOW), Some(30));
        assert_eq!(effective_expiry_secs(Some(3000), 300, None, NOW), Some(300));
        assert_eq!(effective_expiry_secs(None, 300, None, NOW), Some(300));
    }

    #[test]
    fn windows_round_the_signing_time_down_when_the_lifetime_allows() {
        let now = at(1_000_123);
        assert_eq!(window_start(now, 0, 300), now);
        assert_eq!(window_start(now, 60, 300), at(1_000_080));
        assert_eq!(window_start(at(1_000_080), 60, 300), at(1_000_080));
        // A lifetime no longer than the window is signed from now.
        assert_eq!(window_start(now, 60, 60), now);
    }

    #[test]
    fn never_beyond_seven_days() {
        assert_eq!(
            effective_expiry_secs(None, 10_000_000, None, NOW),
            Some(MAX_PRESIGN_EXPIRY_SECS)
        );
    }

    #[test]
    fn never_beyond_the_credentials_less_a_minute() {
        assert_eq!(
            effective_expiry_secs(None, 300, Some(at(200)), NOW),
            Some(140)
        );
        assert_eq!(effective_expiry_secs(None, 300, Some(at(60)), NOW), None);
        assert_eq!(
            effective_expiry_secs(None, 300, Some(at(10_000)), NOW),
            Some(300)
        );
    }
}
