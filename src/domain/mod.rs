//! Values that are valid by construction: parse, don't validate.

mod content_type;
mod download_name;
mod object_key;
mod video_id;

pub use content_type::{ContentType, MediaFamily};
pub use download_name::DownloadName;
pub use object_key::ObjectKey;
pub use video_id::VideoId;

/// Why a raw value was refused. The message is safe to show to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub &'static str);
