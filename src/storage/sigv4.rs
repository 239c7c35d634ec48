//! Presigned URLs for the multipart operations aws-sdk-s3 cannot presign (it presigns only
//! GetObject, PutObject, UploadPart, HeadObject, DeleteObject and ListObjectVersions), signed with
//! aws-sigv4 the way the SDK signs S3 URLs: query-string signature, `UNSIGNED-PAYLOAD`, single
//! percent-encoding, no path normalisation. Path-style URLs only.

use std::time::Duration;

use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::utf8_percent_encode;

use super::presign::{KEY_PATH, PresignedUrl, Presigner, QUERY};
use super::{StorageError, StorageErrorKind};
use crate::domain::ObjectKey;

/// A multipart operation on one upload.
#[derive(Debug, Clone, Copy)]
pub enum MultipartOperation<'a> {
    Create,
    ListParts { upload_id: &'a str },
    Complete { upload_id: &'a str },
    Abort { upload_id: &'a str },
}

impl MultipartOperation<'_> {
    fn method(&self) -> &'static str {
        match self {
            Self::Create | Self::Complete { .. } => "POST",
            Self::ListParts { .. } => "GET",
            Self::Abort { .. } => "DELETE",
        }
    }

    fn query(&self) -> String {
        match self {
            Self::Create => "uploads=".to_owned(),
            Self::ListParts { upload_id }
            | Self::Complete { upload_id }
            | Self::Abort { upload_id } => {
                format!("uploadId={}", utf8_percent_encode(upload_id, QUERY))
            }
        }
    }
}

fn presign_error(e: impl std::fmt::Display) -> StorageError {
    StorageError::new(StorageErrorKind::Presign, e.to_string())
}

impl Presigner {
    /// A CreateMultipartUpload URL that signs the grant's type and metadata into the request, so
    /// that the client cannot start an upload with others.
    pub async fn create_multipart(
        &self,
        key: &ObjectKey,
        grant: super::PutObjectGrant,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let mut headers = vec![("content-type".to_owned(), grant.content_type)];
        headers.extend(
            grant
                .metadata
                .into_iter()
                .map(|(name, value)| (format!("x-amz-meta-{name}"), value)),
        );
        self.multipart_operation(MultipartOperation::Create, key, headers, policy_max_secs)
            .await
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
        let headers = if no_overwrite {
            vec![("if-none-match".to_owned(), "*".to_owned())]
        } else {
            Vec::new()
        };
        self.multipart_operation(
            MultipartOperation::Complete { upload_id },
            key,
            headers,
            policy_max_secs,
        )
        .await
    }

    /// A presigned URL for `operation` on `key`; `headers` (lowercase names) are signed and must
    /// be sent as given.
    pub async fn multipart_operation(
        &self,
        operation: MultipartOperation<'_>,
        key: &ObjectKey,
        headers: Vec<(String, String)>,
        policy_max_secs: u64,
    ) -> Result<PresignedUrl, StorageError> {
        let (credentials, now, secs) = self.lifetime(None, policy_max_secs).await?;
        let identity = Identity::from(credentials);
        let url = format!(
            "{}/{}/{}?{}",
            self.endpoint().trim_end_matches('/'),
            self.bucket(),
            utf8_percent_encode(key.as_str(), KEY_PATH),
            operation.query()
        );
        let host = url
            .parse::<axum::http::Uri>()
            .map_err(presign_error)?
            .authority()
            .map(ToString::to_string)
            .ok_or_else(|| presign_error("endpoint has no host"))?;
        let mut signed_headers = vec![("host".to_owned(), host)];
        signed_headers.extend(headers.iter().cloned());

        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(secs));
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region())
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(presign_error)?
            .into();
        let signable = SignableRequest::new(
            operation.method(),
            url.as_str(),
            signed_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::UnsignedPayload,
        )
        .map_err(presign_error)?;
        let (instructions, _signature) =
            sign(signable, &params).map_err(presign_error)?.into_parts();
        let mut request = axum::http::Request::builder()
            .method(operation.method())
            .uri(url.as_str())
            .body(())
            .map_err(presign_error)?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(PresignedUrl {
            url: request.uri().to_string(),
            method: operation.method(),
            headers,
            expires_at: now + Duration::from_secs(secs),
            expires_in: secs,
        })
    }
}
