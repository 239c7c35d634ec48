use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;
use crate::storage::{StorageError, UploadKeyRead};

fn check_json(name: &str, result: &Result<(), StorageError>) -> Value {
    match result {
        Ok(()) => json!({ "status": "ok" }),
        Err(e) => {
            tracing::warn!(check = name, error = %e, "readiness check failed");
            json!({ "status": "error", "reason": e.public_reason() })
        }
    }
}

fn upload_key_json(verdict: &UploadKeyRead) -> Value {
    match verdict {
        UploadKeyRead::Skipped => json!({ "status": "skipped" }),
        UploadKeyRead::CannotRead => json!({ "status": "ok", "can_read": false }),
        UploadKeyRead::CanRead { allowed, reason } => {
            let status = if *allowed { "warning" } else { "error" };
            json!({ "status": status, "can_read": true, "reason": reason })
        }
        UploadKeyRead::Unknown(e) => check_json("upload_key_can_read", &Err(e.clone())),
    }
}

/// Liveness: the process answers. Touches no dependency, so a store outage never restarts pods.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the bucket answers a HEAD in time, the read key may read objects (and signs for
/// the store's region), where uploads are enabled the upload key may write them and may not
/// read them, JWKS keys are loaded when JWKS is used, and the controls' shared state answers. The store's answers are cached for
/// `storage.readiness_cache_ms`.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let uploads_enabled = state.upload_ids.is_some();
    let report = state.storage.readiness(uploads_enabled).await;
    let storage = check_json("storage", &report.bucket);
    let storage_read = check_json("storage_read", &report.read);
    let storage_write = report.write.as_ref().map_or_else(
        || json!({ "status": "skipped" }),
        |w| check_json("storage_write", w),
    );
    let upload_key_can_read = upload_key_json(&report.upload_key_read);
    let jwks = match state.verifier.jwks() {
        None => json!({ "status": "skipped" }),
        Some(cache) if cache.is_loaded() => json!({ "status": "ok" }),
        Some(_) => json!({ "status": "error", "reason": "no JWKS keys loaded yet" }),
    };
    let shared_state = match state.controls.ping().await {
        Ok(()) => json!({ "status": "ok", "backend": state.controls.backend_name() }),
        Err(e) => {
            tracing::warn!(check = "state", error = %e, "readiness check failed");
            // Unready only when a control would refuse requests: with every control failing
            // open, taking the replica out of service would only make things worse.
            let status = if state.controls.any_fails_closed() {
                "error"
            } else {
                "warning"
            };
            json!({
                "status": status,
                "backend": state.controls.backend_name(),
                "reason": "the shared state (Redis) does not answer",
            })
        }
    };
    let ready = [
        &storage,
        &shared_state,
        &storage_read,
        &storage_write,
        &upload_key_can_read,
        &jwks,
    ]
    .iter()
    .all(|c| c["status"] != "error");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "storage": storage,
            "storage_read": storage_read,
            "storage_write": storage_write,
            "upload_key_can_read": upload_key_can_read,
            "jwks": jwks,
            "state": shared_state,
        },
    });
    (status, Json(body))
}
