//! `POST /uploads` and `POST /uploads/{id}/complete`: single-request uploads straight to the
//! bucket, with a URL that allows exactly what was authorised.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::videos::UrlResponse;
use crate::auth::Caller;
use crate::domain::{ContentType, DownloadName, VideoId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::PutObjectGrant;

/// Largest `POST /uploads` body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    content_type: String,
    size: u64,
    filename: Option<String>,
    access: Option<String>,
    /// Base64 SHA-256 of the body.
    sha256: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UploadCreated {
    id: String,
    key: String,
    #[serde(flatten)]
    url: UrlResponse,
}

#[derive(Debug, Serialize)]
pub struct UploadReady {
    id: String,
    size: u64,
    content_type: String,
    access: String,
    status: &'static str,
}

/// `POST /uploads`: authenticate → may upload? → validate the declaration → sign.
pub async fn create_upload(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateUpload>, JsonRejection>,
) -> Result<(StatusCode, Json<UploadCreated>), ApiError> {
    if !state.policy.may_upload(&caller) {
        return Err(ApiError::Forbidden("uploading needs the uploader role"));
    }
    let Json(request) = body.map_err(|e| json_rejection(&e))?;
    let grant = authorise(&state, &caller, request)?;

    // tollgate chooses the key: time-ordered, unguessable, never the client's.
    let id = VideoId::parse(&uuid::Uuid::now_v7().to_string())?;
    let key = state.storage.key_for(&id)?;
    let presigned = state
        .storage
        .presigner
        .put_object(&key, grant, state.presign.put_max_expires_secs)
        .await?;
    tracing::info!(upload = %id, subject = %caller.subject, "upload URL issued");
    let body = UploadCreated {
        id: id.to_string(),
        key: key.to_string(),
        url: UrlResponse::from(presigned),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// The declaration turned into what the URL will allow, or the reason it is refused.
fn authorise(
    state: &AppState,
    caller: &Caller,
    request: CreateUpload,
) -> Result<PutObjectGrant, ApiError> {
    let limits = &state.uploads;
    let content_type = ContentType::parse(&request.content_type, &limits.allowed_content_types)
        .map_err(|_| ApiError::UnsupportedMediaType)?;
    if request.size == 0 {
        return Err(ApiError::BadRequest(
            "size must be at least 1 byte".to_owned(),
        ));
    }
    if request.size > limits.max_size_bytes {
        return Err(ApiError::TooLarge(limits.max_size_bytes));
    }
    let access = request
        .access
        .unwrap_or_else(|| limits.default_access.clone());
    if !state.policy.is_known_tier(&access) {
        return Err(ApiError::BadRequest(format!(
            "access {access:?} is not a known tier"
        )));
    }
    let mut metadata = vec![
        ("owner".to_owned(), caller.subject.clone()),
        ("access".to_owned(), access),
        ("size".to_owned(), request.size.to_string()),
    ];
    if let Some(raw) = request.filename {
        let name = DownloadName::parse(&raw).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        metadata.push(("filename".to_owned(), name.percent_encoded()));
    }
    let checksum_sha256 = request.sha256.map(|b64| check_sha256(&b64)).transpose()?;
    Ok(PutObjectGrant {
        content_type: content_type.as_str().to_owned(),
        content_length: request.size,
        metadata,
        checksum_sha256,
        if_none_match: limits.if_none_match,
    })
}

fn check_sha256(b64: &str) -> Result<String, ApiError> {
    match STANDARD.decode(b64) {
        Ok(digest) if digest.len() == 32 => Ok(b64.to_owned()),
        _ => Err(ApiError::BadRequest(
            "sha256 must be the base64 of a 32-byte SHA-256 digest".to_owned(),
        )),
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::BadRequest(
            "the body must be JSON (Content-Type: application/json)".to_owned(),
        ),
        _ => ApiError::BadRequest(rejection.body_text()),
    }
}

/// `POST /uploads/{id}/complete`: the object is there, it is the caller's, and it is what the
/// URL was signed for.
pub async fn complete_upload(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<UploadReady>, ApiError> {
    let Path(raw_id) = path.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id = VideoId::parse(&raw_id)?;
    let key = state.storage.key_for(&id)?;
    // Fresh, not cached: the object has just been written.
    let meta = state
        .storage
        .metadata
        .refresh(&key)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    // Objects an upload URL wrote carry the signed declaration; anything else (written with
    // the store's own credentials, or a body the store refused but kept) is not an upload.
    let Some(declared) = meta.declared_size else {
        return Err(ApiError::UploadMismatch(
            "the object was not written through an upload URL".to_owned(),
        ));
    };
    if !state.policy.may_manage(&caller, &meta) {
        return Err(ApiError::Forbidden(
            "only the uploader or an admin may complete this upload",
        ));
    }
    let size = meta.size.unwrap_or(0);
    if declared != size {
        return Err(ApiError::UploadMismatch(format!(
            "{size} bytes stored, {declared} authorised"
        )));
    }
    let content_type = meta.content_type.clone().unwrap_or_default();
    if ContentType::parse(&content_type, &state.uploads.allowed_content_types).is_err() {
        return Err(ApiError::UploadMismatch(format!(
            "content type {content_type:?} was not authorised"
        )));
    }
    let access = state.policy.tier_of(&meta).to_owned();
    tracing::info!(upload = %id, subject = %caller.subject, size, "upload complete");
    Ok(Json(UploadReady {
        id: id.to_string(),
        size,
        content_type,
        access,
        status: "ready",
    }))
}
