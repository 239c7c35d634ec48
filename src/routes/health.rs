use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// Liveness: the process answers. Touches no dependency, so a store outage never restarts pods.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the bucket answers a HEAD in time, and JWKS keys are loaded when JWKS is used.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let storage = match state.storage.check_bucket().await {
        Ok(()) => json!({ "status": "ok" }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: storage check failed");
            json!({ "status": "error", "reason": e.kind.to_string() })
        }
    };
    let jwks = match state.verifier.jwks() {
        None => json!({ "status": "skipped" }),
        Some(cache) if cache.is_loaded() => json!({ "status": "ok" }),
        Some(_) => json!({ "status": "error", "reason": "no JWKS keys loaded yet" }),
    };
    let ready = [&storage, &jwks].iter().all(|c| c["status"] != "error");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "storage": storage, "jwks": jwks },
    });
    (status, Json(body))
}
