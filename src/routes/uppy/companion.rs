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
use serde_json::Value;

use super::companion_body::{
    CompleteBody, CreateMultipart, FormUpload, KeyQuery, MultipartCompleted, MultipartStarted,
    PartSigned, StoredPart,
};
use crate::audit::AuditSlot;
use crate::auth::Caller;
use crate::domain::S3UploadId as UploadIdSchema;
use crate::domain::{ObjectKey, S3UploadId};
use crate::error::ApiError;
use crate::routes::openapi::refusals;
use crate::routes::uploads::Empty;
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

refusals!(companion NewUploadRefusals {
    400 => [InvalidRequest, InvalidKey],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    413 => [QuotaExceeded, PayloadTooLarge],
    415 => [UnsupportedMediaType],
    429 => [RateLimited, TooManyUploads],
    503 => [UploadsDisabled, StorageUnavailable, StorageForbidden, StateUnavailable],
});

refusals!(companion UploadRefusals {
    400 => [InvalidRequest, InvalidVideoId, InvalidKey],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    404 => [UploadNotFound],
    410 => [UploadExpired],
    429 => [RateLimited],
    503 => [UploadsDisabled, StorageUnavailable, StorageForbidden, StateUnavailable],
});

refusals!(companion CompleteRefusals {
    400 => [InvalidRequest, InvalidVideoId, InvalidKey],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    404 => [UploadNotFound],
    409 => [UploadMismatch],
    410 => [UploadExpired],
    413 => [TooLarge, QuotaExceeded, PayloadTooLarge],
    429 => [RateLimited],
    503 => [UploadsDisabled, StorageUnavailable, StorageForbidden, StateUnavailable],
});

/// `GET /s3/params?filename=&type=&metadata[k]=v`: one form upload (a POST policy that bounds the
/// length, which a PUT could not sign here).
#[utoipa::path(
    get,
    path = "/s3/params",
    tag = "uppy",
    summary = "Uppy 4.x/5.x getUploadParameters: one form upload under a key tollgate chooses",
    params(
        ("filename" = String, Query, description = "The file's name"),
        ("type" = String, Query, description = "The file's media type"),
        ("metadata[access]" = Option<String>, Query, description = "The tier; other `metadata[…]` are ignored"),
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "The form", body = FormUpload), NewUploadRefusals)
)]
pub async fn params(
    State(state): State<AppState>,
    audit: AuditSlot,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<FormUpload>, ApiError> {
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
    Ok(Json(FormUpload {
        method: "POST",
        url: post.url,
        fields,
        headers: std::collections::BTreeMap::new(),
    }))
}

/// `POST /s3/multipart` `{filename, type, metadata}` → `{key, uploadId}`.
#[utoipa::path(
    post,
    path = "/s3/multipart",
    tag = "uppy",
    summary = "Uppy 4.x/5.x createMultipartUpload, under a key tollgate chooses",
    request_body = CreateMultipart,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Created", body = MultipartStarted, links(
            ("list_parts" = (operation_id = "uppy_list_parts", parameters(
                ("upload_id" = "$response.body#/uploadId"),
                ("key" = "$response.body#/key"),
            ))),
            ("complete" = (operation_id = "uppy_complete", parameters(
                ("upload_id" = "$response.body#/uploadId"),
                ("key" = "$response.body#/key"),
            ))),
            ("abort" = (operation_id = "uppy_abort", parameters(
                ("upload_id" = "$response.body#/uploadId"),
                ("key" = "$response.body#/key"),
            ))),
        )),
        NewUploadRefusals,
    )
)]
pub async fn create_multipart(
    State(state): State<AppState>,
    audit: AuditSlot,
    caller: Caller,
    body: Result<Json<CreateMultipart>, JsonRejection>,
) -> Result<Json<MultipartStarted>, ApiError> {
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
    Ok(Json(MultipartStarted {
        key: key.as_str().to_owned(),
        upload_id,
    }))
}

/// `GET /s3/multipart/{uploadId}/{partNumber}?key=` → `{url, expires}`.
#[utoipa::path(
    get,
    path = "/s3/multipart/{upload_id}/{part_number}",
    tag = "uppy",
    operation_id = "uppy_sign_part",
    summary = "Uppy 4.x/5.x signPart: a PUT URL for one part",
    params(
        ("upload_id" = UploadIdSchema, Path, description = "The store's multipart upload id"),
        ("part_number" = u64, Path, description = "1 to 10000"),
        KeyQuery,
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "The part's URL", body = PartSigned), UploadRefusals)
)]
pub async fn sign_part(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, u64)>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<PartSigned>, ApiError> {
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
    Ok(Json(PartSigned {
        url: presigned.url,
        expires: presigned.expires_in,
    }))
}

/// `GET /s3/multipart/{uploadId}?key=` → `[{PartNumber, ETag, Size}]`.
#[utoipa::path(
    get,
    path = "/s3/multipart/{upload_id}",
    tag = "uppy",
    operation_id = "uppy_list_parts",
    summary = "Uppy 4.x/5.x listParts",
    params(
        ("upload_id" = UploadIdSchema, Path, description = "The store's multipart upload id"),
        KeyQuery,
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "The parts", body = Vec<StoredPart>), UploadRefusals)
)]
pub async fn list_parts(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<Vec<StoredPart>>, ApiError> {
    let (upload_id, key) = owned_multipart(&state, &caller, path, query)?;
    let parts = state
        .storage
        .list_parts(&key, upload_id.as_str())
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    Ok(Json(
        parts
            .into_iter()
            .map(|p| StoredPart {
                part_number: p.number,
                etag: p.etag,
                size: p.size,
            })
            .collect(),
    ))
}

/// `POST /s3/multipart/{uploadId}/complete?key=` `{parts}` → `{location, key}`.
#[utoipa::path(
    post,
    path = "/s3/multipart/{upload_id}/complete",
    tag = "uppy",
    operation_id = "uppy_complete",
    summary = "Uppy 4.x/5.x completeMultipartUpload: assemble the parts, then check the object",
    params(
        ("upload_id" = UploadIdSchema, Path, description = "The store's multipart upload id"),
        KeyQuery,
    ),
    request_body = CompleteBody,
    security(("bearer" = [])),
    responses((status = 200, description = "Completed", body = MultipartCompleted), CompleteRefusals)
)]
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
    body: Result<Json<CompleteBody>, JsonRejection>,
) -> Result<Json<MultipartCompleted>, ApiError> {
    let (upload_id, key) = owned_multipart(&state, &caller, path, query)?;
    let Json(request) = body?;
    // The size was never declared: the policy maximum is checked on what the store holds.
    let parts: Vec<(u64, String)> = request
        .parts
        .into_iter()
        .map(|p| (p.part_number, p.etag))
        .collect();
    complete_unknown_size(&state, &caller, &key, upload_id.as_str(), &parts).await?;
    Ok(Json(MultipartCompleted {
        location: state.storage.location(&key),
        key: key.as_str().to_owned(),
    }))
}

/// `DELETE /s3/multipart/{uploadId}?key=` → `{}`.
#[utoipa::path(
    delete,
    path = "/s3/multipart/{upload_id}",
    tag = "uppy",
    operation_id = "uppy_abort",
    summary = "Uppy 4.x/5.x abortMultipartUpload",
    params(
        ("upload_id" = UploadIdSchema, Path, description = "The store's multipart upload id"),
        KeyQuery,
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "Abandoned", body = Empty), UploadRefusals)
)]
pub async fn abort(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<Empty>, ApiError> {
    let (upload_id, key) = owned_multipart(&state, &caller, path, query)?;
    if !state
        .storage
        .abort_multipart(&key, upload_id.as_str())
        .await?
    {
        return Err(ApiError::UploadNotFound);
    }
    Ok(Json(Empty {}))
}
