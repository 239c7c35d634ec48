//! The HTTP layer's one error type: every failure a client can see, with a stable `code`.
//! Internal details (S3 messages, token contents) are logged with the request id, never returned.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::{RefOr, Schema};

use crate::auth::AuthError;
use crate::controls::{RateLimitInfo, Refusal, StateError};
use crate::domain::{ParseError, ValueKind};
use crate::storage::StorageError;
pub use crate::telemetry::error_chain;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("invalid token")]
    InvalidToken(#[source] AuthError),
    #[error("invalid value: {0}")]
    InvalidValue(#[source] ParseError),
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("video not found")]
    VideoNotFound,
    #[error("caller is not entitled to this video")]
    NotEntitled,
    #[error("caller may not do this: {0}")]
    Forbidden(&'static str),
    #[error("content type may not be uploaded")]
    UnsupportedMediaType,
    #[error("declared size above the upload limit of {0} bytes")]
    TooLarge(u64),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("upload not found")]
    UploadNotFound,
    #[error("uploads are not configured (uploads.id_secret)")]
    UploadsDisabled,
    #[error("uploaded object differs from what was authorised: {0}")]
    UploadMismatch(String),
    #[error("upload id too old")]
    UploadExpired,
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request took longer than server.request_timeout_secs")]
    RequestTimeout,
    #[error("server.max_in_flight requests are already being served")]
    Overloaded,
    #[error("storage unavailable")]
    StorageUnavailable(#[source] StorageError),
    #[error("storage refused tollgate's credentials")]
    StorageForbidden(#[source] StorageError),
    #[error("invalid playback grant: {0}")]
    InvalidGrant(#[source] crate::hls::GrantError),
    #[error("the grant is for another video")]
    GrantForAnotherVideo,
    #[error("the playlist cannot be served: {0}")]
    BadPlaylist(String),
    #[error("rate limit {} exceeded", .limit.policy)]
    RateLimited {
        limit: RateLimitInfo,
        retry_after_secs: u64,
    },
    #[error("the token was revoked")]
    TokenRevoked,
    #[error("the video was taken down")]
    VideoTakenDown,
    #[error("every concurrent stream of the subject is in use")]
    TooManyStreams { retry_after_secs: u64 },
    #[error("shared state unavailable and the control fails closed")]
    StateUnavailable,
    #[error("shared state unavailable")]
    State(#[source] StateError),
    #[error("no such revocation")]
    RevocationNotFound,
    #[error("no such playback session")]
    SessionNotFound,
    #[error("too many uploads of unknown size in progress")]
    TooManyUploads,
    #[error("upload quota exceeded")]
    QuotaExceeded {
        remaining_bytes: u64,
        resets_in_secs: u64,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Declares [`ErrorCode`] from one list, so that its string, its serialisation and its OpenAPI
/// enum cannot drift apart.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal,)*) => {
        /// Every stable error code a client can get (README "Error codes").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    MissingToken = "missing_token",
    InvalidToken = "invalid_token",
    TokenRevoked = "token_revoked",
    InvalidGrant = "invalid_grant",
    InvalidVideoId = "invalid_video_id",
    InvalidKey = "invalid_key",
    InvalidRequest = "invalid_request",
    InvalidSession = "invalid_session",
    GrantMismatch = "grant_mismatch",
    NotEntitled = "not_entitled",
    Forbidden = "forbidden",
    VideoNotFound = "video_not_found",
    UploadNotFound = "upload_not_found",
    RevocationNotFound = "revocation_not_found",
    SessionNotFound = "session_not_found",
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    RequestTimeout = "request_timeout",
    Overloaded = "overloaded",
    UploadMismatch = "upload_mismatch",
    UploadExpired = "upload_expired",
    VideoTakenDown = "video_taken_down",
    TooLarge = "too_large",
    PayloadTooLarge = "payload_too_large",
    QuotaExceeded = "quota_exceeded",
    UnsupportedMediaType = "unsupported_media_type",
    RateLimited = "rate_limited",
    TooManyStreams = "too_many_streams",
    TooManyUploads = "too_many_uploads",
    InternalError = "internal_error",
    BadPlaylist = "bad_playlist",
    StorageUnavailable = "storage_unavailable",
    StorageForbidden = "storage_forbidden",
    UploadsDisabled = "uploads_disabled",
    StateUnavailable = "state_unavailable",
}

impl ErrorCode {
    /// The code of a value of `kind` that does not parse.
    pub const fn of_value(kind: ValueKind) -> Self {
        match kind {
            ValueKind::VideoId => Self::InvalidVideoId,
            ValueKind::ObjectKey => Self::InvalidKey,
            ValueKind::ContentType => Self::UnsupportedMediaType,
            ValueKind::SessionId => Self::InvalidSession,
            ValueKind::DownloadName
            | ValueKind::ExpiresIn
            | ValueKind::S3UploadId
            | ValueKind::Sha256
            | ValueKind::Origin
            | ValueKind::Tier => Self::InvalidRequest,
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        crate::routes::openapi::code_enum(Self::ALL).into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

/// Every error answer's body: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable: clients branch on it.
    pub code: ErrorCode,
    /// For people; it may change.
    pub message: String,
    /// `quota_exceeded` only: the bytes left in the subject's quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_bytes: Option<u64>,
    /// `quota_exceeded` only: seconds until the quota renews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_in_secs: Option<u64>,
}

/// Seconds a client should wait before retrying while the shared state is unreachable.
const STATE_RETRY_AFTER_SECS: u64 = 5;
/// The same while the object store is unreachable or too slow.
const STORAGE_RETRY_AFTER_SECS: u64 = 5;
/// Seconds a client shed under load should wait: in-flight requests end within milliseconds
/// when the dependencies are healthy, and a short hint spreads the retries.
const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::RateLimited {
                limit,
                retry_after_secs,
            } => Self::RateLimited {
                limit,
                retry_after_secs,
            },
            Refusal::Revoked => Self::TokenRevoked,
            Refusal::VideoTakenDown => Self::VideoTakenDown,
            Refusal::TooManyStreams { retry_after_secs } => {
                Self::TooManyStreams { retry_after_secs }
            }
            Refusal::Unavailable => Self::StateUnavailable,
            Refusal::TooManyUploads => Self::TooManyUploads,
            Refusal::QuotaExceeded {
                remaining_bytes,
                resets_in_secs,
            } => Self::QuotaExceeded {
                remaining_bytes,
                resets_in_secs,
            },
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::InvalidGrant(_)
            | Self::TokenRevoked => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } | Self::TooManyStreams { .. } | Self::TooManyUploads => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::VideoTakenDown => StatusCode::GONE,
            Self::StateUnavailable | Self::State(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RevocationNotFound | Self::SessionNotFound => StatusCode::NOT_FOUND,
            Self::GrantForAnotherVideo => StatusCode::FORBIDDEN,
            Self::BadPlaylist(_) => StatusCode::BAD_GATEWAY,
            Self::InvalidValue(e) if e.kind == ValueKind::ContentType => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::InvalidValue(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::VideoNotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::NotEntitled | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge(_) | Self::PayloadTooLarge | Self::QuotaExceeded { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::UploadNotFound => StatusCode::NOT_FOUND,
            Self::UploadsDisabled => StatusCode::SERVICE_UNAVAILABLE,
            Self::UploadMismatch(_) => StatusCode::CONFLICT,
            Self::UploadExpired => StatusCode::GONE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageUnavailable(_) | Self::StorageForbidden(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, documented code (README "Error codes").
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The stable code, as the OpenAPI document names it.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::MissingToken => ErrorCode::MissingToken,
            Self::InvalidToken(_) => ErrorCode::InvalidToken,
            Self::InvalidValue(e) => ErrorCode::of_value(e.kind),
            Self::BadRequest(_) => ErrorCode::InvalidRequest,
            Self::VideoNotFound => ErrorCode::VideoNotFound,
            Self::NotEntitled => ErrorCode::NotEntitled,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::TooLarge(_) => ErrorCode::TooLarge,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::UploadNotFound => ErrorCode::UploadNotFound,
            Self::UploadsDisabled => ErrorCode::UploadsDisabled,
            Self::UploadMismatch(_) => ErrorCode::UploadMismatch,
            Self::UploadExpired => ErrorCode::UploadExpired,
            Self::RouteNotFound => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::RequestTimeout => ErrorCode::RequestTimeout,
            Self::Overloaded => ErrorCode::Overloaded,
            Self::StorageUnavailable(_) => ErrorCode::StorageUnavailable,
            Self::StorageForbidden(_) => ErrorCode::StorageForbidden,
            Self::InvalidGrant(_) => ErrorCode::InvalidGrant,
            Self::GrantForAnotherVideo => ErrorCode::GrantMismatch,
            Self::BadPlaylist(_) => ErrorCode::BadPlaylist,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::TokenRevoked => ErrorCode::TokenRevoked,
            Self::VideoTakenDown => ErrorCode::VideoTakenDown,
            Self::TooManyStreams { .. } => ErrorCode::TooManyStreams,
            Self::StateUnavailable | Self::State(_) => ErrorCode::StateUnavailable,
            Self::RevocationNotFound => ErrorCode::RevocationNotFound,
            Self::SessionNotFound => ErrorCode::SessionNotFound,
            Self::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            Self::TooManyUploads => ErrorCode::TooManyUploads,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// What the client is told: enough to act on, nothing internal.
    fn public_message(&self) -> String {
        match self {
            Self::MissingToken => "an Authorization: Bearer token is required".to_owned(),
            Self::InvalidToken(_) => "the bearer token is invalid or expired".to_owned(),
            Self::InvalidValue(e) => e.to_string(),
            Self::BadRequest(detail) => detail.clone(),
            Self::VideoNotFound => "no video with this id".to_owned(),
            Self::NotEntitled => "your plan does not include this video".to_owned(),
            Self::Forbidden(what) => format!("not allowed: {what}"),
            Self::UnsupportedMediaType => "this content type may not be uploaded".to_owned(),
            Self::TooLarge(max) => {
                format!("the declared size is above the upload limit of {max} bytes")
            }
            Self::PayloadTooLarge => "the request body is too large".to_owned(),
            Self::UploadNotFound => "nothing was uploaded under this id".to_owned(),
            Self::UploadsDisabled => "uploads are not enabled on this server".to_owned(),
            Self::UploadMismatch(what) => {
                format!("the uploaded object differs from what was authorised: {what}")
            }
            Self::UploadExpired => {
                "this upload id has expired (uploads.id_max_age_secs); start a new upload"
                    .to_owned()
            }
            Self::RouteNotFound => "no such route".to_owned(),
            Self::MethodNotAllowed => "method not allowed on this route".to_owned(),
            Self::RequestTimeout => {
                "the request took too long and was abandoned; try again".to_owned()
            }
            Self::Overloaded => "the server is busy; retry after the Retry-After delay".to_owned(),
            Self::StorageUnavailable(_) => {
                "the object store is unavailable, try again later".to_owned()
            }
            Self::StorageForbidden(_) => {
                "the object store refused tollgate's credentials".to_owned()
            }
            Self::InvalidGrant(e) => {
                format!("the playback grant is not valid: {e}; ask for a new URL")
            }
            Self::GrantForAnotherVideo => "this playback grant is for another video".to_owned(),
            Self::BadPlaylist(why) => format!("the playlist cannot be served: {why}"),
            Self::RateLimited {
                limit,
                retry_after_secs,
            } => format!(
                "too many requests ({} limit: {} per {} s); retry in {retry_after_secs} s",
                limit.policy, limit.quota, limit.window_secs
            ),
            Self::TokenRevoked => "this token was revoked; sign in again for a new one".to_owned(),
            Self::VideoTakenDown => "this video was taken down".to_owned(),
            Self::TooManyStreams { retry_after_secs } => format!(
                "every concurrent stream of your plan is in use: stop one (DELETE /videos/{{id}}/sessions/{{session}}) or retry in {retry_after_secs} s"
            ),
            Self::StateUnavailable | Self::State(_) => {
                "tollgate cannot reach its shared state; try again shortly".to_owned()
            }
            Self::RevocationNotFound => "no such revocation".to_owned(),
            Self::SessionNotFound => {
                "no playback session of yours with this id holds a lease".to_owned()
            }
            Self::TooManyUploads => format!(
                "{} uploads of yours are signed and not finished: finish or abandon some first",
                crate::controls::MAX_PENDING_UPLOADS
            ),
            Self::QuotaExceeded {
                remaining_bytes,
                resets_in_secs,
            } => format!(
                "this upload does not fit in your quota: {remaining_bytes} bytes left, renewed in {resets_in_secs} s"
            ),
            Self::Internal(_) => "internal error".to_owned(),
        }
    }

    fn log(&self) {
        let chain = error_chain(self);
        match self.status() {
            // One line per shed request would flood the log just when the server is busiest;
            // the requests' metrics count them.
            _ if matches!(self, Self::Overloaded) => {
                tracing::debug!(code = self.code(), "request shed");
            }
            s if s.is_server_error() => {
                tracing::error!(code = self.code(), error = %chain, "request failed");
            }
            StatusCode::UNAUTHORIZED => {
                tracing::info!(code = self.code(), reason = %chain, "authentication failed");
            }
            // Work was dropped half-way: a slow client body or a slow store, worth seeing.
            StatusCode::REQUEST_TIMEOUT => {
                tracing::warn!(code = self.code(), error = %chain, "request abandoned");
            }
            _ => tracing::debug!(code = self.code(), error = %chain, "request rejected"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let (remaining_bytes, resets_in_secs) = match &self {
            Self::QuotaExceeded {
                remaining_bytes,
                resets_in_secs,
            } => (Some(*remaining_bytes), Some(*resets_in_secs)),
            _ => (None, None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.error_code(),
                message: self.public_message(),
                remaining_bytes,
                resets_in_secs,
            },
        };
        let retry_after = match &self {
            Self::RateLimited {
                retry_after_secs, ..
            }
            | Self::TooManyStreams { retry_after_secs } => Some(*retry_after_secs),
            Self::StateUnavailable | Self::State(_) => Some(STATE_RETRY_AFTER_SECS),
            Self::StorageUnavailable(_) => Some(STORAGE_RETRY_AFTER_SECS),
            Self::Overloaded => Some(OVERLOADED_RETRY_AFTER_SECS),
            Self::TooManyUploads => Some(60),
            _ => None,
        };
        let limit = match &self {
            Self::RateLimited { limit, .. } => Some(limit.clone()),
            _ => None,
        };
        let mut response = (status, limit, Json(body)).into_response();
        response
            .extensions_mut()
            .insert(crate::audit::RefusalCode(self.code()));
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3.1: no error attribute when the request carried no credentials.
            let challenge = match self {
                Self::MissingToken => r#"Bearer realm="tollgate""#,
                _ => r#"Bearer realm="tollgate", error="invalid_token""#,
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            // RFC 9110 §15.5.9: a 408 means the server gives up on the connection; its request
            // body may be half-read, so it cannot carry another request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Malformed paths and queries are the client's: 400 with the extractor's explanation.
impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        Self::BadRequest(e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::BadRequest(e.body_text())
    }
}

/// JSON bodies: too large is 413, anything else (not JSON, wrong shape, unknown field) is 400.
impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::BadRequest(
                "the body must be JSON (Content-Type: application/json)".to_owned(),
            ),
            _ => Self::BadRequest(e.body_text()),
        }
    }
}

/// Raw bodies: too large is 413, anything else 400.
impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            _ => Self::BadRequest(e.body_text()),
        }
    }
}

/// A revocation's target that does not parse is the client's: 400.
impl From<crate::controls::InvalidTarget> for ApiError {
    fn from(e: crate::controls::InvalidTarget) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl From<crate::controls::RevokeError> for ApiError {
    fn from(e: crate::controls::RevokeError) -> Self {
        match e {
            crate::controls::RevokeError::Invalid(e) => e.into(),
            crate::controls::RevokeError::State(e) => e.into(),
        }
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        Self::State(e)
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        Self::InvalidValue(e)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        if e.is_forbidden() {
            Self::StorageForbidden(e)
        } else {
            Self::StorageUnavailable(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContentType, ExpiresIn, ObjectKey, VideoId};

    #[test]
    fn each_code_serialises_as_its_documented_string() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
        }
    }

    #[test]
    fn each_code_is_in_the_readme() {
        let readme = include_str!("../README.md");
        let table = &readme[readme.find("### Error codes").unwrap()..];
        for code in ErrorCode::ALL {
            assert!(
                table.contains(&format!("`{}`", code.as_str())),
                "README \"Error codes\" lacks {}",
                code.as_str()
            );
        }
    }

    #[test]
    fn each_kind_of_value_answers_its_own_code() {
        let cases: [(ParseError, StatusCode, &str); 4] = [
            (
                VideoId::parse("..").unwrap_err(),
                StatusCode::BAD_REQUEST,
                "invalid_video_id",
            ),
            (
                ObjectKey::parse("/x").unwrap_err(),
                StatusCode::BAD_REQUEST,
                "invalid_key",
            ),
            (
                ContentType::parse("text/html", &["video/mp4".to_owned()]).unwrap_err(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                ExpiresIn::try_from(0).unwrap_err(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
        ];
        for (parse_error, status, code) in cases {
            let error = ApiError::from(parse_error);
            assert_eq!((error.status(), error.code()), (status, code), "{error}");
        }
    }
}
