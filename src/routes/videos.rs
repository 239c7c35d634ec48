use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Caller;
use crate::domain::{DownloadName, ExpiresIn, VideoId};
use crate::error::ApiError;
use crate::playback::{PlaybackRequest, playback_url};
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
    method: &'static str,
    headers: serde_json::Map<String, serde_json::Value>,
    /// RFC 3339, UTC.
    expires_at: String,
    expires_in: u64,
}

impl From<PresignedUrl> for UrlResponse {
    fn from(p: PresignedUrl) -> Self {
        let expires_at = OffsetDateTime::from(p.expires_at)
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        Self {
            url: p.url,
            method: p.method,
            headers: p.headers.into_iter().map(|(k, v)| (k, v.into())).collect(),
            expires_at,
            expires_in: p.expires_in,
        }
    }
}

/// `GET /videos/{id}/url`: authenticate → parse → the playback decision → JSON.
pub async fn video_url(
    State(state): State<AppState>,
    caller: Caller,
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
    };
    let presigned = playback_url(&state, &caller, &id, request).await?;
    Ok((
        [(CACHE_CONTROL, "no-store")],
        Json(UrlResponse::from(presigned)),
    ))
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
