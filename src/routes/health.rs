use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::refusals;
use crate::state::AppState;
use crate::storage::{StorageError, UploadKeyRead};

/// `/healthz`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    status: AliveStatus,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum AliveStatus {
    Ok,
}

/// `/readyz`'s answer: ready when no check is `error`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    status: ReadyStatus,
    checks: Checks,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ReadyStatus {
    Ready,
    NotReady,
}

/// One readiness check each (README "`GET /healthz`, `GET /readyz`").
#[derive(Debug, Serialize, ToSchema)]
struct Checks {
    storage: Check,
    storage_read: Check,
    storage_write: Check,
    upload_key_can_read: Check,
    jwks: Check,
    state: Check,
}

#[derive(Debug, Serialize, ToSchema)]
struct Check {
    status: CheckStatus,
    /// Why the check is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// `upload_key_can_read`: whether the upload key may read objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    can_read: Option<bool>,
    /// `state`: `memory` or `redis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<&'static str>,
}

#[derive(Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum CheckStatus {
    Ok,
    Warning,
    Error,
    Skipped,
}

impl Check {
    fn status(status: CheckStatus) -> Self {
        Self {
            status,
            reason: None,
            can_read: None,
            backend: None,
        }
    }

    fn failed(status: CheckStatus, reason: String) -> Self {
        Self {
            reason: Some(reason),
            ..Self::status(status)
        }
    }
}

fn check(name: &str, result: &Result<(), StorageError>) -> Check {
    match result {
        Ok(()) => Check::status(CheckStatus::Ok),
        Err(e) => {
            tracing::warn!(check = name, error = %e, "readiness check failed");
            Check::failed(CheckStatus::Error, e.public_reason())
        }
    }
}

fn upload_key_check(verdict: &UploadKeyRead) -> Check {
    match verdict {
        UploadKeyRead::Skipped => Check::status(CheckStatus::Skipped),
        UploadKeyRead::CannotRead => Check {
            can_read: Some(false),
            ..Check::status(CheckStatus::Ok)
        },
        UploadKeyRead::CanRead { allowed, reason } => {
            let status = if *allowed {
                CheckStatus::Warning
            } else {
                CheckStatus::Error
            };
            Check {
                can_read: Some(true),
                ..Check::failed(status, reason.clone())
            }
        }
        UploadKeyRead::Unknown(e) => check("upload_key_can_read", &Err(e.clone())),
    }
}

refusals!(HealthRefusals {});

/// Liveness: the process answers. Touches no dependency, so a store outage never restarts pods.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process answers", body = Alive), HealthRefusals)
)]
pub async fn healthz() -> Json<Alive> {
    Json(Alive {
        status: AliveStatus::Ok,
    })
}

/// Readiness: the bucket answers a HEAD in time, the read key may read objects (and signs for
/// the store's region), where uploads are enabled the upload key may write them and may not
/// read them, JWKS keys are loaded when JWKS is used, and the controls' shared state answers.
/// The store's answers are cached for `storage.readiness_cache_ms`.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready: no check is `error`", body = Readiness),
        (status = 503, description = "Not ready: a check is `error`", body = Readiness),
        HealthRefusals,
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let uploads_enabled = state.upload_ids.is_some();
    let report = state.storage.readiness(uploads_enabled).await;
    let jwks = match state.verifier.jwks() {
        None => Check::status(CheckStatus::Skipped),
        Some(cache) if cache.is_loaded() => Check::status(CheckStatus::Ok),
        Some(_) => Check::failed(CheckStatus::Error, "no JWKS keys loaded yet".to_owned()),
    };
    let backend = Some(state.controls.backend_name());
    let shared_state = match state.controls.ping().await {
        Ok(()) => Check {
            backend,
            ..Check::status(CheckStatus::Ok)
        },
        Err(e) => {
            tracing::warn!(check = "state", error = %e, "readiness check failed");
            // Unready only when a control would refuse requests: with every control failing
            // open, taking the replica out of service would only make things worse.
            let status = if state.controls.any_fails_closed() {
                CheckStatus::Error
            } else {
                CheckStatus::Warning
            };
            Check {
                backend,
                ..Check::failed(
                    status,
                    "the shared state (Redis) does not answer".to_owned(),
                )
            }
        }
    };
    let checks = Checks {
        storage: check("storage", &report.bucket),
        storage_read: check("storage_read", &report.read),
        storage_write: report.write.as_ref().map_or_else(
            || Check::status(CheckStatus::Skipped),
            |w| check("storage_write", w),
        ),
        upload_key_can_read: upload_key_check(&report.upload_key_read),
        jwks,
        state: shared_state,
    };
    let ready = [
        &checks.storage,
        &checks.state,
        &checks.storage_read,
        &checks.storage_write,
        &checks.upload_key_can_read,
        &checks.jwks,
    ]
    .iter()
    .all(|c| c.status != CheckStatus::Error);
    let (status, ready) = if ready {
        (StatusCode::OK, ReadyStatus::Ready)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, ReadyStatus::NotReady)
    };
    (
        status,
        Json(Readiness {
            status: ready,
            checks,
        }),
    )
}
