//! aws-sigv4 signing the operations aws-sdk-s3 cannot presign (it presigns only GetObject,
//! PutObject, UploadPart, HeadObject, DeleteObject and ListObjectVersions): CreateMultipartUpload,
//! ListParts, CompleteMultipartUpload and AbortMultipartUpload, signed the way the SDK signs S3
//! URLs (query-string signature, `UNSIGNED-PAYLOAD`, single percent-encoding, no path
//! normalisation), on the endpoint the SDK's own URLs use. It is the `sdk` signer for these
//! operations and the reference the fast signer's URLs for them are proven against.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::utf8_percent_encode;

use super::encoding::{KEY_PATH, QUERY};
use super::fast::Endpoint;
use super::{ObjectRequest, Signed};
use crate::storage::{StorageError, StorageErrorKind};

fn error(e: impl std::fmt::Display) -> StorageError {
    StorageError::new(StorageErrorKind::Presign, e.to_string())
}

/// The query that names the operation, before the signature's parameters.
fn operation_query(request: &ObjectRequest<'_>) -> Result<String, StorageError> {
    match request {
        ObjectRequest::CreateMultipart { .. } => Ok("uploads=".to_owned()),
        ObjectRequest::ListParts { upload_id, .. }
        | ObjectRequest::CompleteMultipart { upload_id, .. }
        | ObjectRequest::AbortMultipart { upload_id, .. } => Ok(format!(
            "uploadId={}",
            utf8_percent_encode(upload_id, QUERY)
        )),
        ObjectRequest::Get { .. }
        | ObjectRequest::Put { .. }
        | ObjectRequest::UploadPart { .. } => {
            Err(error("aws-sdk-s3 presigns this operation itself"))
        }
    }
}

/// Signs `request` at `endpoint` for `expires_in` seconds from `start` with `credentials`.
pub fn presign(
    endpoint: &Endpoint,
    request: &ObjectRequest<'_>,
    start: SystemTime,
    expires_in: u64,
    credentials: &Credentials,
) -> Result<Signed, StorageError> {
    let identity = Identity::from(credentials.clone());
    let url = format!(
        "{}{}/{}?{}",
        endpoint.origin(),
        endpoint.path_prefix(),
        utf8_percent_encode(request.key(), KEY_PATH),
        operation_query(request)?
    );
    let headers = request.headers();
    let mut signed_headers = vec![("host".to_owned(), endpoint.host().to_owned())];
    signed_headers.extend(headers.iter().cloned());

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires_in));
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(endpoint.region())
        .name("s3")
        .time(start)
        .settings(settings)
        .build()
        .map_err(error)?
        .into();
    let signable = SignableRequest::new(
        request.method(),
        url.as_str(),
        signed_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::UnsignedPayload,
    )
    .map_err(error)?;
    let (instructions, _signature) = sign(signable, &params).map_err(error)?.into_parts();
    let mut http_request = axum::http::Request::builder()
        .method(request.method())
        .uri(url.as_str())
        .body(())
        .map_err(error)?;
    instructions.apply_to_request_http1x(&mut http_request);
    Ok(Signed {
        url: http_request.uri().to_string(),
        headers,
    })
}
