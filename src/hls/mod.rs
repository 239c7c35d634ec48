//! HLS streaming: playlists whose every URI is replaced, nested playlists by tollgate URLs that
//! carry the caller's grant, and media by presigned URLs. No byte of media passes through
//! tollgate.

mod grant;
mod playlist;
mod service;
mod uri;

pub use grant::{Grant, GrantError, Grants};
pub use playlist::{
    Kind, MAX_REFERENCES, Playlist, PlaylistError, Reference, Rendition, Target, Variant,
};
pub use service::{Access, Entry, Hls, Prepared, Rewritten};
pub use uri::{UriError, normalise_path, resolve};
