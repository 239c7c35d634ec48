//! What tollgate announces: `upload.completed`, as a Standard Webhooks payload
//! (`{"type", "timestamp", "data"}`), and the message id receivers deduplicate by.

use std::time::SystemTime;

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The one event type so far.
pub const UPLOAD_COMPLETED: &str = "upload.completed";

/// How the upload was completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletedVia {
    /// `POST /uploads/{id}/complete` (a single PUT, or a multipart upload tollgate assembled).
    UploadsComplete,
    /// Uppy 4.x/5.x `POST /s3/multipart/{uploadId}/complete` (tollgate assembled the parts).
    UppyMultipartComplete,
    /// The client finished at the store itself (an Uppy form upload, or a 6.x multipart
    /// completion it signed through `POST /s3/sign`), and tollgate later found the object there.
    ClientAtStore,
}

/// `data` of an `upload.completed` event: what a consumer needs to find and use the upload.
/// Never a URL, signature, credential or token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadCompleted {
    /// tollgate's upload id.
    pub upload_id: String,
    /// The video the upload became (`GET /videos/{id}/url`).
    pub video_id: String,
    pub bucket: String,
    /// The object's key in `bucket`.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// `None` only when the store could not be asked after it completed the upload.
    pub content_type: Option<String>,
    /// The tier (`x-amz-meta-access`), when known as for `content_type`.
    pub access: Option<String>,
    /// Who completed it (the `sub` of the token; the uploader for [`CompletedVia::ClientAtStore`]).
    pub subject: String,
    pub completed_via: CompletedVia,
}

#[derive(Serialize)]
struct Payload<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: &'a T,
}

/// An event ready to send: its id and its body, the bytes every attempt signs and sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub kind: &'static str,
    /// Cheap to clone: each attempt sends it again.
    pub body: Bytes,
}

impl Message {
    /// The event announcing `data`, which happened `at`.
    pub fn upload_completed(data: &UploadCompleted, at: SystemTime) -> Result<Self, EventError> {
        let payload = Payload {
            kind: UPLOAD_COMPLETED,
            timestamp: OffsetDateTime::from(at)
                .format(&Rfc3339)
                .map_err(EventError::Time)?,
            data,
        };
        Ok(Self {
            id: message_id(UPLOAD_COMPLETED, &data.bucket, &data.key),
            kind: UPLOAD_COMPLETED,
            body: serde_json::to_vec(&payload)
                .map_err(EventError::Json)?
                .into(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the event's time cannot be written as RFC 3339")]
    Time(#[source] time::error::Format),
    #[error("the event cannot be serialised")]
    Json(#[source] serde_json::Error),
}

/// The `webhook-id` of event `kind` about object `key`: derived, not drawn, so that the same
/// completion announced twice (a client retrying its completion, two replicas finding the same
/// object) carries the same id and receivers can drop the repeat. A key is completed once
/// (uploads never overwrite: `If-None-Match: *`), so the id names one event. `msg_` and 24
/// base64url characters: no `.`, which the signed content uses as its separator.
pub fn message_id(kind: &str, bucket: &str, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(kind)
        .chain_update([0])
        .chain_update(bucket)
        .chain_update([0])
        .chain_update(key)
        .finalize();
    format!("msg_{}", URL_SAFE_NO_PAD.encode(&digest[..18]))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    fn completed() -> UploadCompleted {
        UploadCompleted {
            upload_id: "0190-5-5-tag".to_owned(),
            video_id: "0190-5-5-tag".to_owned(),
            bucket: "videos".to_owned(),
            key: "videos/0190-5-5-tag".to_owned(),
            size: 5,
            content_type: Some("video/mp4".to_owned()),
            access: Some("premium".to_owned()),
            subject: "ursula".to_owned(),
            completed_via: CompletedVia::UploadsComplete,
        }
    }

    #[test]
    fn the_body_is_a_standard_webhooks_payload() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_614_265_330_250);
        let message = Message::upload_completed(&completed(), at).unwrap();
        let body: Value = serde_json::from_slice(&message.body).unwrap();
        assert_eq!(
            body,
            json!({
                "type": "upload.completed",
                "timestamp": "2021-02-25T15:02:10.25Z",
                "data": {
                    "upload_id": "0190-5-5-tag",
                    "video_id": "0190-5-5-tag",
                    "bucket": "videos",
                    "key": "videos/0190-5-5-tag",
                    "size": 5,
                    "content_type": "video/mp4",
                    "access": "premium",
                    "subject": "ursula",
                    "completed_via": "uploads_complete",
                }
            })
        );
        assert_eq!(message.kind, "upload.completed");
    }

    #[test]
    fn the_id_depends_on_the_object_only() {
        let at = SystemTime::now();
        let first = Message::upload_completed(&completed(), at).unwrap();
        let mut again = completed();
        again.completed_via = CompletedVia::ClientAtStore;
        again.subject = "admin".to_owned();
        let later = Message::upload_completed(&again, at + Duration::from_secs(60)).unwrap();
        assert_eq!(first.id, later.id);
        assert_ne!(first.body, later.body);

        let id = &first.id;
        assert!(id.starts_with("msg_") && id.len() == 28, "{id}");
        assert!(
            id[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{id}"
        );
        assert_ne!(message_id(UPLOAD_COMPLETED, "videos", "videos/other"), *id);
        assert_ne!(
            message_id(UPLOAD_COMPLETED, "archive", "videos/0190-5-5-tag"),
            *id
        );
        // The separator keeps (bucket, key) pairs apart.
        assert_ne!(
            message_id(UPLOAD_COMPLETED, "ab", "c"),
            message_id(UPLOAD_COMPLETED, "a", "bc")
        );
    }
}
