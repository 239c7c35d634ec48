use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::AuditSlot;
use crate::controls::RouteClass;
use crate::domain::{DownloadName, ExpiresIn, SessionId, VideoId};
use crate::error::ApiError;
use crate::hls::Entry;
use crate::playback::{Playback, PlaybackRequest, playback_url};
use crate::routes::admission::Authenticated;
use crate::state::AppState;
use crate::storage::PresignedUrl;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlParams {
    /// Requested lifetime in seconds (≥ 1); longer than policy is clamped.
    expires_in: Option<ExpiresIn>,
    /// `true`: the store answers with `Content-Disposition: attachment`.
    #[serde(default)]
    download: bool,
    /// Name offered for the download (needs `download=true`).
    filename: Option<String>,
    /// The player's playback session, which holds a lease (`streams.max_concurrent`); absent,
    /// the URL gets a session of its own.
    session: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UrlResponse {
    url: String,
    /// `file` (one object) or `hls` (a playlist served by tollgate).
    format: &'static str,
    method: &'static str,
    headers: serde_json::Map<String, serde_json::Value>,
    /// RFC 3339, UTC.
    expires_at: String,
    expires_in: u64,
    /// The playback session holding a lease on this URL, when streams are limited: end it with
    /// `DELETE /videos/{id}/sessions/{session}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
}

/// RFC 3339, UTC, whole seconds.
fn rfc3339(at: std::time::SystemTime) -> String {
    OffsetDateTime::from(at)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl From<PresignedUrl> for UrlResponse {
    fn from(p: PresignedUrl) -> Self {
        Self {
            url: p.url,
            format: "file",
            method: p.method,
            headers: p.headers.into_iter().map(|(k, v)| (k, v.into())).collect(),
            expires_at: rfc3339(p.expires_at),
            expires_in: p.expires_in,
            session: None,
        }
    }
}

impl From<Entry> for UrlResponse {
    fn from(entry: Entry) -> Self {
        Self {
            url: entry.url,
            format: "hls",
            method: "GET",
            headers: serde_json::Map::new(),
            expires_at: rfc3339(entry.expires_at),
            expires_in: entry.expires_in,
            session: None,
        }
    }
}

/// `GET /videos/{id}/url`: authenticate → parse → the playback decision (controls included) →
/// JSON.
pub async fn video_url(
    State(state): State<AppState>,
    audit: AuditSlot,
    authenticated: Authenticated,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UrlParams>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let caller = &authenticated.caller;
    let parsed = (|| {
        let Path(raw_id) = path?;
        let id = VideoId::parse(&raw_id)?;
        let Query(params) = query?;
        let disposition = content_disposition(&params, &id)?;
        let session = match &params.session {
            Some(raw) => Some(SessionId::parse(raw)?),
            None => state
                .controls
                .streams_limited(&caller.entitlements)
                .then(SessionId::new),
        };
        Ok::<_, ApiError>((id, params, disposition, session))
    })();
    let (id, params, disposition, session) = match parsed {
        Ok(parsed) => parsed,
        // A malformed request still counts, and a revoked token still hears so.
        Err(malformed) => {
            authenticated
                .admit(&state, RouteClass::Playback, None, None)
                .await?;
            return Err(malformed);
        }
    };

    let request = PlaybackRequest {
        expires_in: params.expires_in.map(ExpiresIn::secs),
        content_disposition: disposition,
        host: headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned),
        session: session.as_ref().map(SessionId::as_str),
    };
    let admission = authenticated.admission(&state, RouteClass::Playback);
    let (playback, admitted) = playback_url(&state, caller, &id, request, admission).await?;
    let expires_at = match &playback {
        Playback::File(presigned) => presigned.expires_at,
        Playback::Hls(entry) => entry.expires_at,
    };
    let key = matches!(playback, Playback::File(_))
        .then(|| state.storage.key_for(&id).ok())
        .flatten();
    audit.update(|d| {
        d.key = key.map(|k| k.as_str().to_owned());
        d.expires_at = Some(crate::clock::unix_secs(expires_at));
    });
    let mut answer = match playback {
        Playback::File(presigned) => UrlResponse::from(presigned),
        Playback::Hls(entry) => UrlResponse::from(entry),
    };
    if state.controls.streams_limited(&caller.entitlements) {
        answer.session = session.map(SessionId::into_string);
    }
    Ok(([(CACHE_CONTROL, "no-store")], admitted.limit, Json(answer)))
}

/// `DELETE /videos/{id}/sessions/{session}`: the caller's playback session ends, and its lease
/// with it (a URL already handed out keeps working until it expires).
pub async fn end_session(
    State(state): State<AppState>,
    authenticated: Authenticated,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let admitted = authenticated
        .admit(&state, RouteClass::Playback, None, None)
        .await?;
    let Path((raw_id, raw_session)) = path?;
    VideoId::parse(&raw_id)?;
    let session = SessionId::parse(&raw_session)?;
    let subject = &authenticated.caller.subject;
    if state
        .controls
        .end_session(subject, session.as_str())
        .await?
    {
        tracing::info!(%subject, session = session.as_str(), "playback session ended");
        Ok((admitted.limit, StatusCode::NO_CONTENT))
    } else {
        Err(ApiError::SessionNotFound)
    }
}

fn content_disposition(params: &UrlParams, id: &VideoId) -> Result<Option<String>, ApiError> {
    match (params.download, &params.filename) {
        (false, None) => Ok(None),
        (false, Some(_)) => Err(ApiError::BadRequest(
            "filename requires download=true".to_owned(),
        )),
        (true, name) => {
            let name = DownloadName::parse(name.as_deref().unwrap_or(id.as_str()))
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            Ok(Some(name.content_disposition()))
        }
    }
}
