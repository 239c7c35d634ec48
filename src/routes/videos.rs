use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, HOST};
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

use crate::audit::AuditSlot;
use crate::controls::RouteClass;
use crate::domain::{DownloadName, ExpiresIn, SessionId, VideoId};
use crate::error::ApiError;
use crate::hls::Entry;
use crate::playback::{Playback, PlaybackRequest, playback_url};
use crate::routes::admission::Authenticated;
use crate::routes::json::JsonObject;
use crate::routes::openapi::refusals;
use crate::state::AppState;
use crate::storage::PresignedUrl;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
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
    #[param(value_type = Option<SessionId>)]
    session: Option<String>,
}

/// A presigned request: the client calls `url` with `method` and exactly `headers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UrlResponse {
    url: String,
    format: PlaybackFormat,
    /// `GET` for playback, `PUT` for uploads.
    method: &'static str,
    /// Headers signed into the URL: send each, unchanged.
    headers: BTreeMap<String, String>,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    expires_at: String,
    /// Seconds the URL has left.
    expires_in: u64,
    /// The playback session holding a lease on this URL, when streams are limited: end it with
    /// `DELETE /videos/{id}/sessions/{session}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SessionId>)]
    pub(crate) session: Option<String>,
}

/// What a URL points at.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlaybackFormat {
    /// One object in the bucket.
    File,
    /// An HLS playlist served by tollgate (`/videos/{id}/hls/…`).
    Hls,
}

impl UrlResponse {
    /// Its fields into `object`, as `Serialize` would write them (what [`JsonObject`] is for).
    pub fn write(&self, object: &mut JsonObject) {
        object
            .str("url", &self.url)
            .str(
                "format",
                match self.format {
                    PlaybackFormat::File => "file",
                    PlaybackFormat::Hls => "hls",
                },
            )
            .str("method", self.method)
            .str_map(
                "headers",
                self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .str("expires_at", &self.expires_at)
            .u64("expires_in", self.expires_in);
        if let Some(session) = &self.session {
            object.str("session", session);
        }
    }

    /// Room for the fields besides the URL.
    pub fn capacity(&self) -> usize {
        self.url.len()
            + 160
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 6)
                .sum::<usize>()
    }
}

impl IntoResponse for UrlResponse {
    fn into_response(self) -> axum::response::Response {
        let mut object = JsonObject::with_capacity(self.capacity());
        self.write(&mut object);
        object.into_response(StatusCode::OK)
    }
}

impl From<PresignedUrl> for UrlResponse {
    fn from(p: PresignedUrl) -> Self {
        Self {
            url: p.url,
            format: PlaybackFormat::File,
            method: p.method,
            headers: p.headers.into_iter().collect(),
            expires_at: crate::clock::rfc3339(p.expires_at).unwrap_or_default(),
            expires_in: p.expires_in,
            session: None,
        }
    }
}

impl From<Entry> for UrlResponse {
    fn from(entry: Entry) -> Self {
        Self {
            url: entry.url,
            format: PlaybackFormat::Hls,
            method: "GET",
            headers: BTreeMap::new(),
            expires_at: crate::clock::rfc3339(entry.expires_at).unwrap_or_default(),
            expires_in: entry.expires_in,
            session: None,
        }
    }
}

refusals!(UrlRefusals {
    400 => [InvalidVideoId, InvalidKey, InvalidRequest, InvalidSession],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [NotEntitled],
    404 => [VideoNotFound],
    409 => [UploadMismatch],
    410 => [VideoTakenDown],
    429 => [RateLimited, TooManyStreams],
    503 => [StorageUnavailable, StorageForbidden, StateUnavailable],
});

/// `GET /videos/{id}/url`: authenticate → parse → the playback decision (controls included) →
/// JSON.
#[utoipa::path(
    get,
    path = "/videos/{id}/url",
    tag = "playback",
    summary = "A presigned URL to play video `id`",
    description = "Granted when the video's tier is open, is in the caller's entitlements, or \
        the caller owns the video or is an admin. An HLS video answers the URL of its top \
        playlist on tollgate (`format: hls`), with a playback grant.",
    params(("id" = VideoId, Path, description = "The video id"), UrlParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The URL (`Cache-Control: no-store`)", body = UrlResponse, headers(
            ("RateLimit" = String, description = "What is left of the caller's limit, when limits are set"),
            ("RateLimit-Policy" = String, description = "The caller's limit, when limits are set"),
        )),
        UrlRefusals,
    )
)]
pub async fn video_url(
    State(state): State<AppState>,
    audit: AuditSlot,
    authenticated: Authenticated,
    host: RequestHost,
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
        host: host.0.as_ref().and_then(|h| h.to_str().ok()),
        session: session.as_ref().map(SessionId::as_str),
    };
    let admission = authenticated.admission(&state, RouteClass::Playback);
    let (playback, admitted) = playback_url(&state, caller, &id, request, admission).await?;
    let expires_at = match &playback {
        Playback::File(presigned) => presigned.expires_at,
        Playback::Hls(entry) => entry.expires_at,
    };
    audit.update(|d| {
        if matches!(playback, Playback::File(_)) {
            d.key = Some(state.storage.key_for(&id).as_str().to_owned());
        }
        d.expires_at = Some(crate::clock::unix_secs(expires_at));
    });
    let mut answer = match playback {
        Playback::File(presigned) => UrlResponse::from(presigned),
        Playback::Hls(entry) => UrlResponse::from(entry),
    };
    if state.controls.streams_limited(&caller.entitlements) {
        answer.session = session.map(SessionId::into_string);
    }
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        admitted.limit,
        answer,
    ))
}

/// The request's `Host` header, alone: the `HeaderMap` extractor copies every header.
pub struct RequestHost(Option<HeaderValue>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestHost {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get(HOST).cloned()))
    }
}

refusals!(EndSessionRefusals {
    400 => [InvalidRequest, InvalidVideoId, InvalidSession],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    404 => [SessionNotFound],
    429 => [RateLimited],
    503 => [StateUnavailable],
});

/// `DELETE /videos/{id}/sessions/{session}`: the caller's playback session ends, and its lease
/// with it (a URL already handed out keeps working until it expires).
#[utoipa::path(
    delete,
    path = "/videos/{id}/sessions/{session}",
    tag = "playback",
    summary = "End one of the caller's playback sessions",
    params(
        ("id" = VideoId, Path, description = "The video id"),
        ("session" = SessionId, Path, description = "The playback session"),
    ),
    security(("bearer" = [])),
    responses((status = 204, description = "The session's lease is gone"), EndSessionRefusals)
)]
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
