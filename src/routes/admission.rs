//! Authentication, then the controls (`controls`): the extractors every authenticated route
//! uses.
//!
//! - [`Caller`]: a verified token, admitted for the route's class ([`route_class`], by its
//!   path): rate limits and revocation in one call to the state.
//! - [`Authenticated`]: a verified token not yet admitted, for the playback routes, which admit
//!   once they know the video and the session's lease, so that everything still takes one call.
//!
//! A request whose token fails verification counts against its client IP's limit: a flood of
//! bad tokens is refused with 429 before it costs more.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::auth::{Caller, authenticate};
use crate::controls::{Admission, Admitted, Principal, RouteClass};
use crate::error::ApiError;
use crate::state::AppState;

/// The per-subject limit a route counts against, by its path: the admin routes, the upload
/// routes (tollgate's and Uppy's), playback for the rest.
pub fn route_class(parts: &Parts) -> RouteClass {
    let path = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    if path.starts_with("/admin/") {
        RouteClass::Admin
    } else if path.starts_with("/uploads") || path.starts_with("/s3/") {
        RouteClass::Upload
    } else {
        RouteClass::Playback
    }
}

/// The client's address: the socket peer's, or the one trusted proxies forward.
pub fn client_ip(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    state
        .controls
        .trusted_proxies()
        .of_request(&parts.extensions, &parts.headers)
}

/// A caller whose token verified, before the controls ran.
pub struct Authenticated {
    pub caller: Caller,
    pub ip: Option<IpAddr>,
}

/// The client's address, as an extractor.
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts, state)))
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = client_ip(parts, state);
        let class = route_class(parts);
        let authenticated = Authenticated::from_headers(state, &parts.headers, ip, class).await?;
        if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
            slot.update(|d| d.subject = Some(authenticated.caller.subject.clone()));
        }
        Ok(authenticated)
    }
}

/// A request that proved nothing counts against its IP's limit; over it, 429 instead of the
/// authentication error.
pub async fn charge_unauthenticated(
    state: &AppState,
    class: RouteClass,
    ip: Option<IpAddr>,
) -> Result<Admitted, ApiError> {
    let admission = Admission {
        class,
        ip,
        principal: None,
        video: None,
        lease: None,
    };
    Ok(state.controls.admit(&admission).await?)
}

/// The controls' view of a caller.
pub fn principal(caller: &Caller, admin: bool) -> Principal<'_> {
    Principal {
        subject: &caller.subject,
        issued_at: caller.issued_at,
        token_id: caller.token_id.as_deref(),
        admin,
        tiers: &caller.entitlements,
    }
}

impl Authenticated {
    /// The caller `headers`' Bearer token proves; when it proves none, the request counts
    /// against `ip`'s limit (429 over it).
    pub async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
        ip: Option<IpAddr>,
        class: RouteClass,
    ) -> Result<Self, ApiError> {
        match authenticate(headers, &state.verifier).await {
            Ok(caller) => Ok(Self { caller, ip }),
            Err(refused) => {
                charge_unauthenticated(state, class, ip).await?;
                Err(refused)
            }
        }
    }

    /// The controls' view of this request on `class`, for a caller that fills in the video and
    /// lease it finds.
    pub fn admission(&self, state: &AppState, class: RouteClass) -> Admission<'_> {
        Admission {
            class,
            ip: self.ip,
            principal: Some(principal(&self.caller, state.policy.is_admin(&self.caller))),
            video: None,
            lease: None,
        }
    }

    /// Runs the controls for this caller on `class`: rate limits, revocation, and, when given,
    /// the video's takedown and a lease for `session` until `lease_until` (seconds since the
    /// epoch).
    pub async fn admit(
        &self,
        state: &AppState,
        class: RouteClass,
        video: Option<&str>,
        lease: Option<(&str, i64)>,
    ) -> Result<Admitted, ApiError> {
        let admission = Admission {
            video,
            lease,
            ..self.admission(state, class)
        };
        Ok(state.controls.admit(&admission).await?)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let class = route_class(parts);
        let authenticated = Authenticated::from_request_parts(parts, state).await?;
        authenticated.admit(state, class, None, None).await?;
        Ok(authenticated.caller)
    }
}
