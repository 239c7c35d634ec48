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
    Ok(response)
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
