//! The bodies and queries of the Companion-style routes, in `@uppy/aws-s3` 4.x's shape.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct CreateMultipart {
    pub filename: String,
    #[serde(rename = "type")]
    pub content_type: String,
    #[serde(default)]
    pub metadata: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyQuery {
    pub key: String,
}

#[derive(Debug, Deserialize)]
pub struct CompleteBody {
    pub parts: Vec<UppyPart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UppyPart {
    pub part_number: u64,
    #[serde(rename = "ETag")]
    pub etag: String,
}
