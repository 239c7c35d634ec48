//! Small objects tollgate reads itself (HLS playlists), with the read key and a size limit: a
//! body larger than the limit is never held in memory.

use super::client::classify;
use super::{Storage, StorageError, StorageErrorKind};
use crate::domain::ObjectKey;

/// A small object's body and its ETag.
#[derive(Debug, Clone)]
pub struct SmallObject {
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

/// Why a small object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the object is larger than {0} bytes")]
    TooLarge(u64),
}

impl Storage {
    /// The object at `key`, when it exists and holds at most `max_bytes`.
    pub async fn read_small(
        &self,
        key: &ObjectKey,
        max_bytes: u64,
    ) -> Result<Option<SmallObject>, ReadError> {
        let answer = self
            .reader
            .get_object()
            .bucket(self.bucket())
            .key(key.as_str())
            .send()
            .await;
        let mut output = match answer {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return Ok(None);
            }
            Err(e) => return Err(classify(&e, "GET object").into()),
        };
        if output
            .content_length()
            .is_some_and(|n| u64::try_from(n).map_or(true, |n| n > max_bytes))
        {
            return Err(ReadError::TooLarge(max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = output.body.try_next().await.map_err(|e| {
            StorageError::new(
                StorageErrorKind::Unavailable,
                format!("GET object body: {}", crate::telemetry::error_chain(&e)),
            )
        })? {
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(ReadError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(SmallObject {
            body,
            etag: output.e_tag,
        }))
    }
}
