//! The one playback decision: look up → decide → ensure readable → sign. Every route that hands
//! out a playback URL (today `GET /videos/{id}/url`; HLS playlists next) calls it, and nothing
//! else decides who may watch what.

use crate::auth::Caller;
use crate::domain::VideoId;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::PresignedUrl;
use crate::uploads::{UploadId, UploadIds};

/// What a caller asks of one video's URL.
#[derive(Debug, Default)]
pub struct PlaybackRequest {
    /// Requested lifetime in seconds (≥ 1); longer than policy is clamped.
    pub expires_in: Option<u64>,
    /// Signed as `response-content-disposition`.
    pub content_disposition: Option<String>,
    /// The request's `Host`, for the tollgate URL of an HLS video.
    pub host: Option<String>,
}

/// How a video is played.
#[derive(Debug)]
pub enum Playback {
    /// One object: a presigned GET URL.
    File(PresignedUrl),
    /// HLS: tollgate's URL of its top playlist, with a grant.
    Hls(crate::hls::Entry),
}

/// The URL that plays video `id` when `caller` may watch it: a presigned GET URL for an object,
/// or for an HLS video (no object, a playlist folder) tollgate's playlist URL.
pub async fn playback_url(
    state: &AppState,
    caller: &Caller,
    id: &VideoId,
    request: PlaybackRequest,
) -> Result<Playback, ApiError> {
    let key = state.storage.key_for(id)?;
    let Some(meta) = state.storage.object_meta(&key).await? else {
        if let Some(hls) = &state.hls {
            let base = hls.base_url(request.host.as_deref());
            if let Some(entry) = hls
                .entry(state, caller, id, &base, request.expires_in)
                .await?
            {
                return Ok(Playback::Hls(entry));
            }
        }
        return Err(ApiError::VideoNotFound);
    };
    let grant = state
        .policy
        .decide(caller, &meta)
        .ok_or(ApiError::NotEntitled)?;
    // An object under an upload's id that carries no signed declaration was not written by its
    // upload URL (s3s-fs keeps the body of a PUT it refused for its checksum, without metadata).
    // Asked only of objects without a declaration, so that the usual path pays nothing.
    if !meta.is_upload() && is_upload_id(id) {
        tracing::warn!(video = %id, "object under an upload id without its declaration; not served");
        return Err(ApiError::UploadMismatch(
            "the object was not written through its upload URL".to_owned(),
        ));
    }
    // Some upload paths cannot sign a length (Uppy's protocols, a client completing a multipart
    // upload at the store), and a client may add unsigned standard headers to any PUT: an
    // object that is not what its upload authorised is never served.
    if let Some(why) = meta.unauthorised() {
        tracing::warn!(video = %id, %why, "object is not what its upload authorised; not served");
        return Err(ApiError::UploadMismatch(why));
    }
    tracing::info!(video = %id, subject = %caller.subject, ?grant, "access granted");

    state.storage.ensure_readable().await?;
    Ok(Playback::File(
        state
            .storage
            .playback_signer
            .get_object(
                &key,
                request.expires_in,
                state.presign.get_max_expires_secs,
                request.content_disposition,
                state.presign.time_window_secs,
            )
            .await?,
    ))
}

/// Whether `id` has the form of an upload id tollgate issues (a UUIDv7, a plan, a tag).
fn is_upload_id(id: &VideoId) -> bool {
    UploadId::parse(id.as_str()).is_ok_and(|upload| {
        UploadIds::issued_at(&upload).is_some() && UploadIds::plan_unverified(&upload).is_some()
    })
}
