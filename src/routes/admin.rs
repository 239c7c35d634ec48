//! The admin routes (the `auth.admin_role` role): revocations, and what one subject can still do.
//!
//! - `POST /admin/revocations` `{"subject": S, "not_before"?: T}` | `{"jti": J, "expires_at"?: T}`
//!   | `{"video": ID}` → 201 with the revocation recorded;
//! - `GET|DELETE /admin/revocations/{subjects|tokens|videos}/{id}` → 200 / 204, or 404;
//! - `GET /admin/subjects/{sub}?tiers=a,b` → its revocation, leases, rate-limit state and quota.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::AuditSlot;
use crate::auth::Caller;
use crate::controls::{Revoke, Target, TargetKey, subject_id};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/revocations", post(revoke))
        .route(
            "/admin/revocations/{kind}/{id}",
            get(revocation).delete(unrevoke),
        )
        .route("/admin/subjects/{sub}", get(subject))
}

fn require_admin(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if state.policy.is_admin(caller) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("the admin routes need the admin role"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    subject: Option<String>,
    /// Seconds since the epoch; default now.
    not_before: Option<i64>,
    jti: Option<String>,
    /// Seconds since the epoch; default `revocation.jti_ttl_secs` from now.
    expires_at: Option<i64>,
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

fn target_json(target: &Target) -> Value {
    match target {
        Target::Subject {
            subject,
            not_before,
        } => json!({ "subject": subject, "not_before": not_before }),
        Target::Token { token_id, until } => json!({ "jti": token_id, "expires_at": until }),
        Target::Video { video } => json!({ "video": video }),
    }
}

/// `POST /admin/revocations`.
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
    Ok((StatusCode::CREATED, Json(target_json(&target))))
}

fn target_key(kind: &str, id: &str) -> Result<TargetKey, ApiError> {
    match kind {
        "subjects" => TargetKey::subject(id).map_err(ApiError::from),
        "tokens" => TargetKey::token(id).map_err(ApiError::from),
        "videos" => TargetKey::video(id).map_err(ApiError::from),
        _ => Err(ApiError::RouteNotFound),
    }
}

/// `GET /admin/revocations/{kind}/{id}`: 200 when revoked, 404 when not.
pub async fn revocation(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &caller)?;
    let Path((kind, id)) = path?;
    let key = target_key(&kind, &id)?;
    if state.controls.is_revoked(&key).await? {
        Ok(Json(json!({ "revoked": true })))
    } else {
        Err(ApiError::RevocationNotFound)
    }
}

/// `DELETE /admin/revocations/{kind}/{id}`: 204, or 404 when there was none.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectParams {
    /// The tiers whose limits to show, comma-separated (the subject's tokens carry them).
    tiers: Option<String>,
}

/// `GET /admin/subjects/{sub}`.
pub async fn subject(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<SubjectParams>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
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
    let leases: Vec<Value> = view
        .state
        .leases
        .iter()
        .map(
            |(session, until_us)| json!({ "session": session, "expires_at": until_us / 1_000_000 }),
        )
        .collect();
    let limits: Vec<Value> = view
        .limits
        .iter()
        .map(|l| {
            json!({
                "policy": l.policy,
                "quota": l.quota,
                "window_secs": l.window_secs,
                "remaining": l.remaining,
                "reset_secs": l.reset_secs,
            })
        })
        .collect();
    Ok(Json(json!({
        "subject": subject,
        "tiers": tiers,
        "revocation": { "not_before": view.state.not_before },
        "streams": { "max_concurrent": view.max_streams, "leases": leases },
        "limits": limits,
        "quota": view.quota.map(|q| json!({
            "quota_bytes": q.quota_bytes,
            "used_bytes": q.used_bytes,
            "remaining_bytes": q.remaining_bytes,
            "resets_in_secs": q.resets_in_secs,
        })),
    })))
}
