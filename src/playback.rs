//! The one playback decision: look up → decide → controls → ensure readable → sign. Every route that hands
//! out a playback URL (today `GET /videos/{id}/url`; HLS playlists next) calls it, and nothing
//! else decides who may watch what.

use crate::auth::Caller;
use crate::controls::{Admission, Admitted};
use crate::domain::ObjectKey;
use crate::domain::VideoId;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::PresignedUrl;
use crate::uploads::UploadIds;

/// What a caller asks of one video's URL.
#[derive(Debug, Default)]
pub struct PlaybackRequest<'a> {
    /// Requested lifetime in seconds (≥ 1); longer than policy is clamped.
    pub expires_in: Option<u64>,
    /// Signed as `response-content-disposition`.
    pub content_disposition: Option<String>,
    /// The request's `Host`, for the tollgate URL of an HLS video.
    pub host: Option<&'a str>,
    /// The playback session that holds a lease on the URL (`streams.max_concurrent`).
    pub session: Option<&'a str>,
}

/// How a video is played.
#[derive(Debug)]
pub enum Playback {
    /// One object: a presigned GET URL.
    File(PresignedUrl),
    /// HLS: tollgate's URL of its top playlist, with a grant.
    Hls(crate::hls::Entry),
}

/// What the local decision found, before the controls run.
enum Found {
    File(ObjectKey),
    Hls(crate::hls::Prepared),
}

/// The URL that plays video `id` when `caller` may watch it: a presigned GET URL for an object,
/// or for an HLS video (no object, a playlist folder) tollgate's playlist URL.
///
/// The decision is local (cached metadata, the access rule); then the controls run once, in one
/// call to their state, with what it found (the video's takedown, the session's lease for the
/// URL's lifetime); then the URL is signed. A refused decision still runs the controls, so that
/// probing counts against the caller's limits and a revoked token hears so.
pub async fn playback_url(
    state: &AppState,
    caller: &Caller,
    id: &VideoId,
    request: PlaybackRequest<'_>,
    admission: Admission<'_>,
) -> Result<(Playback, Admitted), ApiError> {
    let found = match find(state, caller, id, &request).await {
        Ok(found) => found,
        Err(refused) => {
            state
                .controls
                .admit(&Admission {
                    video: Some(id.as_str()),
                    ..admission
                })
                .await?;
            return Err(refused);
        }
    };
    let now = crate::clock::unix_secs(state.clock.now());
    let lease_until = match &found {
        Found::File(_) => {
            let lifetime = request
                .expires_in
                .unwrap_or(u64::MAX)
                .min(state.presign.get_max_expires_secs);
            now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX))
        }
        Found::Hls(prepared) => i64::try_from(prepared.grant.expires_at).unwrap_or(i64::MAX),
    };
    let admitted = state
        .controls
        .admit(&Admission {
            video: Some(id.as_str()),
            lease: request.session.map(|session| (session, lease_until)),
            ..admission
        })
        .await?;
    let playback = match found {
        Found::Hls(prepared) => {
            let hls = state.hls.as_ref().ok_or(ApiError::VideoNotFound)?;
            let base = hls.base_url(request.host);
            Playback::Hls(hls.entry(state, &prepared, id, &base))
        }
        Found::File(key) => {
            state.storage.ensure_readable().await?;
            Playback::File(
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
            )
        }
    };
    Ok((playback, admitted))
}

/// Look up → decide: what `caller` may play under `id`.
async fn find(
    state: &AppState,
    caller: &Caller,
    id: &VideoId,
    request: &PlaybackRequest<'_>,
) -> Result<Found, ApiError> {
    let key = state.storage.key_for(id);
    let Some(meta) = state.storage.object_meta(&key).await? else {
        if let Some(hls) = &state.hls
            && let Some(prepared) = hls
                .prepare(state, caller, id, request.expires_in, request.session)
                .await?
        {
            // Refused before the controls run: a refused request holds no lease.
            if request.content_disposition.is_some() {
                return Err(ApiError::BadRequest(
                    "an HLS video is many files: it cannot be downloaded as one".to_owned(),
                ));
            }
            return Ok(Found::Hls(prepared));
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
    if !meta.is_upload() && UploadIds::has_upload_form(id) {
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
    Ok(Found::File(key))
}
