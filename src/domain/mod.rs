//! Values that are valid by construction: parse, don't validate.

mod content_type;
mod download_name;
mod expires_in;
mod object_key;
mod origin;
mod session_id;
mod tier;
mod upload_ids;
mod video_id;

pub use content_type::{ContentType, MediaFamily};
pub use download_name::DownloadName;
pub use expires_in::ExpiresIn;
pub use object_key::{KeyPrefix, ObjectKey};
pub use origin::OriginPattern;
pub use session_id::SessionId;
pub use tier::Tier;
pub use upload_ids::{S3UploadId, Sha256Base64};
pub use video_id::VideoId;

/// Which kind of value a [`ParseError`] is about: the HTTP layer answers each kind with its own
/// stable error code (`crate::error::ErrorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    VideoId,
    ObjectKey,
    ContentType,
    DownloadName,
    ExpiresIn,
    S3UploadId,
    Sha256,
    Origin,
    Tier,
    SessionId,
}

/// The OpenAPI schema of a string of `min..=max` bytes matching `pattern` (an ECMA-262 regex,
/// as JSON Schema writes them).
fn string_schema(
    min: usize,
    max: usize,
    pattern: Option<&str>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(pattern)
        .into()
}

/// Why a raw value was refused. The message is safe to show to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub kind: ValueKind,
    pub message: &'static str,
}

impl ParseError {
    pub const fn new(kind: ValueKind, message: &'static str) -> Self {
        Self { kind, message }
    }
}
