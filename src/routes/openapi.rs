//! The OpenAPI 3.1 document, served at `GET /openapi.json`.
//!
//! It is not written by hand: each handler carries its `#[utoipa::path]` (parameters, bodies,
//! answers, and the error codes it can answer, declared with [`refusals!`]), and the routes are
//! registered through utoipa-axum's `routes!`, which adds the handler to the router and its
//! operation to the document in one step. A route cannot be served without being documented;
//! `tests/api/openapi.rs` also compares the document with the router's own route table.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use utoipa::OpenApi as _;
use utoipa::openapi::header::Header;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa::{Modify, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};

use crate::domain::{ExpiresIn, S3UploadId, SessionId, VideoId};
use crate::error::{ErrorBody, ErrorCode};
use crate::state::AppState;

/// The security scheme of a Bearer JWT.
pub const BEARER: &str = "bearer";
/// The security scheme of an HLS playback grant (`?grant=`), which players send instead.
pub const GRANT: &str = "grant";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "tollgate",
        description = "Short-lived presigned S3 URLs for callers who prove who they are (a \
            Bearer JWT) and what they paid for (its entitlements). Every error answers \
            `{\"error\": {\"code\", \"message\"}}`; the codes are stable, the messages are not. \
            Each operation lists the codes it can answer under each status.",
    ),
    modifiers(&SecuritySchemes),
    // The values path and query parameters name (bodies bring their own schemas).
    components(schemas(
        ErrorBody, ErrorCode, CompanionErrorBody, VideoId, SessionId, S3UploadId, ExpiresIn
    )),
    tags(
        (name = "playback", description = "Presigned playback URLs and HLS playlists"),
        (name = "uploads", description = "Uploads straight to the bucket: single and multipart"),
        (name = "uppy", description = "Uppy's @uppy/aws-s3 clients: Companion-style routes (4.x/5.x) and signRequest (6.x)"),
        (name = "admin", description = "Revocations and a subject's state (admin role)"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "demo", description = "The development demo page (demo.enabled)"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT (HS256, or RS/ES/EdDSA from auth.jwks_url) with `sub` and `exp`; \
                         `iss`/`aud` when configured; entitlements and roles in their claims.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            GRANT,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "grant",
                "The playback grant that GET /videos/{id}/url put in an HLS video's URL: \
                 players fetch nested playlists with it, without headers.",
            ))),
        );
    }
}

/// Uppy's Companion-style routes answer errors with Companion's fields beside tollgate's.
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used: `uppy::companion_errors` writes the fields
pub struct CompanionErrorBody {
    /// The `error.message`, where `@uppy/companion-client` reads it.
    message: String,
    /// The request's `x-request-id`.
    #[schema(rename = "requestId")]
    request_id: String,
}

/// A string enum of `codes`.
pub fn code_enum(codes: &[ErrorCode]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes.iter().map(|c| c.as_str())))
        .build()
}

/// How a route shapes its errors.
#[derive(Clone, Copy)]
pub enum Shape {
    /// `{"error": {"code", "message"}}`.
    Api,
    /// The same, with Companion's `message` and `requestId` beside it (Uppy 4.x/5.x routes).
    Companion,
}

/// The error answers of one route: for each status, the codes it can answer. Every route can
/// also answer `408 request_timeout` (`server.request_timeout_secs`), `503 overloaded`
/// (`server.max_in_flight`; never `/healthz` or `/metrics`, which list it all the same) and, for
/// a bug, `500 internal_error`.
pub fn refusal_responses(
    shape: Shape,
    table: &[(u16, &[ErrorCode])],
) -> BTreeMap<String, RefOr<Response>> {
    let common: [(u16, &[ErrorCode]); 3] = [
        (408, &[ErrorCode::RequestTimeout]),
        (500, &[ErrorCode::InternalError]),
        (503, &[ErrorCode::Overloaded]),
    ];
    let mut merged: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for (status, codes) in table.iter().chain(common.iter()) {
        let entry = merged.entry(*status).or_default();
        for code in *codes {
            if !entry.contains(code) {
                entry.push(*code);
            }
        }
    }
    merged
        .into_iter()
        .map(|(status, codes)| (status.to_string(), refusal(shape, status, &codes).into()))
        .collect()
}

fn refusal(shape: Shape, status: u16, codes: &[ErrorCode]) -> Response {
    let names: Vec<String> = codes.iter().map(|c| format!("`{}`", c.as_str())).collect();
    let restricted = ObjectBuilder::new().property(
        "error",
        ObjectBuilder::new().property("code", code_enum(codes)),
    );
    let mut body = AllOfBuilder::new()
        .item(Ref::from_schema_name(ErrorBody::name()))
        .item(restricted);
    if let Shape::Companion = shape {
        body = body.item(Ref::from_schema_name(CompanionErrorBody::name()));
    }
    let mut response = ResponseBuilder::new()
        .description(names.join(", "))
        .content(
            "application/json",
            Content::new(Some(Schema::AllOf(body.build()))),
        );
    let has = |code| codes.contains(&code);
    if status == 401 {
        response = response.header(
            "WWW-Authenticate",
            header(
                Type::String,
                "`Bearer realm=\"tollgate\"`, with `error=\"invalid_token\"` when a token was sent",
            ),
        );
    }
    if status == 429
        || has(ErrorCode::StateUnavailable)
        || has(ErrorCode::StorageUnavailable)
        || has(ErrorCode::Overloaded)
    {
        response = response.header(
            "Retry-After",
            header(Type::Integer, "Seconds to wait before trying again"),
        );
    }
    if has(ErrorCode::RateLimited) {
        response = response
            .header(
                "RateLimit-Policy",
                header(Type::String, "The limit refused (rate_limited)"),
            )
            .header(
                "RateLimit",
                header(Type::String, "What is left of it (rate_limited)"),
            );
    }
    response.build()
}

fn header(kind: Type, description: &str) -> Header {
    let mut header = Header::new(ObjectBuilder::new().schema_type(kind));
    header.description = Some(description.to_owned());
    header
}

/// Declares the error answers of one route as a type for `#[utoipa::path(responses(..))]`:
/// `refusals!(Name { 401 => [MissingToken, InvalidToken], 404 => [VideoNotFound] })`, with the
/// [`ErrorCode`]s each status can carry; `refusals!(companion Name { .. })` for the Uppy
/// 4.x/5.x routes.
macro_rules! refusals {
    ($(#[$meta:meta])* $name:ident { $($status:literal => [$($code:ident),* $(,)?]),* $(,)? }) => {
        $crate::routes::openapi::refusals!(@shape Api $(#[$meta])* $name { $($status => [$($code),*]),* });
    };
    ($(#[$meta:meta])* companion $name:ident { $($status:literal => [$($code:ident),* $(,)?]),* $(,)? }) => {
        $crate::routes::openapi::refusals!(@shape Companion $(#[$meta])* $name { $($status => [$($code),*]),* });
    };
    (@shape $shape:ident $(#[$meta:meta])* $name:ident { $($status:literal => [$($code:ident),*]),* }) => {
        $(#[$meta])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                $crate::routes::openapi::refusal_responses(
                    $crate::routes::openapi::Shape::$shape,
                    &[$(($status, &[$($crate::error::ErrorCode::$code),*])),*],
                )
            }
        }
    };
}
pub(crate) use refusals;

/// The document as served: filled in once the router it describes is complete.
#[derive(Clone, Default)]
pub struct Document(Arc<OnceLock<Bytes>>);

refusals!(DocumentRefusals {});

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this server's routes", content_type = "application/json"),
        DocumentRefusals,
    )
)]
pub async fn document(State(document): State<Document>) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-cache"),
        ],
        document.0.get().cloned().unwrap_or_default(),
    )
}

/// A router whose operations are documented as they are added, starting with this document.
pub fn api_router(served: &Document) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(utoipa_axum::routes!(document).with_state(served.clone()))
}

/// The axum router, and its document, which `GET /openapi.json` now serves.
pub fn finish(
    router: OpenApiRouter<AppState>,
    document: &Document,
) -> (axum::Router<AppState>, OpenApi) {
    let (router, mut openapi) = router.split_for_parts();
    openapi.paths.paths = std::mem::take(&mut openapi.paths.paths)
        .into_iter()
        .map(|(path, item)| (openapi_path(&path), item))
        .collect();
    let json = openapi.to_json().unwrap_or_default();
    let _ = document.0.set(Bytes::from(json));
    (router, openapi)
}

/// An axum path as OpenAPI writes it: a wildcard `{*rest}` is the parameter `{rest}`.
pub fn openapi_path(axum_path: &str) -> String {
    axum_path.replace("{*", "{")
}
