//! The JSON bodies and queries of the upload routes, as clients send and receive them.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::S3UploadId;
use crate::routes::videos::UrlResponse;

/// An upload's declaration: what the URL will allow, exactly.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    /// One of `uploads.allowed_content_types`.
    #[schema(example = "video/mp4")]
    pub content_type: String,
    /// Bytes; above `uploads.multipart_threshold_bytes` the upload is multipart.
    pub size: u64,
    /// The file's name, kept in the object's metadata.
    pub filename: Option<String>,
    /// The tier (one of `entitlement.tiers`); default `uploads.default_access`.
    pub access: Option<String>,
    /// Base64 SHA-256 of the body, signed into the URL (single uploads).
    #[schema(pattern = "^[A-Za-z0-9+/]{43}=$")]
    pub sha256: Option<String>,
}

/// `POST /uploads`' answer, by the declared size.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Created {
    Single(UploadCreated),
    Multipart(MultipartCreated),
}

/// An empty object: done, nothing to say.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

/// A single upload: PUT the file to `url` with exactly `headers`, then complete it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadCreated {
    pub id: String,
    pub key: String,
    #[serde(flatten)]
    pub url: UrlResponse,
}

/// A multipart upload: sign each part, PUT them, then complete it with their ETags.
#[derive(Debug, Serialize, ToSchema)]
pub struct MultipartCreated {
    pub id: String,
    pub key: String,
    pub upload_id: String,
    pub part_size: u64,
    pub part_count: u64,
}

/// A PUT URL for one part, its exact length signed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartUrl {
    pub part_number: u64,
    /// The signed length; `null` for uploads whose size was never declared (Uppy's protocols).
    pub size: Option<u64>,
    #[serde(flatten)]
    pub url: UrlResponse,
}

/// A part the store holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartInfo {
    pub part_number: u64,
    pub size: u64,
    pub etag: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadIdQuery {
    /// The store's id of the multipart upload (`upload_id` of `POST /uploads`).
    pub upload_id: S3UploadId,
}

/// A multipart upload's parts, to assemble.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteMultipart {
    pub upload_id: S3UploadId,
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    pub part_number: u64,
    pub etag: String,
}

/// The stored object is what was authorised: it can be played as video `id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadReady {
    pub id: String,
    pub size: u64,
    pub content_type: String,
    pub access: String,
    pub status: UploadStatus,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    Ready,
}
