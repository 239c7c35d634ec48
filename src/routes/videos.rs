use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, HOST};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Caller;
use crate::domain::{DownloadName, ExpiresIn, VideoId};
use crate::error::ApiError;
use crate::hls::Entry;
use crate::playback::{Playback, PlaybackRequest, playback_url};
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
        }
    }
}

/// `GET /videos/{id}/url`: authenticate → parse → the playback decision → JSON.
pub async fn video_url(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UrlParams>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Path(raw_id) = path?;
    let id = VideoId::parse(&raw_id)?;
    let Query(params) = query?;
    let disposition = content_disposition(&params, &id)?;

    let request = PlaybackRequest {
        expires_in: params.expires_in.map(ExpiresIn::secs),
        content_disposition: disposition,
        host: headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned),
    };
    let answer = match playback_url(&state, &caller, &id, request).await? {
        Playback::File(presigned) => UrlResponse::from(presigned),
        Playback::Hls(_) if params.download => {
            return Err(ApiError::BadRequest(
                "an HLS video is many files: it cannot be downloaded as one".to_owned(),
            ));
        }
        Playback::Hls(entry) => UrlResponse::from(entry),
    };
    Ok(([(CACHE_CONTROL, "no-store")], Json(answer)))
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
