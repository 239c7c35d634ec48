//! Uppy `@uppy/aws-s3` 4.x/5.x: the Companion-style `/s3/*` routes, behind the same Bearer JWT
//! (the client merges `headers: {Authorization}` into every request).
//!
//! The protocol does not tell the file size. These uploads get ids with an unknown size: part
//! URLs cannot sign a length, so the object carries its maximum and the total is checked when
//! the upload is completed. Type, key, owner and tier are signed as for `POST /uploads`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use super::companion_body::{CompleteBody, CreateMultipart, KeyQuery};
use crate::audit::AuditSlot;
use crate::auth::Caller;
use crate::domain::{ObjectKey, S3UploadId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::uploads::{
    OwnedUpload, authorise_unknown_size, complete_unknown_size, new_key, owned_key, presign_part,
    sign_new_form,
};

/// The caller's upload behind `?key=`, or 403.
fn owned_key_query(
    state: &AppState,
    caller: &Caller,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<OwnedUpload, ApiError> {
    let Query(KeyQuery { key }) = query?;
    owned_key(state, caller, &key)
}

/// The S3 upload id in the path and the caller's key behind `?key=`, or why not.
fn owned_multipart(
    state: &AppState,
    caller: &Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<(S3UploadId, ObjectKey), ApiError> {
    let Path(raw_upload_id) = path?;
    // Whose upload first, as on every upload route; then whether the id is well formed.
    let key = owned_key_query(state, caller, query)?.key;
    Ok((S3UploadId::parse(&raw_upload_id)?, key))
}

/// `GET /s3/params?filename=&type=&metadata[k]=v`: one form upload (a POST policy that bounds the
/// length, which a PUT could not sign here).
pub async fn params(
    State(state): State<AppState>,
    audit: AuditSlot,
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
    let expires = state.presign.put_max_expires_secs;
    let (key, post) = sign_new_form(&state, &caller, &grant, expires).await?;
    audit.update(|d| d.key = Some(key.to_string()));
    let fields: serde_json::Map<String, Value> = post
        .fields
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    Ok(Json(
        json!({ "method": "POST", "url": post.url, "fields": fields, "headers": {} }),
    ))
}

/// `POST /s3/multipart` `{filename, type, metadata}` → `{key, uploadId}`.
pub async fn create_multipart(
    State(state): State<AppState>,
    audit: AuditSlot,
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
    // 4.x asks tollgate to create the upload: tollgate does, with the upload key.
    let key = new_key(&state, &caller).await?;
    audit.update(|d| d.key = Some(key.to_string()));
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
    let Path((raw_upload_id, number)) = path?;
    let upload = owned_key_query(&state, &caller, query)?;
    let upload_id = S3UploadId::parse(&raw_upload_id)?;
    let (presigned, _) = presign_part(
        &state,
        &upload,
        upload_id.as_str(),
        number,
        state.presign.put_max_expires_secs,
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
    let (upload_id, key) = owned_multipart(&state, &caller, path, query)?;
    let parts = state
        .storage
        .list_parts(&key, upload_id.as_str())
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
    let (upload_id, key) = owned_multipart(&state, &caller, path, query)?;
    let Json(request) = body?;
    // The size was never declared: the policy maximum is checked on what the store holds.
    let parts: Vec<(u64, String)> = request
        .parts
        .into_iter()
        .map(|p| (p.part_number, p.etag))
        .collect();
    complete_unknown_size(&state, &caller, &key, upload_id.as_str(), &parts).await?;
    Ok(Json(
        json!({ "location": state.storage.location(&key), "key": key.as_str() }),
    ))
}

/// `DELETE /s3/multipart/{uploadId}?key=` → `{}`.
pub async fn abort(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (upload_id, key) = owned_multipart(&state, &caller, path, query)?;
    if !state
        .storage
        .abort_multipart(&key, upload_id.as_str())
        .await?
    {
        return Err(ApiError::UploadNotFound);
    }
    Ok(Json(json!({})))
}
