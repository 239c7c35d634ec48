//! Presigned URLs through aws-sdk-s3's presigning, with the lifetime clamped to policy, to S3's
//! 7-day limit and to the signing credentials' own expiry.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;

use super::{CredentialsCache, StorageError, StorageErrorKind};
use crate::clock::SharedClock;
use crate::config::MAX_PRESIGN_EXPIRY_SECS;
use crate::domain::ObjectKey;

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

/// The headers a presigned request was signed with: the client must send them as given.
fn signed_headers(request: &aws_sdk_s3::presigning::PresignedRequest) -> Vec<(String, String)> {
    request
        .headers()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect()
}

pub struct Presigner {
    client: Client,
    bucket: String,
    credentials: Arc<CredentialsCache>,
    clock: SharedClock,
    /// Host written into URLs signed without the SDK (path style).
    endpoint: String,
    region: String,
}

impl Presigner {
    pub fn new(
        client: Client,
        bucket: String,
        credentials: Arc<CredentialsCache>,
        clock: SharedClock,
        endpoint: String,
        region: String,
    ) -> Self {
        Self {
            client,
            bucket,
            credentials,
            clock,
            endpoint,
            region,
        }
    }

    pub(super) fn credentials(&self) -> &CredentialsCache {
        &self.credentials
    }

    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(super) fn region(&self) -> &str {
        &self.region
    }

    pub(super) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The lifetime for a new URL and its start, or why none can be given.
    pub(super) async fn lifetime(
        &self,
        requested_secs: Option<u64>,
        policy_max_secs: u64,
    ) -> Result<(SystemTime, u64, PresigningConfig), StorageError> {
        let now = self.clock.now();
        let credentials_expiry = self.credentials.expiry().await.map_err(|e| {
            StorageError::new(StorageErrorKind::Credentials, crate::error::error_chain(&e))
        })?;
        let secs = effective_expiry_secs(requested_secs, policy_max_secs, credentials_expiry, now)
            .ok_or_else(|| {
                StorageError::new(
                    StorageErrorKind::Credentials,
                    "signing credentials expire within the safety margin",
                )
            })?;
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(Duration::from_secs(secs))
            .build()
            .map_err(|e| StorageError::new(StorageErrorKind::Presign, e.to_string()))?;
        Ok((now, secs, config))
    }

    /// A presigned PutObject URL that allows exactly `grant`: the store refuses another length,
    /// type, metadata or checksum, because they are signed headers the client must send as given.
    pub async fn put_object(
        &self,
        key: &ObjectKey,
        grant: PutObjectGrant,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let (now, secs, config) = self.lifetime(None, policy_max_secs).await?;
        let length = grant
            .content_length
            .map(i64::try_from)
            .transpose()
            .map_err(|_| {
                StorageError::new(StorageErrorKind::Presign, "content length out of range")
            })?;
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(grant.content_type)
            .set_content_length(length)
            .set_checksum_sha256(grant.checksum_sha256);
        for (name, value) in grant.metadata {
            put = put.metadata(name, value);
        }
        if grant.if_none_match {
            put = put.if_none_match("*");
        }
        let request = put.presigned(config).await.map_err(|e| {
            StorageError::new(StorageErrorKind::Presign, crate::error::error_chain(&e))
        })?;
        let headers = signed_headers(&request);
        let url = request.uri().to_owned();
        tracing::debug!(url = %crate::telemetry::redact_url(&url), expires_in = secs, "presigned PUT");
        Ok(PresignedUrl {
            url,
            method: "PUT",
            headers,
            expires_at: now + Duration::from_secs(secs),
            expires_in: secs,
        })
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
        let (now, secs, config) = self.lifetime(None, policy_max_secs).await?;
        let out_of_range = || {
            StorageError::new(
                StorageErrorKind::Presign,
                "part number or length out of range",
            )
        };
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .part_number(i32::try_from(number).map_err(|_| out_of_range())?)
            .set_content_length(
                content_length
                    .map(i64::try_from)
                    .transpose()
                    .map_err(|_| out_of_range())?,
            )
            .presigned(config)
            .await
            .map_err(|e| {
                StorageError::new(StorageErrorKind::Presign, crate::error::error_chain(&e))
            })?;
        let headers = signed_headers(&request);
        Ok(PresignedUrl {
            url: request.uri().to_owned(),
            method: "PUT",
            headers,
            expires_at: now + Duration::from_secs(secs),
            expires_in: secs,
        })
    }

    /// A presigned GetObject URL; `content_disposition` is signed as
    /// `response-content-disposition`.
    pub async fn get_object(
        &self,
        key: &ObjectKey,
        requested_secs: Option<u64>,
        policy_max_secs: u64,
        content_disposition: Option<String>,
    ) -> Result<PresignedUrl, StorageError> {
        let (now, secs, config) = self.lifetime(requested_secs, policy_max_secs).await?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_response_content_disposition(content_disposition)
            .presigned(config)
            .await
            .map_err(|e| {
                StorageError::new(StorageErrorKind::Presign, crate::error::error_chain(&e))
            })?;
        let url = request.uri().to_owned();
        tracing::debug!(url = %crate::telemetry::redact_url(&url), expires_in = secs, "presigned GET");
        Ok(PresignedUrl {
            url,
            method: "GET",
            headers: Vec::new(),
            expires_at: now + Duration::from_secs(secs),
            expires_in: secs,
        })
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
