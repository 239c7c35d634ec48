//! Multipart uploads: created by tollgate itself (so that owner and tier metadata are set by the
//! server), parts uploaded by the client with presigned UploadPart URLs.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::client::classify;
use super::{Storage, StorageError};
use crate::domain::ObjectKey;

/// A part the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub number: u64,
    pub size: u64,
    pub etag: Option<String>,
}

fn is_no_such_upload<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
    R: std::fmt::Debug,
{
    e.as_service_error()
        .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
        == Some("NoSuchUpload")
}

/// A completion the store refused for what was asked, not for who asked or its own health.
fn is_refusal<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
    R: std::fmt::Debug,
{
    const REFUSALS: [&str; 7] = [
        "InvalidPart",
        "InvalidPartOrder",
        "EntityTooSmall",
        "MalformedXML",
        "InvalidRequest",
        "InvalidArgument",
        "PreconditionFailed",
    ];
    let code = e
        .as_service_error()
        .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code);
    code.is_some_and(|c| REFUSALS.contains(&c))
}

impl Storage {
    /// Whether the store refused an operation on an upload id as one it does not know: 404, or
    /// 400 for an id it cannot parse (s3s-fs). A 403 stays a refusal of tollgate's key (on AWS,
    /// a policy without s3:AbortMultipartUpload, or KMS rights a completion needs): it must be
    /// seen, not answered as a missing upload.
    fn unknown_to_writer<E>(
        &self,
        e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> bool {
        e.raw_response()
            .is_some_and(|r| matches!(r.status().as_u16(), 400 | 404))
    }

    /// Starts a multipart upload; returns its S3 upload id.
    pub async fn create_multipart(
        &self,
        key: &ObjectKey,
        content_type: &str,
        metadata: Vec<(String, String)>,
    ) -> Result<String, StorageError> {
        let mut create = self
            .writer
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type);
        for (name, value) in metadata {
            create = create.metadata(name, value);
        }
        let out = create
            .send()
            .await
            .map_err(|e| classify(&e, "CreateMultipartUpload"))?;
        out.upload_id().map(str::to_owned).ok_or_else(|| {
            StorageError::new(
                super::StorageErrorKind::Unavailable,
                "store returned no upload id",
            )
        })
    }

    /// The parts uploaded so far, by part number; `None` when the upload does not exist.
    pub async fn list_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
    ) -> Result<Option<Vec<StoredPart>>, StorageError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let result = self
                .reader
                .list_parts()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(upload_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(e)
                    if is_no_such_upload(&e)
                        || e.raw_response()
                            .is_some_and(|r| matches!(r.status().as_u16(), 400 | 404)) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(classify(&e, "ListParts")),
            };
            parts.extend(out.parts().iter().map(|p| {
                StoredPart {
                    number: p
                        .part_number()
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0),
                    size: p.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    etag: p.e_tag().map(str::to_owned),
                }
            }));
            match (out.is_truncated(), out.next_part_number_marker()) {
                (Some(true), Some(next)) if Some(next) != marker.as_deref() => {
                    marker = Some(next.to_owned());
                }
                _ => break,
            }
        }
        // Some stores (s3s-fs) list parts unsorted.
        parts.sort_by_key(|p| p.number);
        Ok(Some(parts))
    }

    /// Assembles the parts; `Ok(false)` when the upload does not exist. With `if_none_match`,
    /// not over an existing object (a second multipart upload to the same key, where the store
    /// enforces it).
    pub async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[(u64, String)],
        if_none_match: bool,
    ) -> Result<bool, StorageError> {
        let completed = parts
            .iter()
            .map(|(number, etag)| {
                CompletedPart::builder()
                    .part_number(i32::try_from(*number).unwrap_or(i32::MAX))
                    .e_tag(etag)
                    .build()
            })
            .collect();
        let result = self
            .writer
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .set_if_none_match(if_none_match.then(|| "*".to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => {
                // The key now names an object: forget any cached "not found". The caller that
                // needs its metadata HEADs it once (`complete_upload`).
                self.metadata.invalidate(key).await;
                Ok(true)
            }
            // What was asked for cannot be assembled (InvalidPart, InvalidPartOrder,
            // EntityTooSmall, MalformedXML), or an object is there already (If-None-Match): the
            // client's error, not an outage.
            Err(e) if is_refusal(&e) => {
                let mut refused = classify(&e, "CompleteMultipartUpload");
                refused.kind = super::StorageErrorKind::Rejected;
                Err(refused)
            }
            Err(e) if is_no_such_upload(&e) || self.unknown_to_writer(&e) => Ok(false),
            Err(e) => Err(classify(&e, "CompleteMultipartUpload")),
        }
    }

    /// Abandons the upload and its parts; `Ok(false)` when it does not exist.
    pub async fn abort_multipart(
        &self,
        key: &ObjectKey,
        upload_id: &str,
    ) -> Result<bool, StorageError> {
        let result = self
            .writer
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_no_such_upload(&e) || self.unknown_to_writer(&e) => Ok(false),
            Err(e) => Err(classify(&e, "AbortMultipartUpload")),
        }
    }
}
