use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Fault, assert_error, spawn_app, spawn_gated_app};

#[tokio::test]
async fn healthz_is_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );
}

#[tokio::test]
async fn readyz_is_ready_then_503_when_the_store_stops_while_healthz_stays_ok() {
    let app = spawn_gated_app().await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["storage"]["status"], "ok");
    assert_eq!(body["checks"]["storage_read"]["status"], "ok");
    assert_eq!(body["checks"]["jwks"]["status"], "skipped");

    app.gate().set(Fault::Reset);

    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready", "{body}");
    assert_eq!(body["checks"]["storage"]["status"], "error", "{body}");
    // Liveness does not depend on the store.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn video_url_is_503_when_the_store_is_down() {
    let app = spawn_gated_app().await;
    let token = app.token("alice", &["premium"], &[]);
    app.gate().set(Fault::Reset);
    let (status, body) = app.video_url("never-cached", &token).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    let response = app.get("/nope", None).await;
    let status = response.status();
    assert_error(
        status,
        &response.json().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let response = app.http.post(app.url("/healthz")).send().await.unwrap();
    let status = response.status();
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    assert_error(
        status,
        &response.json().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn request_ids_are_echoed_generated_or_replaced() {
    let app = spawn_app().await;
    let echoed = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123");

    let generated = app.get("/healthz", None).await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let replaced = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.headers()["x-request-id"].len(), 36);
}
