//! The JSON bodies and queries of the upload routes, as clients send and receive them.

use serde::{Deserialize, Serialize};

use crate::domain::S3UploadId;
use crate::routes::videos::UrlResponse;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    pub content_type: String,
    pub size: u64,
    pub filename: Option<String>,
    pub access: Option<String>,
    /// Base64 SHA-256 of the body.
    pub sha256: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UploadCreated {
    pub id: String,
    pub key: String,
    #[serde(flatten)]
    pub url: UrlResponse,
}

#[derive(Debug, Serialize)]
pub struct MultipartCreated {
    pub id: String,
    pub key: String,
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u64,
}

#[derive(Debug, Serialize)]
pub struct PartUrl {
    pub part_number: u64,
    /// The signed length; `null` for uploads whose size was never declared (Uppy's protocols).
    pub size: Option<u64>,
    #[serde(flatten)]
    pub url: UrlResponse,
}

#[derive(Debug, Serialize)]
pub struct PartInfo {
    pub part_number: u64,
    pub size: u64,
    pub etag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadIdQuery {
    pub upload_id: S3UploadId,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteMultipart {
    pub upload_id: S3UploadId,
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    pub part_number: u64,
    pub etag: String,
}

#[derive(Debug, Serialize)]
pub struct UploadReady {
    pub id: String,
    pub size: u64,
    pub content_type: String,
    pub access: String,
    pub status: &'static str,
}
