//! `POST /uploads` and `POST /uploads/{id}/complete`: single-request uploads straight to the
//! bucket, with a URL that allows exactly what was authorised.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

mod body;

use super::openapi::refusals;
use super::videos::UrlResponse;
use crate::audit::AuditSlot;
use crate::auth::Caller;
use crate::domain::{S3UploadId, VideoId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::uploads::{
    Declaration, OwnedUpload, Started, complete, owned_upload, presign_part, start_upload,
};
pub use body::Empty;
use body::{
    CompleteMultipart, CreateUpload, Created, MultipartCreated, PartInfo, PartUrl, UploadCreated,
    UploadIdQuery, UploadReady, UploadStatus,
};

/// `POST /uploads` and the steps of an upload it started.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_upload).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        .routes(routes!(abort_upload))
        .routes(routes!(list_parts))
        .routes(routes!(sign_part))
        .routes(routes!(complete_upload).layer(DefaultBodyLimit::max(MAX_COMPLETE_BODY_BYTES)))
}

/// Largest `POST /uploads` body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest `complete` body: 10000 parts with their ETags.
pub const MAX_COMPLETE_BODY_BYTES: usize = 1024 * 1024;

refusals!(CreateRefusals {
    400 => [InvalidRequest, InvalidKey],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    413 => [TooLarge, PayloadTooLarge, QuotaExceeded],
    415 => [UnsupportedMediaType],
    429 => [RateLimited],
    503 => [UploadsDisabled, StorageUnavailable, StorageForbidden, StateUnavailable],
});

/// `POST /uploads`: authenticate → may upload? → validate the declaration → sign one PUT URL, or
/// start a multipart upload above the threshold.
#[utoipa::path(
    post,
    path = "/uploads",
    tag = "uploads",
    summary = "Start an upload: one PUT URL, or a multipart upload above the threshold",
    description = "Needs the uploader role (`uploads.uploader_role`) or the admin role. The body \
        is at most 16 KiB.",
    request_body = CreateUpload,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Started (`Cache-Control: no-store`)", body = Created),
        CreateRefusals,
    )
)]
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
            Created::Single(UploadCreated {
                id: id.to_string(),
                key: key.to_string(),
                url: UrlResponse::from(url),
            })
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
            Created::Multipart(MultipartCreated {
                id: id.to_string(),
                key: key.to_string(),
                upload_id,
                part_size: plan.part_size,
                part_count: plan.part_count,
            })
        }
    };
    Ok(created.to_json().into_response(StatusCode::CREATED))
}

fn upload_id_query(
    query: Result<Query<UploadIdQuery>, QueryRejection>,
) -> Result<S3UploadId, ApiError> {
    Ok(query?.0.upload_id)
}

refusals!(PartRefusals {
    400 => [InvalidRequest, InvalidVideoId, InvalidKey],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    410 => [UploadExpired],
    429 => [RateLimited],
    503 => [UploadsDisabled, StorageUnavailable, StorageForbidden, StateUnavailable],
});

/// `GET /uploads/{id}/parts/{n}?upload_id=`: a PUT URL for part `n`, its exact length signed.
#[utoipa::path(
    get,
    path = "/uploads/{id}/parts/{n}",
    tag = "uploads",
    summary = "A PUT URL for part `n` of a multipart upload, its exact length signed",
    params(
        ("id" = VideoId, Path, description = "The upload's id (`id` of `POST /uploads`)"),
        ("n" = u64, Path, description = "The part number, 1 to the plan's `part_count`"),
        UploadIdQuery,
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "The part's URL", body = PartUrl), PartRefusals)
)]
pub async fn sign_part(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, u64)>, PathRejection>,
    query: Result<Query<UploadIdQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
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
    Ok(PartUrl {
        part_number: number,
        size: length,
        url: UrlResponse::from(presigned),
    }
    .to_json()
    .into_response(StatusCode::OK))
}

refusals!(UploadRefusals {
    400 => [InvalidRequest, InvalidVideoId, InvalidKey],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    404 => [UploadNotFound],
    410 => [UploadExpired],
    429 => [RateLimited],
    503 => [UploadsDisabled, StorageUnavailable, StorageForbidden, StateUnavailable],
});

/// `GET /uploads/{id}/parts?upload_id=`: the parts the store holds.
#[utoipa::path(
    get,
    path = "/uploads/{id}/parts",
    tag = "uploads",
    summary = "The parts of a multipart upload that the store holds",
    params(
        ("id" = VideoId, Path, description = "The upload's id (`id` of `POST /uploads`)"),
        UploadIdQuery,
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "The parts", body = Vec<PartInfo>), UploadRefusals)
)]
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
#[utoipa::path(
    delete,
    path = "/uploads/{id}",
    tag = "uploads",
    summary = "Abandon a multipart upload and its parts",
    params(
        ("id" = VideoId, Path, description = "The upload's id (`id` of `POST /uploads`)"),
        UploadIdQuery,
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "Abandoned", body = Empty), UploadRefusals)
)]
pub async fn abort_upload(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UploadIdQuery>, QueryRejection>,
) -> Result<Json<Empty>, ApiError> {
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
    Ok(Json(Empty {}))
}

refusals!(CompleteRefusals {
    400 => [InvalidRequest, InvalidVideoId, InvalidKey],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    404 => [UploadNotFound],
    409 => [UploadMismatch],
    410 => [UploadExpired],
    413 => [PayloadTooLarge, TooLarge, QuotaExceeded],
    429 => [RateLimited],
    503 => [UploadsDisabled, StorageUnavailable, StorageForbidden, StateUnavailable],
});

/// `POST /uploads/{id}/complete`: (multipart: the parts are assembled, then) the object is there,
/// it is the caller's, and it is what the URL was signed for.
#[utoipa::path(
    post,
    path = "/uploads/{id}/complete",
    tag = "uploads",
    summary = "Complete an upload: assemble a multipart upload's parts, then check the object",
    description = "A single upload sends no body; a multipart upload names its `upload_id` and \
        every part with its ETag (at most 1 MiB).",
    params(("id" = VideoId, Path, description = "The upload's id (`id` of `POST /uploads`)")),
    request_body(content = Option<CompleteMultipart>, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The object is what was authorised", body = UploadReady),
        CompleteRefusals,
    )
)]
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
    // A multipart upload names its S3 upload and parts; a single upload sends no body (or
    // `null`, as the document's optional body allows).
    let request: Option<CompleteMultipart> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))?
    };
    let multipart = request.map(|request| {
        let parts: Vec<(u64, String)> = request
            .parts
            .into_iter()
            .map(|p| (p.part_number, p.etag))
            .collect();
        (request.upload_id, parts)
    });
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
        status: UploadStatus::Ready,
    }))
}
