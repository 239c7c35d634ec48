//! The JSON bodies and queries of the upload routes, as clients send and receive them.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::S3UploadId;
use crate::routes::json::JsonObject;
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

impl Created {
    /// The object `Serialize` writes, through [`JsonObject`] (a presigned URL is on the hot
    /// path).
    pub fn to_json(&self) -> JsonObject {
        match self {
            Self::Single(single) => {
                let mut object = JsonObject::with_capacity(
                    single.url.capacity() + single.id.len() + single.key.len() + 20,
                );
                object.str("id", &single.id).str("key", &single.key);
                single.url.write(&mut object);
                object
            }
            Self::Multipart(multipart) => {
                let mut object = JsonObject::with_capacity(
                    multipart.id.len() + multipart.key.len() + multipart.upload_id.len() + 100,
                );
                object
                    .str("id", &multipart.id)
                    .str("key", &multipart.key)
                    .str("upload_id", &multipart.upload_id)
                    .u64("part_size", multipart.part_size)
                    .u64("part_count", multipart.part_count);
                object
            }
        }
    }
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

impl PartUrl {
    /// The object `Serialize` writes, through [`JsonObject`].
    pub fn to_json(&self) -> JsonObject {
        let mut object = JsonObject::with_capacity(self.url.capacity() + 40);
        object
            .u64("part_number", self.part_number)
            .opt_u64("size", self.size);
        self.url.write(&mut object);
        object
    }
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::storage::PresignedUrl;

    fn url(headers: &[(&str, &str)]) -> UrlResponse {
        UrlResponse::from(PresignedUrl {
            url: "http://127.0.0.1:9000/bucket/videos/a?X-Amz-Signature=0f&x=%22".to_owned(),
            method: "PUT",
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            expires_at: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            expires_in: 900,
        })
    }

    /// The hand-written answers are the bytes `Serialize` gives (what the OpenAPI document and
    /// the clients were written against), with escaping and every optional field.
    #[test]
    fn answers_are_what_serialize_writes() {
        let headers = [
            ("content-type", "video/mp4"),
            ("x-amz-meta-filename", "a \"quoted\" \\ name\t.mp4"),
            ("content-length", "1048576"),
        ];
        let single = Created::Single(UploadCreated {
            id: "u1".to_owned(),
            key: "videos/u1".to_owned(),
            url: url(&headers),
        });
        let multipart = Created::Multipart(MultipartCreated {
            id: "u2".to_owned(),
            key: "videos/u2".to_owned(),
            upload_id: "a\"b".to_owned(),
            part_size: 8 << 20,
            part_count: 3,
        });
        for created in [single, multipart] {
            assert_eq!(
                String::from_utf8(created.to_json().finish()).unwrap(),
                serde_json::to_string(&created).unwrap()
            );
        }
        for size in [Some(5), None] {
            let part = PartUrl {
                part_number: 2,
                size,
                url: url(&[]),
            };
            assert_eq!(
                String::from_utf8(part.to_json().finish()).unwrap(),
                serde_json::to_string(&part).unwrap()
            );
        }
        let mut playback = url(&headers);
        for session in [None, Some("s-1".to_owned())] {
            playback.session = session;
            let mut object = JsonObject::with_capacity(playback.capacity());
            playback.write(&mut object);
            assert_eq!(
                String::from_utf8(object.finish()).unwrap(),
                serde_json::to_string(&playback).unwrap()
            );
        }
    }
}
