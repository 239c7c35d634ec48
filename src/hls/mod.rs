//! HLS streaming: playlists whose every URI is replaced, nested playlists by tollgate URLs that
//! carry the caller's grant, and media by presigned URLs. No byte of media passes through
//! tollgate.

mod playlist;
mod uri;

pub use playlist::{Kind, Playlist, PlaylistError, Reference, Target, Variant};
pub use uri::{UriError, resolve};
