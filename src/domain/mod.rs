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
pub use object_key::ObjectKey;
pub use origin::OriginPattern;
pub use session_id::SessionId;
pub use tier::Tier;
pub use upload_ids::{S3UploadId, Sha256Base64};
pub use video_id::VideoId;

/// Which kind of value a [`ParseError`] is about: it names the stable error code clients get.
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

impl ValueKind {
    /// The API error code of a value of this kind that does not parse.
    pub fn code(self) -> &'static str {
        match self {
            Self::VideoId => "invalid_video_id",
            Self::ObjectKey => "invalid_key",
            Self::ContentType => "unsupported_media_type",
            Self::DownloadName => "invalid_request",
            Self::SessionId => "invalid_session",
            Self::ExpiresIn | Self::S3UploadId | Self::Sha256 | Self::Origin | Self::Tier => {
                "invalid_request"
            }
        }
    }
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
