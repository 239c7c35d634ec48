//! Uppy `@uppy/aws-s3` 4.x/5.x: the Companion-style `/s3/*` routes, behind the same Bearer JWT
//! (the client merges `headers: {Authorization}` into every request).
//!
//! The protocol does not tell the file size. These uploads get ids with an unknown size: part
//! URLs cannot sign a length, so the total is checked against the policy maximum when the upload
//! is completed. Type, key, owner and tier are signed as for `POST /uploads`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::MultipartOperation;
use crate::uploads::{
    OwnedUpload, authorise_unknown_size, check_s3_upload_id, checked_parts, complete_checked,
    new_key, owned_key, presign_part,
};

/// Companion's error shape, which `@uppy/companion-client` reads: a top-level `message` (shown to
/// the user for 4xx) and `requestId`, beside tollgate's own `error` object.
pub async fn companion_errors(request: Request, next: Next) -> Response {
    // The request id middleware runs outside this one: the id is on the request already.
    let request_id = request
        .headers()
        .get(&crate::telemetry::REQUEST_ID)
        .cloned();
    let response = next.run(request).await;
    if response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(message) = value.pointer("/error/message").cloned() {
        value["message"] = message;
    }
    if let Some(id) = request_id.as_ref().and_then(|v| v.to_str().ok()) {
        value["requestId"] = Value::from(id);
    }
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

#[derive(Debug, Deserialize)]
pub struct CreateMultipart {
    filename: String,
    #[serde(rename = "type")]
    content_type: String,
    #[serde(default)]
    metadata: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyQuery {
    key: String,
}

#[derive(Debug, Deserialize)]
pub struct CompleteBody {
    parts: Vec<UppyPart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UppyPart {
    part_number: u64,
    #[serde(rename = "ETag")]
    etag: String,
}

/// The caller's upload behind `?key=`, or 403.
fn owned_key_query(
    state: &AppState,
    caller: &Caller,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<OwnedUpload, ApiError> {
    let Query(KeyQuery { key }) = query?;
    owned_key(state, caller, &key)
}

/// `GET /s3/params?filename=&type=&metadata[k]=v`: one presigned PUT.
pub async fn params(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query?;
    let filename = q
        .get("filename")
        .ok_or_else(|| ApiError::BadRequest("filename is required".to_owned()))?;
    let content_type = q
        .get("type")
        .ok_or_else(|| ApiError::BadRequest("type is required".to_owned()))?;
    let grant = authorise_unknown_size(
        &state,
        &caller,
        filename,
        content_type,
        q.get("metadata[access]").map(String::as_str),
        false,
    )?;
    let key = new_key(&state, &caller).await?;
    let presigned = state
        .storage
        .upload_signer
        .put_object(&key, grant, state.presign.put_max_expires_secs)
        .await?;
    let headers: serde_json::Map<String, Value> = presigned
        .headers
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    Ok(Json(
        json!({ "method": "PUT", "url": presigned.url, "headers": headers }),
    ))
}

/// `POST /s3/multipart` `{filename, type, metadata}` → `{key, uploadId}`.
pub async fn create_multipart(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateMultipart>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) = body?;
    let access = request.metadata.get("access").and_then(Value::as_str);
    let grant = authorise_unknown_size(
        &state,
        &caller,
        &request.filename,
        &request.content_type,
        access,
        true,
    )?;
    let key = new_key(&state, &caller).await?;
    let upload_id = state
        .storage
        .create_multipart(&key, &grant.content_type, grant.metadata)
        .await?;
    Ok(Json(json!({ "key": key.as_str(), "uploadId": upload_id })))
}

/// `GET /s3/multipart/{uploadId}/{partNumber}?key=` → `{url, expires}`.
pub async fn sign_part(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, u64)>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((upload_id, number)) = path?;
    check_s3_upload_id(&upload_id)?;
    let upload = owned_key_query(&state, &caller, query)?;
    let (presigned, _) = presign_part(
        &state,
        &upload.key,
        upload.plan,
        &upload_id,
        number,
        state.presign.put_max_expires_secs.min(upload.secs_left),
    )
    .await?;
    Ok(Json(
        json!({ "url": presigned.url, "expires": presigned.expires_in }),
    ))
}

/// `GET /s3/multipart/{uploadId}?key=` → `[{PartNumber, ETag, Size}]`.
pub async fn list_parts(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(upload_id) = path?;
    check_s3_upload_id(&upload_id)?;
    let key = owned_key_query(&state, &caller, query)?.key;
    let parts = state
        .storage
        .list_parts(&key, &upload_id)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    let listed: Vec<Value> = parts
        .into_iter()
        .map(|p| json!({ "PartNumber": p.number, "ETag": p.etag, "Size": p.size }))
        .collect();
    Ok(Json(Value::Array(listed)))
}

/// `POST /s3/multipart/{uploadId}/complete?key=` `{parts}` → `{location, key}`.
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
    body: Result<Json<CompleteBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(upload_id) = path?;
    check_s3_upload_id(&upload_id)?;
    let key = owned_key_query(&state, &caller, query)?.key;
    let Json(request) = body?;
    // The size was never declared: the policy maximum is checked on what the store holds.
    let stored = state
        .storage
        .list_parts(&key, &upload_id)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    let parts = checked_parts(
        &stored,
        request
            .parts
            .iter()
            .map(|p| (p.part_number, p.etag.as_str())),
    )?;
    let total: u64 = stored
        .iter()
        .filter(|p| parts.iter().any(|(number, _)| *number == p.number))
        .map(|p| p.size)
        .sum();
    if total > state.uploads.max_multipart_bytes {
        return Err(ApiError::TooLarge(state.uploads.max_multipart_bytes));
    }
    complete_checked(&state, &key, &upload_id, &parts).await?;
    Ok(Json(
        json!({ "location": format!("/{}/{}", state.storage.bucket(), key), "key": key.as_str() }),
    ))
}

/// `DELETE /s3/multipart/{uploadId}?key=` → `{}`.
pub async fn abort(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(upload_id) = path?;
    check_s3_upload_id(&upload_id)?;
    let key = owned_key_query(&state, &caller, query)?.key;
    if !state.storage.abort_multipart(&key, &upload_id).await? {
        return Err(ApiError::UploadNotFound);
    }
    Ok(Json(json!({})))
}

/// Uppy 6.x `signRequest(req)`: `{method, key, uploadId?, partNumber?, contentType?}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignRequest {
    method: String,
    key: String,
    upload_id: Option<String>,
    part_number: Option<u64>,
    content_type: Option<String>,
    /// Requested lifetime in seconds; clamped to `presign.put_max_expires_secs`.
    expires_in: Option<u64>,
}

/// Signed headers for the browser, without those it may not set (`Host`, `Content-Length`: it
/// sends the real length itself, which is what was signed).
fn headers_json(headers: Vec<(String, String)>) -> Value {
    Value::Object(
        headers
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length"))
            .map(|(k, v)| (k, v.into()))
            .collect(),
    )
}

/// `POST /s3/sign`: a presigned URL for exactly one S3 operation, which the client then calls
/// itself (6.x parses S3's XML). New objects get a tollgate-chosen key (returned as `key`) with
/// owner, tier and name signed in; operations on an existing upload need the caller to own it.
pub async fn sign(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<SignRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) = body?;
    if request.expires_in == Some(0) {
        return Err(ApiError::BadRequest(
            "expiresIn must be at least 1".to_owned(),
        ));
    }
    let put_max = request
        .expires_in
        .map_or(state.presign.put_max_expires_secs, |asked| {
            asked.min(state.presign.put_max_expires_secs)
        });
    let method = request.method.to_ascii_uppercase();
    match (
        method.as_str(),
        request.upload_id.as_deref(),
        request.part_number,
    ) {
        // PutObject and CreateMultipartUpload: a new object.
        ("PUT" | "POST", None, None) => {
            let content_type = request
                .content_type
                .as_deref()
                .ok_or_else(|| ApiError::BadRequest("contentType is required".to_owned()))?;
            // The client's key is only a name suggestion.
            let name = request.key.rsplit('/').next().unwrap_or_default();
            let grant = authorise_unknown_size(
                &state,
                &caller,
                name,
                content_type,
                None,
                method == "POST",
            )?;
            let key = new_key(&state, &caller).await?;
            let presigned = if method == "PUT" {
                state
                    .storage
                    .upload_signer
                    .put_object(&key, grant, put_max)
                    .await?
            } else {
                let mut headers = vec![("content-type".to_owned(), grant.content_type)];
                headers.extend(
                    grant
                        .metadata
                        .into_iter()
                        .map(|(k, v)| (format!("x-amz-meta-{k}"), v)),
                );
                state
                    .storage
                    .upload_signer
                    .multipart_operation(MultipartOperation::Create, &key, headers, put_max)
                    .await?
            };
            Ok(Json(
                json!({ "url": presigned.url, "key": key.as_str(), "headers": headers_json(presigned.headers) }),
            ))
        }
        // UploadPart, ListParts, CompleteMultipartUpload, AbortMultipartUpload: the caller's upload.
        (_, Some(upload_id), part_number) => {
            check_s3_upload_id(upload_id)?;
            let upload = owned_key(&state, &caller, &request.key)?;
            let (key, plan) = (upload.key, upload.plan);
            // No URL for an upload outlives its id.
            let put_max = put_max.min(upload.secs_left);
            let operation = match (method.as_str(), part_number) {
                ("PUT", Some(number)) => {
                    let (presigned, _) =
                        presign_part(&state, &key, plan, upload_id, number, put_max).await?;
                    return Ok(Json(
                        json!({ "url": presigned.url, "headers": headers_json(presigned.headers) }),
                    ));
                }
                ("GET", None) => MultipartOperation::ListParts { upload_id },
                ("POST", None) => MultipartOperation::Complete { upload_id },
                ("DELETE", None) => MultipartOperation::Abort { upload_id },
                _ => return Err(ApiError::BadRequest("unsupported operation".to_owned())),
            };
            // ListParts is a read (Garage asks for read permission; AWS for
            // s3:ListMultipartUploadParts): the read key signs it, the upload key the rest.
            let signer = match operation {
                MultipartOperation::ListParts { .. } => &state.storage.playback_signer,
                _ => &state.storage.upload_signer,
            };
            // A completion never replaces an object (a second upload to the same key through a
            // reused CreateMultipartUpload URL), where the store enforces If-None-Match.
            let headers = match operation {
                MultipartOperation::Complete { .. } if state.uploads.if_none_match => {
                    vec![("if-none-match".to_owned(), "*".to_owned())]
                }
                _ => Vec::new(),
            };
            let presigned = signer
                .multipart_operation(operation, &key, headers, put_max)
                .await?;
            Ok(Json(
                json!({ "url": presigned.url, "headers": headers_json(presigned.headers) }),
            ))
        }
        _ => Err(ApiError::BadRequest("unsupported operation".to_owned())),
    }
}
