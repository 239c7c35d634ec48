//! The reference signer: aws-sdk-s3's own presigning (`storage.signer = "sdk"`).

use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};

use super::{ObjectRequest, Signed};
use crate::storage::{StorageError, StorageErrorKind};

fn error(detail: impl Into<String>) -> StorageError {
    StorageError::new(StorageErrorKind::Presign, detail)
}

fn out_of_range(what: &str) -> StorageError {
    error(format!("{what} out of range"))
}

/// The headers a presigned request was signed with: the client must send them as given.
fn signed_headers(request: &PresignedRequest) -> Vec<(String, String)> {
    request
        .headers()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect()
}

fn length(value: Option<u64>, what: &str) -> Result<Option<i64>, StorageError> {
    value
        .map(i64::try_from)
        .transpose()
        .map_err(|_| out_of_range(what))
}

/// Signs `request` on `bucket` for `expires_in` seconds from `start`, with the SDK.
pub async fn presign(
    client: &Client,
    bucket: &str,
    request: &ObjectRequest<'_>,
    start: SystemTime,
    expires_in: u64,
) -> Result<Signed, StorageError> {
    let config = PresigningConfig::builder()
        .start_time(start)
        .expires_in(Duration::from_secs(expires_in))
        .build()
        .map_err(|e| error(e.to_string()))?;
    let failed = |e: &dyn std::error::Error| error(crate::telemetry::error_chain(e));
    let presigned = match request {
        ObjectRequest::Get {
            key,
            content_disposition,
        } => client
            .get_object()
            .bucket(bucket)
            .key(*key)
            .set_response_content_disposition(content_disposition.map(str::to_owned))
            .presigned(config)
            .await
            .map_err(|e| failed(&e))?,
        ObjectRequest::Put { key, grant } => {
            let mut put = client
                .put_object()
                .bucket(bucket)
                .key(*key)
                .content_type(&grant.content_type)
                .set_content_length(length(grant.content_length, "content length")?)
                .set_checksum_sha256(grant.checksum_sha256.clone());
            for (name, value) in &grant.metadata {
                put = put.metadata(name, value);
            }
            if grant.if_none_match {
                put = put.if_none_match("*");
            }
            put.presigned(config).await.map_err(|e| failed(&e))?
        }
        ObjectRequest::UploadPart {
            key,
            upload_id,
            part_number,
            content_length,
        } => client
            .upload_part()
            .bucket(bucket)
            .key(*key)
            .upload_id(*upload_id)
            .part_number(i32::try_from(*part_number).map_err(|_| out_of_range("part number"))?)
            .set_content_length(length(*content_length, "part length")?)
            .presigned(config)
            .await
            .map_err(|e| failed(&e))?,
        ObjectRequest::CreateMultipart { .. }
        | ObjectRequest::ListParts { .. }
        | ObjectRequest::CompleteMultipart { .. }
        | ObjectRequest::AbortMultipart { .. } => {
            return Err(error("aws-sdk-s3 cannot presign this operation"));
        }
    };
    Ok(Signed {
        url: presigned.uri().to_owned(),
        headers: signed_headers(&presigned),
    })
}
