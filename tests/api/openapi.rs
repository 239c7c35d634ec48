//! `GET /openapi.json`: an OpenAPI 3.1 document of every route the router serves, and nothing
//! it does not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::helpers::{spawn_app, test_settings};

/// The document's operations: path → methods (upper case).
fn operations(document: &Value) -> BTreeMap<String, BTreeSet<String>> {
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("a path item")
                .keys()
                .filter(|k| {
                    [
                        "get", "put", "post", "delete", "patch", "head", "options", "trace",
                    ]
                    .contains(&k.as_str())
                })
                .map(|k| k.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_served_document_is_openapi_3_1_without_authentication() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    if let Ok(to) = std::env::var("OPENAPI_DUMP") {
        std::fs::write(to, &text).unwrap();
    }

    // It parses as an OpenAPI 3.1 document.
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_str(&text).expect("an OpenAPI document");
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(matches!(
        parsed.openapi,
        utoipa::openapi::OpenApiVersion::Version31
    ));
    assert_eq!(document["info"]["title"], "tollgate");

    // The Bearer scheme, used by the routes that need a token.
    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");
    assert_eq!(
        document["paths"]["/videos/{id}/url"]["get"]["security"][0]["bearer"],
        serde_json::json!([])
    );
    assert!(
        document["paths"]["/healthz"]["get"]["security"].is_null(),
        "health needs no token"
    );

    // Every reference resolves, and every path parameter is declared.
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    assert!(!targets.is_empty());
    let missing: BTreeSet<&str> = targets
        .into_iter()
        .filter(|t| document.pointer(t.strip_prefix('#').unwrap_or(t)).is_none())
        .collect();
    assert!(missing.is_empty(), "unresolved: {missing:?}");
    for (path, methods) in operations(&document) {
        let names: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for method in methods {
            let operation = &document["paths"][&path][method.to_lowercase()];
            for name in &names {
                let declared = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["in"] == "path" && p["name"] == *name && p["required"] == true);
                assert!(declared, "{method} {path}: path parameter {name}");
            }
            // Every operation names its error codes, and a 2xx answer.
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}"
            );
            assert!(responses.contains_key("500"), "{method} {path}");
        }
    }

    // A refusal names its codes: a 401 of GET /videos/{id}/url is one of the token's.
    let unauthorized = &document["paths"]["/videos/{id}/url"]["get"]["responses"]["401"]["content"]
        ["application/json"]["schema"];
    assert_eq!(
        unauthorized["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"],
        serde_json::json!(["missing_token", "invalid_token", "token_revoked"]),
        "{unauthorized}"
    );
}

/// The paths axum's router holds, read from its `Debug` output (axum has no other way to list
/// them; `Router`'s `Debug` prints each route's path).
fn router_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    // The routes, not the fallback's (`fallback_router` follows `path_router`).
    let start = debug.find("path_router").expect("a path router");
    let end = debug.find("fallback_router").expect("a fallback router");
    let mut paths = BTreeSet::new();
    let mut rest = &debug[start..end];
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at..];
        let Some(quote) = rest.find(": \"") else {
            break;
        };
        let start = quote + 3;
        let end = start + rest[start..].find('"').expect("a closing quote");
        let path = &rest[start..end];
        if !path.contains("__private__axum") {
            paths.insert(path.to_owned());
        }
        rest = &rest[end..];
    }
    paths
}

/// A concrete request path for an axum path template.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(name) if name.starts_with('*') => "x/y.m3u8".to_owned(),
            Some(_) => "x1".to_owned(),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_and_methods_the_router_serves() {
    // Every optional route on: metrics on the API's port, the demo page, HLS (config/local.toml).
    let data = tempfile::tempdir().unwrap();
    let settings = test_settings(&data);
    assert!(settings.demo.enabled && settings.server.admin_port.is_none());
    let clock: tollgate::clock::SharedClock = Arc::new(tollgate::clock::OffsetClock::default());
    let app = tollgate::Application::build_with_clock(settings, clock)
        .await
        .expect("app builds");
    let router = app.router();

    let response = router
        .clone()
        .oneshot(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    let document: Value = serde_json::from_slice(&body).unwrap();
    let documented = operations(&document);

    let served = router_paths(&router);
    assert!(served.contains("/videos/{id}/url"), "{served:?}");
    let served_as_documented: BTreeSet<String> = served
        .iter()
        .map(|p| tollgate::routes::openapi::openapi_path(p))
        .collect();
    let documented_paths: BTreeSet<String> = documented.keys().cloned().collect();
    assert_eq!(
        served_as_documented, documented_paths,
        "the router's paths (left) and the document's (right) differ"
    );

    // Each path's methods, as the router tells them: a method it does not serve answers 405
    // with `Allow` listing those it does.
    for template in &served {
        let request = Request::builder()
            .method(Method::TRACE)
            .uri(concrete(template))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "TRACE {template}"
        );
        let allowed: BTreeSet<String> = response.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            // axum answers HEAD wherever it answers GET; the document leaves HEAD implied.
            .filter(|m| m != "HEAD")
            .collect();
        let path = tollgate::routes::openapi::openapi_path(template);
        assert_eq!(allowed, documented[&path], "methods of {path}");
    }
}

#[tokio::test]
async fn the_document_has_no_metrics_route_when_metrics_have_their_own_port() {
    let app = crate::helpers::spawn_app_with(|s| s.server.admin_port = Some(0)).await;
    let document: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(document["paths"]["/metrics"].is_null());
    assert!(document["paths"]["/healthz"].is_object());
}
