//! `POST /uploads` and `POST /uploads/{id}/complete`: single-request uploads straight to the
//! bucket, with a URL that allows exactly what was authorised.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::videos::UrlResponse;
use crate::auth::Caller;
use crate::domain::{ContentType, DownloadName, ObjectKey, VideoId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{PresignedUrl, PutObjectGrant, WrittenMetadata};
use crate::uploads::{PartPlan, UploadIds};

/// Longest owner metadata value (the encoded subject); S3 allows 2 KB of metadata in all.
const MAX_OWNER_BYTES: usize = 1024;
/// Largest `POST /uploads` body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest `complete` body: 10000 parts with their ETags.
pub const MAX_COMPLETE_BODY_BYTES: usize = 1024 * 1024;

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
pub struct MultipartCreated {
    id: String,
    key: String,
    upload_id: String,
    part_size: u64,
    part_count: u64,
}

#[derive(Debug, Serialize)]
pub struct PartUrl {
    part_number: u64,
    /// The signed length; `null` for uploads whose size was never declared (Uppy's protocols).
    size: Option<u64>,
    #[serde(flatten)]
    url: UrlResponse,
}

#[derive(Debug, Serialize)]
pub struct PartInfo {
    part_number: u64,
    size: u64,
    etag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadIdQuery {
    upload_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteMultipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    part_number: u64,
    etag: String,
}

#[derive(Debug, Serialize)]
pub struct UploadReady {
    id: String,
    size: u64,
    content_type: String,
    access: String,
    status: &'static str,
}

pub(super) fn upload_ids(state: &AppState) -> Result<&UploadIds, ApiError> {
    state.upload_ids.as_deref().ok_or(ApiError::UploadsDisabled)
}

/// `POST /uploads`: authenticate → may upload? → validate the declaration → sign one PUT URL, or
/// start a multipart upload above the threshold.
pub async fn create_upload(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateUpload>, JsonRejection>,
) -> Result<Response, ApiError> {
    let ids = upload_ids(&state)?;
    if !state.policy.may_upload(&caller) {
        return Err(ApiError::Forbidden("uploading needs the uploader role"));
    }
    let Json(request) = body?;
    let size = request.size;
    let multipart = size > state.uploads.multipart_threshold_bytes;
    if multipart && request.sha256.is_some() {
        return Err(ApiError::BadRequest(
            "sha256 is enforced on single uploads only; leave it out above the multipart threshold"
                .to_owned(),
        ));
    }
    let grant = authorise(
        &state,
        &caller,
        &Declaration {
            content_type: &request.content_type,
            size: Some(size),
            multipart,
            filename: request.filename.as_deref(),
            access: request.access.as_deref(),
            sha256: request.sha256.as_deref(),
        },
    )?;
    state.storage.ensure_writable().await?;

    // tollgate chooses the key: time-ordered, unguessable, bound to its owner, never the client's.
    let plan = PartPlan::new(size, state.uploads.part_size_bytes);
    let id = ids.issue(&caller.subject, plan);
    let key = state.storage.key_for(&id)?;
    if multipart {
        let upload_id = state
            .storage
            .create_multipart(&key, &grant.content_type, grant.metadata)
            .await?;
        tracing::info!(upload = %id, subject = %caller.subject, parts = plan.part_count, "multipart upload started");
        let body = MultipartCreated {
            id: id.to_string(),
            key: key.to_string(),
            upload_id,
            part_size: plan.part_size,
            part_count: plan.part_count,
        };
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    let presigned = state
        .storage
        .upload_signer
        .put_object(&key, grant, state.presign.put_max_expires_secs)
        .await?;
    tracing::info!(upload = %id, subject = %caller.subject, "upload URL issued");
    let body = UploadCreated {
        id: id.to_string(),
        key: key.to_string(),
        url: UrlResponse::from(presigned),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// What a client declares about an upload; `size` and `sha256` are unknown on Uppy's protocols.
pub(super) struct Declaration<'a> {
    pub content_type: &'a str,
    pub size: Option<u64>,
    /// Whether the upload is multipart (which maximum bounds an unknown size).
    pub multipart: bool,
    pub filename: Option<&'a str>,
    pub access: Option<&'a str>,
    pub sha256: Option<&'a str>,
}

/// The declaration turned into what the URL will allow, or the reason it is refused: the rules
/// of every upload API (type allowlist, size limits, known tier, sanitised name, owner).
pub(super) fn authorise(
    state: &AppState,
    caller: &Caller,
    declared: &Declaration<'_>,
) -> Result<PutObjectGrant, ApiError> {
    let limits = &state.uploads;
    let content_type = ContentType::parse(declared.content_type, &limits.allowed_content_types)
        .map_err(|_| ApiError::UnsupportedMediaType)?;
    if let Some(size) = declared.size {
        if size == 0 {
            return Err(ApiError::BadRequest(
                "size must be at least 1 byte".to_owned(),
            ));
        }
        let max = if size > limits.multipart_threshold_bytes {
            limits.max_multipart_bytes
        } else {
            limits.max_size_bytes
        };
        if size > max {
            return Err(ApiError::TooLarge(max));
        }
    }
    let access = declared.access.unwrap_or(&limits.default_access).to_owned();
    if !state.policy.is_known_tier(&access) {
        return Err(ApiError::BadRequest(format!(
            "access {access:?} is not a known tier"
        )));
    }
    // The length cannot always be signed: then the bound travels with the object, so that
    // completion and playback can refuse an object larger than this upload was allowed to be.
    let max_size = declared.size.is_none().then_some(if declared.multipart {
        limits.max_multipart_bytes
    } else {
        limits.max_size_bytes
    });
    let filename = declared
        .filename
        .map(DownloadName::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .map(|name| name.percent_encoded());
    // S3 keeps at most 2 KB of user metadata per object.
    if crate::storage::owner_value(&caller.subject).len() > MAX_OWNER_BYTES {
        return Err(ApiError::BadRequest(format!(
            "the token's subject is too long to own an upload (at most {MAX_OWNER_BYTES} bytes encoded)"
        )));
    }
    let metadata = WrittenMetadata {
        owner: Some(caller.subject.clone()),
        tier: Some(access),
        size: declared.size,
        max_size,
        filename,
    }
    .pairs();
    let checksum_sha256 = declared.sha256.map(check_sha256).transpose()?;
    Ok(PutObjectGrant {
        content_type: content_type.as_str().to_owned(),
        content_length: declared.size,
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

/// An upload the caller may act on.
pub(super) struct OwnedUpload {
    pub id: VideoId,
    pub key: ObjectKey,
    pub plan: PartPlan,
    /// Seconds the id has left: no URL signed for it may outlive it.
    pub secs_left: u64,
}

/// The upload named by `raw_id`, when `caller` owns it (or is an admin), with its plan.
pub(super) fn owned_upload(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<OwnedUpload, ApiError> {
    let ids = upload_ids(state)?;
    // The role is asked again on every step: a token that lost it cannot go on uploading.
    if !state.policy.may_upload(caller) {
        return Err(ApiError::Forbidden("uploading needs the uploader role"));
    }
    let id = VideoId::parse(raw_id)?;
    let plan = if state.policy.is_admin(caller) {
        UploadIds::plan_unverified(&id)
    } else {
        ids.plan_for(&id, &caller.subject)
    }
    .ok_or(ApiError::Forbidden(
        "only the uploader or an admin may act on this upload",
    ))?;
    // An id is a capability: it ends `uploads.id_max_age_secs` after it was issued.
    let age = UploadIds::issued_at(&id)
        .and_then(|at| state.clock.now().duration_since(at).ok())
        .map(|age| age.as_secs());
    let max_age = state.uploads.id_max_age_secs;
    let Some(secs_left) = age
        .and_then(|age| max_age.checked_sub(age))
        .filter(|&s| s > 0)
    else {
        return Err(ApiError::UploadExpired);
    };
    let key = state.storage.key_for(&id)?;
    Ok(OwnedUpload {
        id,
        key,
        plan,
        secs_left,
    })
}

fn upload_id_query(
    query: Result<Query<UploadIdQuery>, QueryRejection>,
) -> Result<String, ApiError> {
    let Query(q) = query?;
    check_s3_upload_id(&q.upload_id)?;
    Ok(q.upload_id)
}

/// S3's multipart upload id, as every route receives it: 1 to 1024 characters.
pub(super) fn check_s3_upload_id(upload_id: &str) -> Result<(), ApiError> {
    if upload_id.is_empty() || upload_id.len() > 1024 {
        return Err(ApiError::BadRequest(
            "upload_id must be 1 to 1024 characters".to_owned(),
        ));
    }
    Ok(())
}

/// S3's largest part number.
const MAX_PART_NUMBER: u64 = 10_000;

/// An UploadPart URL for part `number` of the caller's upload. When the plan knows the size
/// (`POST /uploads`), only the plan's part numbers are signed, each with its exact length; when it
/// does not (Uppy's protocols), any part number S3 accepts, with no length.
pub(super) async fn presign_part(
    state: &AppState,
    key: &ObjectKey,
    plan: PartPlan,
    upload_id: &str,
    number: u64,
    expires_secs: u64,
) -> Result<(PresignedUrl, Option<u64>), ApiError> {
    let length = if plan.is_size_known() {
        let length = plan.part_len(number).ok_or_else(|| {
            ApiError::BadRequest(format!("part number must be 1..={}", plan.part_count))
        })?;
        Some(length)
    } else if (1..=MAX_PART_NUMBER).contains(&number) {
        None
    } else {
        return Err(ApiError::BadRequest(format!(
            "part number must be 1..={MAX_PART_NUMBER}"
        )));
    };
    let presigned = state
        .storage
        .upload_signer
        .upload_part(key, upload_id, number, length, expires_secs)
        .await?;
    Ok((presigned, length))
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
        &upload.key,
        upload.plan,
        &upload_id,
        number,
        state.presign.put_max_expires_secs.min(upload.secs_left),
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
        .list_parts(&key, &upload_id)
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
    if !state.storage.abort_multipart(&key, &upload_id).await? {
        return Err(ApiError::UploadNotFound);
    }
    tracing::info!(upload = %id, subject = %caller.subject, "multipart upload aborted");
    Ok(Json(serde_json::json!({})))
}

/// Multipart completion: exactly parts 1..=N, each of its planned length, then assembly of
/// exactly the parts that were checked.
async fn assemble(
    state: &AppState,
    key: &ObjectKey,
    plan: PartPlan,
    request: CompleteMultipart,
) -> Result<(), ApiError> {
    let numbers: Vec<u64> = request.parts.iter().map(|p| p.part_number).collect();
    if !numbers.iter().copied().eq(1..=plan.part_count) {
        return Err(ApiError::UploadMismatch(format!(
            "parts must be exactly 1..={} in order (the declared size is {} bytes)",
            plan.part_count, plan.total
        )));
    }
    let stored = state
        .storage
        .list_parts(key, &request.upload_id)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    for number in 1..=plan.part_count {
        let expected = plan.part_len(number);
        let found = stored.iter().find(|p| p.number == number).map(|p| p.size);
        if found != expected {
            return Err(ApiError::UploadMismatch(format!(
                "part {number}: {found:?} bytes stored, {expected:?} planned"
            )));
        }
    }
    let parts = checked_parts(
        &stored,
        request
            .parts
            .iter()
            .map(|p| (p.part_number, p.etag.as_str())),
    )?;
    complete_checked(state, key, &request.upload_id, &parts).await
}

/// The parts to assemble: the client's choice, each with the ETag of the part that was listed
/// and checked. A part uploaded again after the listing has another ETag, so the store refuses
/// the completion instead of assembling what was never checked.
pub(super) fn checked_parts<'a>(
    stored: &[crate::storage::StoredPart],
    requested: impl Iterator<Item = (u64, &'a str)>,
) -> Result<Vec<(u64, String)>, ApiError> {
    let unquote = |etag: &str| etag.trim_matches('"').to_owned();
    requested
        .map(|(number, etag)| {
            let part = stored
                .iter()
                .find(|p| p.number == number)
                .ok_or_else(|| ApiError::UploadMismatch(format!("part {number} is not stored")))?;
            // s3s-fs 0.14 lists parts without ETags: there, the client's is all there is.
            let Some(listed) = part.etag.as_deref() else {
                return Ok((number, etag.to_owned()));
            };
            if unquote(listed) != unquote(etag) {
                return Err(ApiError::UploadMismatch(format!(
                    "part {number}: the ETag does not match the stored part"
                )));
            }
            Ok((number, listed.to_owned()))
        })
        .collect()
}

/// Assembles checked parts; the store refusing them (an invalid part or order) is the client's
/// error, not an outage.
pub(super) async fn complete_checked(
    state: &AppState,
    key: &ObjectKey,
    upload_id: &str,
    parts: &[(u64, String)],
) -> Result<(), ApiError> {
    let no_overwrite = state.uploads.if_none_match;
    match state
        .storage
        .complete_multipart(key, upload_id, parts, no_overwrite)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::UploadNotFound),
        Err(e) if e.kind == crate::storage::StorageErrorKind::Rejected => {
            tracing::info!(error = %e, "store refused a multipart completion");
            Err(ApiError::UploadMismatch(
                "the store refused these parts".to_owned(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /uploads/{id}/complete`: (multipart: the parts are assembled, then) the object is there, it is the caller's, and it is what the
/// URL was signed for.
pub async fn complete_upload(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UploadReady>, ApiError> {
    let Path(raw_id) = path?;
    // Ownership first: nobody learns anything of someone else's upload, not even whether it
    // exists.
    let OwnedUpload { id, key, plan, .. } = owned_upload(&state, &caller, &raw_id)?;
    let body = body?;
    // A multipart upload names its S3 upload and parts; a single upload sends no body.
    if !body.is_empty() {
        let request: CompleteMultipart = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))?;
        assemble(&state, &key, plan, request).await?;
    }
    // Fresh, not cached: the object has just been written.
    let meta = state
        .storage
        .metadata
        .refresh(&key)
        .await?
        .ok_or(ApiError::UploadNotFound)?;
    // Objects an upload URL wrote carry the signed declaration (a size, or for uploads of
    // unknown size their maximum); anything else (written with the store's own credentials, or
    // a body the store refused but kept) is not an upload.
    if !meta.is_upload() {
        return Err(ApiError::UploadMismatch(
            "the object was not written through an upload URL".to_owned(),
        ));
    }
    if !state.policy.may_manage(&caller, &meta) {
        return Err(ApiError::Forbidden(
            "only the uploader or an admin may complete this upload",
        ));
    }
    let size = meta.size.unwrap_or(0);
    if let Some(max) = meta.max_size
        && size > max
    {
        return Err(ApiError::TooLarge(max));
    }
    if let Some(why) = meta.unauthorised() {
        return Err(ApiError::UploadMismatch(why));
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
