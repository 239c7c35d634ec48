//! `tollgate put`: store a file as a video with tollgate's metadata, through the S3 API, so that
//! the local walk-through (and a MinIO set-up) needs no other S3 tool.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;

use super::StorageSettings;
use super::client::classify;
use super::{S3Clients, StorageError};
use crate::clock::SystemClock;
use crate::domain::{ObjectKey, VideoId};

/// What `put_video` writes besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct VideoMetadata {
    pub content_type: String,
    /// `x-amz-meta-access`.
    pub tier: Option<String>,
    /// `x-amz-meta-owner`.
    pub owner: Option<String>,
}

/// The S3 client the CLI writes with: the upload key (the read key may not write), on
/// `storage.endpoint`, or on the embedded store's address when that is enabled (the store of a
/// running `tollgate serve`).
pub(super) async fn writer(settings: &StorageSettings) -> Result<S3Clients, StorageError> {
    let endpoint = settings.endpoint.clone().or_else(|| {
        settings
            .embedded
            .enabled
            .then(|| format!("http://{}", settings.embedded.addr))
    });
    let key = settings.upload_key().or_else(|| settings.read_key());
    S3Clients::new(settings, key, endpoint, Arc::new(SystemClock)).await
}

/// Uploads `body` as video `id`. Talks to `storage.endpoint`, or to the embedded store's address
/// when that is enabled (the store of a running `tollgate serve`).
pub async fn put_video(
    settings: &StorageSettings,
    id: &VideoId,
    body: Vec<u8>,
    metadata: VideoMetadata,
) -> Result<ObjectKey, StorageError> {
    let clients = writer(settings).await?;
    let prefix = crate::domain::KeyPrefix::parse(&settings.key_prefix)
        .map_err(|e| StorageError::new(super::StorageErrorKind::InvalidKey, e.to_string()))?;
    let key = ObjectKey::for_video(&prefix, id);
    let mut put = clients
        .internal
        .put_object()
        .bucket(&settings.bucket)
        .key(key.as_str())
        .content_type(metadata.content_type)
        .body(ByteStream::from(body));
    let written = super::WrittenMetadata {
        owner: metadata.owner,
        tier: metadata.tier,
        ..super::WrittenMetadata::default()
    };
    for (name, value) in written.pairs() {
        put = put.metadata(name, value);
    }
    put.send().await.map_err(|e| classify(&e, "PUT object"))?;
    Ok(key)
}
