//! Uppy `@uppy/aws-s3` 6.x: `POST /s3/sign` answers the client's `signRequest(req)` callback
//! with a presigned URL for exactly one S3 operation, which the client then calls itself.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::audit::AuditSlot;
use crate::auth::Caller;
use crate::domain::{ContentType, ExpiresIn, S3UploadId};
use crate::error::ApiError;
use crate::routes::openapi::refusals;
use crate::state::AppState;
use crate::uploads::{
    UploadOperation, authorise_unknown_size, owned_key, sign_new_form, sign_new_multipart,
    sign_upload_operation,
};

/// Uppy 6.x `signRequest(req)`: `{method, key, uploadId?, partNumber?, contentType?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignRequest {
    /// The S3 operation's method: `PUT` (PutObject, UploadPart), `POST`
    /// (CreateMultipartUpload, CompleteMultipartUpload), `GET` (ListParts), `DELETE`
    /// (AbortMultipartUpload); any case.
    method: String,
    /// For a new object, only a name suggestion (tollgate chooses the key); else the key
    /// tollgate answered.
    key: String,
    upload_id: Option<S3UploadId>,
    part_number: Option<u64>,
    content_type: Option<String>,
    /// Requested lifetime in seconds; clamped to `presign.put_max_expires_secs`.
    expires_in: Option<ExpiresIn>,
}

/// A presigned request for one S3 operation, which the client makes itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedRequest {
    url: String,
    /// A new object's key, chosen by tollgate.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// Headers to send unchanged (not for a form).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    headers: Option<serde_json::Map<String, Value>>,
    /// A new single object: the form's fields (S3 POST policy), in order, before the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    fields: Option<serde_json::Map<String, Value>>,
}

/// Signed headers for the browser, without those it may not set (`Host`, `Content-Length`: it
/// sends the real length itself, which is what was signed).
fn headers_json(headers: Vec<(String, String)>) -> Option<serde_json::Map<String, Value>> {
    Some(
        headers
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length"))
            .map(|(k, v)| (k, v.into()))
            .collect(),
    )
}

/// The form fields as the client sends them.
fn fields_json(fields: Vec<(String, String)>) -> Option<serde_json::Map<String, Value>> {
    Some(fields.into_iter().map(|(k, v)| (k, v.into())).collect())
}

refusals!(companion SignRefusals {
    400 => [InvalidRequest, InvalidVideoId, InvalidKey],
    401 => [MissingToken, InvalidToken, TokenRevoked],
    403 => [Forbidden],
    404 => [UploadNotFound],
    410 => [UploadExpired],
    413 => [QuotaExceeded, PayloadTooLarge],
    415 => [UnsupportedMediaType],
    429 => [RateLimited, TooManyUploads],
    503 => [UploadsDisabled, StorageUnavailable, StorageForbidden, StateUnavailable],
});

/// `POST /s3/sign`: a presigned request for exactly one S3 operation, which the client then
/// makes itself (6.x parses S3's XML). New objects get a tollgate-chosen key (returned as `key`)
/// with owner, tier and name signed in: PutObject becomes a POST policy (`fields`) that bounds
/// the length; operations on an existing upload need the caller to own it.
#[utoipa::path(
    post,
    path = "/s3/sign",
    tag = "uppy",
    summary = "Uppy 6.x signRequest: a presigned request for exactly one S3 operation",
    request_body = SignRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "The signed request", body = SignedRequest), SignRefusals)
)]
pub async fn sign(
    State(state): State<AppState>,
    audit: AuditSlot,
    caller: Caller,
    body: Result<Json<SignRequest>, JsonRejection>,
) -> Result<Json<SignedRequest>, ApiError> {
    let Json(request) = body?;
    let put_max = request
        .expires_in
        .map_or(state.presign.put_max_expires_secs, |asked| {
            asked.secs().min(state.presign.put_max_expires_secs)
        });
    let method = request.method.to_ascii_uppercase();
    audit.update(|d| d.upload = request.upload_id.as_ref().map(|u| u.as_str().to_owned()));
    match (
        method.as_str(),
        request.upload_id.as_ref().map(S3UploadId::as_str),
        request.part_number,
    ) {
        // PutObject and CreateMultipartUpload: a new object, its key chosen by tollgate.
        ("PUT" | "POST", None, None) => {
            // The client's key is only a name suggestion.
            let name = request.key.rsplit('/').next().unwrap_or_default();
            // 6.3.1 signs CreateMultipartUpload without the type (it sends it as the create
            // request's header): the file name's extension tells it, and the signed
            // `content-type` in `headers` replaces the client's own.
            let content_type = request
                .content_type
                .as_deref()
                .or_else(|| ContentType::guess_from_file_name(name))
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "contentType is required (or a key whose file extension names a media type)"
                            .to_owned(),
                    )
                })?;
            let multipart = method == "POST";
            let grant =
                authorise_unknown_size(&state, &caller, name, content_type, None, multipart)?;
            if multipart {
                let (key, presigned) = sign_new_multipart(&state, &caller, grant, put_max).await?;
                audit.update(|d| d.key = Some(key.to_string()));
                Ok(Json(SignedRequest {
                    url: presigned.url,
                    key: Some(key.as_str().to_owned()),
                    headers: headers_json(presigned.headers),
                    fields: None,
                }))
            } else {
                let (key, post) = sign_new_form(&state, &caller, &grant, put_max).await?;
                audit.update(|d| d.key = Some(key.to_string()));
                Ok(Json(SignedRequest {
                    url: post.url,
                    key: Some(key.as_str().to_owned()),
                    headers: None,
                    fields: fields_json(post.fields),
                }))
            }
        }
        // UploadPart, ListParts, CompleteMultipartUpload, AbortMultipartUpload: the caller's upload.
        (_, Some(upload_id), part_number) => {
            let upload = owned_key(&state, &caller, &request.key)?;
            audit.update(|d| d.key = Some(upload.key.to_string()));
            let operation = match (method.as_str(), part_number) {
                ("PUT", Some(number)) => UploadOperation::Part(number),
                ("GET", None) => UploadOperation::ListParts,
                ("POST", None) => UploadOperation::Complete,
                ("DELETE", None) => UploadOperation::Abort,
                _ => return Err(ApiError::BadRequest("unsupported operation".to_owned())),
            };
            let presigned =
                sign_upload_operation(&state, &caller, &upload, upload_id, operation, put_max)
                    .await?;
            Ok(Json(SignedRequest {
                url: presigned.url,
                key: None,
                headers: headers_json(presigned.headers),
                fields: None,
            }))
        }
        _ => Err(ApiError::BadRequest("unsupported operation".to_owned())),
    }
}
