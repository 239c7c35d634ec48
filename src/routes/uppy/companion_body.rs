//! The bodies, queries and answers of the Companion-style routes, in `@uppy/aws-s3` 4.x's shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// `POST /s3/multipart`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateMultipart {
    pub filename: String,
    /// The file's media type (one of `uploads.allowed_content_types`).
    #[serde(rename = "type")]
    pub content_type: String,
    /// Uppy's file metadata; `access` names the tier.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeyQuery {
    /// The object key `POST /s3/multipart` answered.
    pub key: String,
}

/// `POST /s3/multipart/{uploadId}/complete`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CompleteBody {
    pub parts: Vec<UppyPart>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct UppyPart {
    pub part_number: u64,
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// A form upload (S3 POST policy): POST `fields`, then the file, to `url`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormUpload {
    /// `POST`.
    pub method: &'static str,
    pub url: String,
    /// The form's fields, in order, before the file.
    #[schema(value_type = BTreeMap<String, String>)]
    pub fields: serde_json::Map<String, Value>,
    /// Always empty: a form carries its own.
    pub headers: BTreeMap<String, String>,
}

/// A multipart upload tollgate created.
#[derive(Debug, Serialize, ToSchema)]
pub struct MultipartStarted {
    pub key: String,
    #[serde(rename = "uploadId")]
    pub upload_id: String,
}

/// A part's PUT URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartSigned {
    pub url: String,
    /// Seconds the URL lives.
    pub expires: u64,
}

/// A part the store holds.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StoredPart {
    pub part_number: u64,
    #[serde(rename = "ETag")]
    pub etag: Option<String>,
    pub size: u64,
}

/// A completed multipart upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct MultipartCompleted {
    pub location: String,
    pub key: String,
}
