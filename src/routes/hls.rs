//! `GET /videos/{id}/hls/{path}`: an HLS playlist of video `id`, rewritten for its caller, who
//! proves access with the `grant` the entry point handed out or with a Bearer token.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use axum::response::IntoResponse;
use serde::Deserialize;

use crate::auth::Caller;
use crate::domain::VideoId;
use crate::error::ApiError;
use crate::hls::Access;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaylistParams {
    grant: Option<String>,
}

pub async fn playlist(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<PlaylistParams>, QueryRejection>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
) -> Result<impl IntoResponse, ApiError> {
    let hls = state.hls.clone().ok_or(ApiError::RouteNotFound)?;
    let Path((raw_id, raw_path)) = path?;
    let id = VideoId::parse(&raw_id)?;
    let Query(params) = query?;
    // A grant when there is one (players that send no headers), else the Bearer token.
    let caller = match params.grant {
        Some(_) => None,
        None => Some(caller?),
    };
    let access = match (&params.grant, &caller) {
        (Some(grant), _) => Access::Grant(grant),
        (None, Some(caller)) => Access::Caller(caller),
        (None, None) => return Err(ApiError::MissingToken),
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let base = hls.base_url(host);
    let text = hls.playlist(&state, access, &id, &raw_path, &base).await?;
    Ok((
        [
            (CONTENT_TYPE, "application/vnd.apple.mpegurl"),
            (CACHE_CONTROL, "private, no-store"),
        ],
        text,
    ))
}
