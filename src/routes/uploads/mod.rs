//! `POST /uploads` and `POST /uploads/{id}/complete`: single-request uploads straight to the
//! bucket, with a URL that allows exactly what was authorised.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

mod body;

use super::videos::UrlResponse;
use crate::audit::AuditSlot;
use crate::auth::Caller;
use crate::domain::S3UploadId;
use crate::error::ApiError;
use crate::state::AppState;
use crate::uploads::{
    Declaration, OwnedUpload, Started, complete, owned_upload, presign_part, start_upload,
};
use body::{
    CompleteMultipart, CreateUpload, MultipartCreated, PartInfo, PartUrl, UploadCreated,
    UploadIdQuery, UploadReady,
};

/// Largest `POST /uploads` body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest `complete` body: 10000 parts with their ETags.
pub const MAX_COMPLETE_BODY_BYTES: usize = 1024 * 1024;

/// `POST /uploads`: authenticate → may upload? → validate the declaration → sign one PUT URL, or
/// start a multipart upload above the threshold.
pub async fn create_upload(
    State(state): State<AppState>,
    audit: AuditSlot,
    caller: Caller,
    body: Result<Json<CreateUpload>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let declaration = Declaration {
        content_type: &request.content_type,
        size: Some(request.size),
        multipart: false,
        filename: request.filename.as_deref(),
        access: request.access.as_deref(),
        sha256: request.sha256.as_deref(),
    };
    let created = match start_upload(&state, &caller, declaration).await? {
        Started::Single { id, key, url } => {
            audit.update(|d| {
                d.upload = Some(id.to_string());
                d.key = Some(key.to_string());
                d.expires_at = Some(crate::clock::unix_secs(url.expires_at));
            });
            Json(UploadCreated {
                id: id.to_string(),
                key: key.to_string(),
                url: UrlResponse::from(url),
            })
            .into_response()
        }
        Started::Multipart {
            id,
            key,
            upload_id,
            plan,
        } => {
            audit.update(|d| {
                d.upload = Some(id.to_string());
                d.key = Some(key.to_string());
            });
            Json(MultipartCreated {
                id: id.to_string(),
                key: key.to_string(),
                upload_id,
                part_size: plan.part_size,
                part_count: plan.part_count,
            })
            .into_response()
        }
    };
    Ok((StatusCode::CREATED, created).into_response())
}

fn upload_id_query(
    query: Result<Query<UploadIdQuery>, QueryRejection>,
) -> Result<S3UploadId, ApiError> {
    Ok(query?.0.upload_id)
}

/// `GET /uploads/{id}/parts/{n}?upload_id=`: a PUT URL for part `n`, its exact length signed.
pub async fn sign_part(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, u64)>, PathRejection>,
    query: Result<Query<UploadIdQuery>, QueryRejection>,
) -> Result<Json<PartUrl>, ApiError> {
    let Path((raw_id, number)) = path?;
    let upload = owned_upload(&state, &caller, &raw_id)?;
    let upload_id = upload_id_query(query)?;
    let (presigned, length) = presign_part(
        &state,
        &upload,
        upload_id.as_str(),
        number,
        state.presign.put_max_expires_secs,
    )
    .await?;
    Ok(Json(PartUrl {
        part_number: number,
        size: length,
        url: UrlResponse::from(presigned),
    }))
}

/// `GET /uploads/{id}/parts?upload_id=`: the parts the store holds.
pub async fn list_parts(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UploadIdQuery>, QueryRejection>,
) -> Result<Json<Vec<PartInfo>>, ApiError> {
    let Path(raw_id) = path?;
    let key = owned_upload(&state, &caller, &raw_id)?.key;
    let upload_id = upload_id_query(query)?;
    let parts = state
        .storage
        .list_parts(&key, upload_id.as_str())
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    Ok(Json(
        parts
            .into_iter()
            .map(|p| PartInfo {
                part_number: p.number,
                size: p.size,
                etag: p.etag,
            })
            .collect(),
    ))
}

/// `DELETE /uploads/{id}?upload_id=`: abandons a multipart upload and its parts.
pub async fn abort_upload(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UploadIdQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(raw_id) = path?;
    let OwnedUpload { id, key, .. } = owned_upload(&state, &caller, &raw_id)?;
    let upload_id = upload_id_query(query)?;
    if !state
        .storage
        .abort_multipart(&key, upload_id.as_str())
        .await?
    {
        return Err(ApiError::UploadNotFound);
    }
    state
        .controls
        .release_upload(&caller.subject, &id.to_string())
        .await?;
    tracing::info!(upload = %id, subject = %caller.subject, "multipart upload aborted");
    Ok(Json(serde_json::json!({})))
}

/// `POST /uploads/{id}/complete`: (multipart: the parts are assembled, then) the object is
/// there, it is the caller's, and it is what the URL was signed for.
pub async fn complete_upload(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UploadReady>, ApiError> {
    let Path(raw_id) = path?;
    // Ownership first: nobody learns anything of someone else's upload, not even whether it
    // exists.
    let upload = owned_upload(&state, &caller, &raw_id)?;
    let body = body?;
    // A multipart upload names its S3 upload and parts; a single upload sends no body.
    let multipart = if body.is_empty() {
        None
    } else {
        let request: CompleteMultipart = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))?;
        let parts: Vec<(u64, String)> = request
            .parts
            .into_iter()
            .map(|p| (p.part_number, p.etag))
            .collect();
        Some((request.upload_id, parts))
    };
    let ready = complete(
        &state,
        &caller,
        &upload,
        multipart
            .as_ref()
            .map(|(upload_id, parts)| (upload_id.as_str(), parts.as_slice())),
    )
    .await?;
    Ok(Json(UploadReady {
        id: upload.id.to_string(),
        size: ready.size,
        content_type: ready.content_type,
        access: ready.tier,
        status: "ready",
    }))
}
