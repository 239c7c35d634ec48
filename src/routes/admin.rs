//! The admin routes (the `auth.admin_role` role): revocations, and what one subject can still do.
//!
//! - `POST /admin/revocations` `{"subject": S, "not_before"?: T}` | `{"jti": J, "expires_at"?: T}`
//!   | `{"video": ID}` → 201 with the revocation recorded;
//! - `GET|DELETE /admin/revocations/{subjects|tokens|videos}/{id}` → 200 / 204, or 404;
//! - `GET /admin/subjects/{sub}?tiers=a,b` → its revocation, leases, rate-limit state and quota.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::refusals;
use crate::audit::AuditSlot;
use crate::auth::Caller;
use crate::controls::{QuotaUse, RateLimitInfo, Revoke, Target, TargetKey, subject_id};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(revoke))
        .routes(routes!(revocation, unrevoke))
        .routes(routes!(subject))
}

fn require_admin(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if state.policy.is_admin(caller) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("the admin routes need the admin role"))
    }
}

/// Exactly one of: `subject` (with `not_before`), `jti` (with `expires_at`), `video`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// Refuse this subject's tokens issued at or before `not_before`.
    subject: Option<String>,
    /// Seconds since the epoch; default now.
    not_before: Option<i64>,
    jti: Option<String>,
    /// Seconds since the epoch; default `revocation.jti_ttl_secs` from now.
    expires_at: Option<i64>,
    /// Take this video down: no new URL for anyone but admins.
    video: Option<String>,
}

impl RevokeBody {
    fn parse(self) -> Result<Revoke, ApiError> {
        match self {
            Self {
                subject: Some(subject),
                not_before,
                jti: None,
                expires_at: None,
                video: None,
            } => Revoke::subject(&subject, not_before).map_err(ApiError::from),
            Self {
                subject: None,
                not_before: None,
                jti: Some(jti),
                expires_at,
                video: None,
            } => Revoke::token(&jti, expires_at).map_err(ApiError::from),
            Self {
                subject: None,
                not_before: None,
                jti: None,
                expires_at: None,
                video: Some(video),
            } => Revoke::video(&video).map_err(ApiError::from),
            _ => Err(ApiError::BadRequest(
                "name exactly one of subject (with not_before), jti (with expires_at) or video"
                    .to_owned(),
            )),
        }
    }
}

/// A revocation, as recorded.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Revocation {
    Subject {
        subject: String,
        /// Seconds since the epoch.
        not_before: i64,
    },
    Token {
        jti: String,
        /// Seconds since the epoch.
        expires_at: i64,
    },
    Video {
        video: String,
    },
}

impl From<Target> for Revocation {
    fn from(target: Target) -> Self {
        match target {
            Target::Subject {
                subject,
                not_before,
            } => Self::Subject {
                subject,
                not_before,
            },
            Target::Token { token_id, until } => Self::Token {
                jti: token_id,
                expires_at: until,
            },
            Target::Video { video } => Self::Video { video },
        }
    }
}

refusals!(RevokeRefusals {
    400 => [InvalidRequest],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    413 => [PayloadTooLarge],
    429 => [RateLimited],
    503 => [StateUnavailable],
});

/// `POST /admin/revocations`.
#[utoipa::path(
    post,
    path = "/admin/revocations",
    tag = "admin",
    summary = "Revoke a subject's tokens, one token, or a video (takedown)",
    request_body = RevokeBody,
    security(("bearer" = [])),
    responses((status = 201, description = "Recorded", body = Revocation), RevokeRefusals)
)]
pub async fn revoke(
    State(state): State<AppState>,
    audit: AuditSlot,
    caller: Caller,
    body: Result<Json<RevokeBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &caller)?;
    let Json(body) = body?;
    let revoke = body.parse()?;
    audit.update(|d| d.target = Some(revoke.describe()));
    let target = state.controls.revoke(revoke).await?;
    tracing::warn!(admin = %caller.subject, revocation = ?target, "revoked");
    Ok((StatusCode::CREATED, Json(Revocation::from(target))))
}

fn target_key(kind: &str, id: &str) -> Result<TargetKey, ApiError> {
    match kind {
        "subjects" => TargetKey::subject(id).map_err(ApiError::from),
        "tokens" => TargetKey::token(id).map_err(ApiError::from),
        "videos" => TargetKey::video(id).map_err(ApiError::from),
        _ => Err(ApiError::RouteNotFound),
    }
}

/// What a revocation names.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used: the path is parsed by `target_key`
enum RevocationKind {
    Subjects,
    Tokens,
    Videos,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// Always `true`: an absent revocation answers 404.
    revoked: bool,
}

refusals!(RevocationRefusals {
    400 => [InvalidRequest],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    404 => [RevocationNotFound, NotFound],
    429 => [RateLimited],
    503 => [StateUnavailable],
});

/// `GET /admin/revocations/{kind}/{id}`: 200 when revoked, 404 when not.
#[utoipa::path(
    get,
    path = "/admin/revocations/{kind}/{id}",
    tag = "admin",
    summary = "Whether a subject, a token (jti) or a video is revoked",
    params(
        ("kind" = inline(RevocationKind), Path, description = "What `id` names"),
        ("id" = String, Path, description = "A subject, a jti or a video id"),
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "Revoked", body = Revoked), RevocationRefusals)
)]
pub async fn revocation(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &caller)?;
    let Path((kind, id)) = path?;
    let key = target_key(&kind, &id)?;
    if state.controls.is_revoked(&key).await? {
        Ok(Json(Revoked { revoked: true }))
    } else {
        Err(ApiError::RevocationNotFound)
    }
}

/// `DELETE /admin/revocations/{kind}/{id}`: 204, or 404 when there was none.
#[utoipa::path(
    delete,
    path = "/admin/revocations/{kind}/{id}",
    tag = "admin",
    summary = "Clear a revocation",
    params(
        ("kind" = inline(RevocationKind), Path, description = "What `id` names"),
        ("id" = String, Path, description = "A subject, a jti or a video id"),
    ),
    security(("bearer" = [])),
    responses((status = 204, description = "Cleared"), RevocationRefusals)
)]
pub async fn unrevoke(
    State(state): State<AppState>,
    audit: AuditSlot,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &caller)?;
    let Path((kind, id)) = path?;
    let key = target_key(&kind, &id)?;
    audit.update(|d| d.target = Some(key.describe()));
    if state.controls.unrevoke(&key).await? {
        tracing::warn!(admin = %caller.subject, revocation = ?key, "revocation cleared");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::RevocationNotFound)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubjectParams {
    /// The tiers whose limits to show, comma-separated (the subject's tokens carry them).
    tiers: Option<String>,
}

/// What one subject can still do.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectReport {
    subject: String,
    /// The tiers whose limits are shown.
    tiers: Vec<String>,
    revocation: SubjectRevocation,
    streams: Streams,
    limits: Vec<Limit>,
    /// `null` when quotas are off.
    quota: Option<Quota>,
}

#[derive(Debug, Serialize, ToSchema)]
struct SubjectRevocation {
    /// Tokens issued at or before it are refused (seconds since the epoch).
    not_before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Streams {
    /// 0: no limit.
    max_concurrent: u32,
    leases: Vec<Lease>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Lease {
    session: String,
    /// Seconds since the epoch.
    expires_at: u64,
}

/// A rate limit's state.
#[derive(Debug, Serialize, ToSchema)]
struct Limit {
    policy: &'static str,
    quota: u32,
    window_secs: u64,
    remaining: u32,
    reset_secs: u64,
}

impl From<&RateLimitInfo> for Limit {
    fn from(l: &RateLimitInfo) -> Self {
        Self {
            policy: l.policy,
            quota: l.quota,
            window_secs: l.window_secs,
            remaining: l.remaining,
            reset_secs: l.reset_secs,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct Quota {
    quota_bytes: u64,
    used_bytes: u64,
    remaining_bytes: u64,
    resets_in_secs: u64,
}

impl From<QuotaUse> for Quota {
    fn from(q: QuotaUse) -> Self {
        Self {
            quota_bytes: q.quota_bytes,
            used_bytes: q.used_bytes,
            remaining_bytes: q.remaining_bytes,
            resets_in_secs: q.resets_in_secs,
        }
    }
}

refusals!(SubjectRefusals {
    400 => [InvalidRequest],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    429 => [RateLimited],
    503 => [StateUnavailable, StorageUnavailable, StorageForbidden],
});

/// `GET /admin/subjects/{sub}`.
#[utoipa::path(
    get,
    path = "/admin/subjects/{sub}",
    tag = "admin",
    summary = "A subject's revocation, leases, rate-limit state and quota use",
    params(("sub" = String, Path, description = "The subject (`sub`)"), SubjectParams),
    security(("bearer" = [])),
    responses((status = 200, description = "The subject", body = SubjectReport), SubjectRefusals)
)]
pub async fn subject(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<SubjectParams>, QueryRejection>,
) -> Result<Json<SubjectReport>, ApiError> {
    require_admin(&state, &caller)?;
    let Path(raw) = path?;
    let subject = subject_id(&raw).map_err(ApiError::from)?;
    let Query(params) = query?;
    let tiers: Vec<String> = params
        .tiers
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    // What the store now holds of the subject's uploads of unknown size counts first.
    crate::uploads::settle_pending(&state, &subject).await?;
    let view = state.controls.subject(&subject, &tiers).await?;
    let leases = view
        .state
        .leases
        .into_iter()
        .map(|(session, until_us)| Lease {
            session,
            expires_at: until_us / 1_000_000,
        })
        .collect();
    Ok(Json(SubjectReport {
        subject,
        tiers,
        revocation: SubjectRevocation {
            not_before: view.state.not_before,
        },
        streams: Streams {
            max_concurrent: view.max_streams,
            leases,
        },
        limits: view.limits.iter().map(Limit::from).collect(),
        quota: view.quota.map(Quota::from),
    }))
}
