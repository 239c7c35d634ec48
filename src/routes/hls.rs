//! `GET /videos/{id}/hls/{path}`: an HLS playlist of video `id`, rewritten for its caller, who
//! proves access with the `grant` the entry point handed out or with a Bearer token.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HOST, VARY,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use serde::Deserialize;

use crate::audit::AuditSlot;
use crate::controls::{Admission, Principal, RouteClass};
use crate::domain::{SessionId, VideoId};
use crate::error::ApiError;
use crate::hls::{Access, Grant};
use crate::routes::admission::{Authenticated, ClientIp, charge_unauthenticated};
use crate::routes::openapi::refusals;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaylistParams {
    grant: Option<String>,
    /// With a Bearer token: the playback session whose lease the playlist renews.
    session: Option<String>,
}

refusals!(PlaylistRefusals {
    400 => [InvalidVideoId, InvalidKey, InvalidRequest, InvalidSession],
    401 => [MissingToken, InvalidToken, TokenRevoked, InvalidGrant],
    403 => [NotEntitled, GrantMismatch],
    404 => [VideoNotFound, NotFound],
    410 => [VideoTakenDown],
    429 => [RateLimited, TooManyStreams],
    502 => [BadPlaylist],
    503 => [StorageUnavailable, StorageForbidden, StateUnavailable],
});

/// `GET /videos/{id}/hls/{path}`.
#[utoipa::path(
    get,
    path = "/videos/{id}/hls/{*path}",
    tag = "playback",
    summary = "An HLS playlist of video `id`, its URIs rewritten for the caller",
    description = "Nested playlists point back here with the grant; segments are presigned URLs. \
        `404 not_found` while HLS is not configured (`hls.grant_secret`).",
    params(
        ("id" = VideoId, Path, description = "The video id"),
        ("path" = String, Path, description = "The playlist's path in the video's folder", min_length = 1),
        ("session" = Option<SessionId>, Query, description = "With a Bearer token: the playback session whose lease the playlist renews"),
    ),
    security(("bearer" = []), ("grant" = [])),
    responses(
        (status = 200, description = "The playlist (`Cache-Control: private, no-store`; gzip when accepted)", content_type = "application/vnd.apple.mpegurl", body = String),
        PlaylistRefusals,
    )
)]
pub async fn playlist(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    audit: AuditSlot,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<PlaylistParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let hls = state.hls.clone().ok_or(ApiError::RouteNotFound)?;
    let parsed = (|| {
        let Path((raw_id, raw_path)) = path?;
        let id = VideoId::parse(&raw_id)?;
        let Query(params) = query?;
        Ok::<_, ApiError>((id, raw_path, params))
    })();
    let (id, raw_path, params) = match parsed {
        Ok(parsed) => parsed,
        // Nothing is proven yet: a malformed request counts against the client's address.
        Err(malformed) => {
            charge_unauthenticated(&state, RouteClass::Playback, ip).await?;
            return Err(malformed);
        }
    };
    // A grant when there is one (players that send no headers), else the Bearer token.
    let authenticated = match &params.grant {
        Some(_) => None,
        None => {
            Some(Authenticated::from_headers(&state, &headers, ip, RouteClass::Playback).await?)
        }
    };
    let session = match (&params.session, &authenticated) {
        (Some(raw), _) => Some(SessionId::parse(raw)?),
        (None, Some(a)) if state.controls.streams_limited(&a.caller.entitlements) => {
            Some(SessionId::new())
        }
        (None, _) => None,
    };
    let (access, admitted) = match (&params.grant, &authenticated) {
        (Some(raw), _) => {
            let grant = match hls.check_grant(&state, raw, &id) {
                Ok(grant) => grant,
                Err(refused) => {
                    charge_unauthenticated(&state, RouteClass::Playback, ip).await?;
                    return Err(refused);
                }
            };
            audit.update(|d| d.subject = Some(grant.subject.clone()));
            let admitted = state
                .controls
                .admit(&grant_admission(&grant, ip, &id))
                .await?;
            (Access::Grant(grant, raw), admitted)
        }
        (None, Some(authenticated)) => {
            let caller = &authenticated.caller;
            audit.update(|d| d.subject = Some(caller.subject.clone()));
            let until = i64::try_from(hls.grant_expiry(&state, caller, None)).unwrap_or(i64::MAX);
            let session = session.as_ref().map(SessionId::as_str);
            let admitted = authenticated
                .admit(
                    &state,
                    RouteClass::Playback,
                    Some(id.as_str()),
                    session.map(|s| (s, until)),
                )
                .await?;
            (Access::Caller(caller, session), admitted)
        }
        (None, None) => return Err(ApiError::MissingToken),
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let base = hls.base_url(host);
    let rewritten = hls.playlist(&state, access, &id, &raw_path, &base).await?;
    let accepts_gzip = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(accepts_gzip);
    let mut response = match rewritten.gzip {
        Some(gzip) if accepts_gzip => ([(CONTENT_ENCODING, "gzip")], gzip).into_response(),
        _ => rewritten.plain.into_response(),
    };
    let answer = response.headers_mut();
    answer.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apple.mpegurl"),
    );
    answer.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    answer.insert(VARY, HeaderValue::from_static("accept-encoding"));
    Ok((admitted.limit, response))
}

/// Whether one `Accept-Encoding` element accepts gzip: `gzip` with no weight or a weight above
/// zero (`q` in any case, RFC 9110).
fn accepts_gzip(element: &str) -> bool {
    let mut parts = element.split(';');
    let coding = parts.next().unwrap_or_default().trim();
    if !coding.eq_ignore_ascii_case("gzip") {
        return false;
    }
    parts.all(|parameter| {
        let Some((name, weight)) = parameter.split_once('=') else {
            return true;
        };
        !name.trim().eq_ignore_ascii_case("q")
            || weight.trim().parse::<f32>().is_ok_and(|q| q > 0.0)
    })
}

/// The controls' view of a playlist fetched with a grant: its subject, its token's `iat` and
/// `jti`, the video's takedown, and its session's lease renewed until the grant ends.
fn grant_admission<'a>(
    grant: &'a Grant,
    ip: Option<std::net::IpAddr>,
    id: &'a VideoId,
) -> Admission<'a> {
    Admission {
        class: RouteClass::Playback,
        ip,
        principal: Some(Principal {
            subject: &grant.subject,
            issued_at: grant.issued_at,
            token_id: grant.token_id.as_deref(),
            admin: grant.admin,
            tiers: &grant.tiers,
        }),
        video: Some(id.as_str()),
        lease: grant
            .session
            .as_deref()
            .map(|s| (s, i64::try_from(grant.expires_at).unwrap_or(i64::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_is_accepted_unless_weighed_zero() {
        for yes in ["gzip", " GZIP", "gzip;q=0.001", "gzip; Q=1"] {
            assert!(accepts_gzip(yes), "{yes}");
        }
        for no in [
            "gzip;q=0",
            "gzip; Q=0.0",
            "gzip;q=0.000",
            "x-gzip",
            "*",
            "br",
            "gzip;q=x",
        ] {
            assert!(!accepts_gzip(no), "{no}");
        }
    }
}
