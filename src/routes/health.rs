use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;
use crate::storage::StorageError;

fn check_json(name: &str, result: Result<(), StorageError>) -> Value {
    match result {
        Ok(()) => json!({ "status": "ok" }),
        Err(e) => {
            tracing::warn!(check = name, error = %e, "readiness check failed");
            json!({ "status": "error", "reason": e.public_reason() })
        }
    }
}

/// Liveness: the process answers. Touches no dependency, so a store outage never restarts pods.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the bucket answers a HEAD in time, tollgate's key may read objects (and signs for
/// the store's region) and, where uploads are enabled, write them, and JWKS keys are loaded when
/// JWKS is used.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let uploads_enabled = state.upload_ids.is_some();
    let write = async {
        if uploads_enabled {
            Some(state.storage.check_write().await)
        } else {
            None
        }
    };
    let (bucket, read, write) = tokio::join!(
        state.storage.check_bucket(),
        state.storage.check_read(),
        write
    );
    let storage = check_json("storage", bucket);
    let storage_read = check_json("storage_read", read);
    let storage_write = write.map_or_else(
        || json!({ "status": "skipped" }),
        |w| check_json("storage_write", w),
    );
    let jwks = match state.verifier.jwks() {
        None => json!({ "status": "skipped" }),
        Some(cache) if cache.is_loaded() => json!({ "status": "ok" }),
        Some(_) => json!({ "status": "error", "reason": "no JWKS keys loaded yet" }),
    };
    let ready = [&storage, &storage_read, &storage_write, &jwks]
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
            "jwks": jwks,
        },
    });
    (status, Json(body))
}
