//! `tollgate put-hls`: store a packaged HLS folder as video `id`, its objects under
//! `key_prefix + id + "/"`, so that `GET /videos/{id}/url` serves it as HLS.

use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;

use super::client::classify;
use super::{StorageError, StorageErrorKind, StorageSettings, VideoMetadata};
use crate::domain::{ObjectKey, VideoId};
use crate::hls::Playlist;

/// The content type of an HLS file, by extension; `None` for a file HLS does not use.
fn content_type(path: &str) -> Option<&'static str> {
    let (_, extension) = path.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "m3u8" => "application/vnd.apple.mpegurl",
        "m4s" => "video/iso.segment",
        "mp4" => "video/mp4",
        "m4a" => "audio/mp4",
        "ts" => "video/mp2t",
        "aac" => "audio/aac",
        "key" | "bin" => "application/octet-stream",
        _ => return None,
    })
}

/// Why a folder cannot be stored as an HLS video.
#[derive(Debug, thiserror::Error)]
pub enum PutHlsError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("{0}: not a file HLS uses (by its extension)")]
    UnknownFile(String),
    #[error("{0}: {1}")]
    BadPlaylist(String, String),
    #[error("the folder has no top playlist (master.m3u8 or index.m3u8)")]
    NoTopPlaylist,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Every file under `dir`, as paths relative to it with `/` separators, sorted.
fn files(dir: &Path) -> Result<Vec<String>, PutHlsError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries =
            std::fs::read_dir(&folder).map_err(|e| PutHlsError::Read(folder.clone(), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| PutHlsError::Read(folder.clone(), e))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| PutHlsError::Read(path.clone(), e))?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push(relative);
            }
            // Symbolic links and the like are left out.
        }
    }
    found.sort();
    Ok(found)
}

/// Stores the HLS folder `dir` as video `id`: every playlist checked as tollgate will serve it,
/// media first and the top playlist (with tier and owner) last, so that no player finds a
/// playlist whose parts are missing. Returns the keys written.
pub async fn put_hls(
    settings: &StorageSettings,
    id: &VideoId,
    dir: &Path,
    metadata: VideoMetadata,
) -> Result<Vec<ObjectKey>, PutHlsError> {
    let mut paths = files(dir)?;
    let top = ["master.m3u8", "index.m3u8"]
        .into_iter()
        .find(|name| paths.iter().any(|p| p == name))
        .ok_or(PutHlsError::NoTopPlaylist)?;
    let mut bodies = Vec::with_capacity(paths.len());
    for path in &paths {
        let content_type =
            content_type(path).ok_or_else(|| PutHlsError::UnknownFile(path.clone()))?;
        let body =
            std::fs::read(dir.join(path)).map_err(|e| PutHlsError::Read(dir.join(path), e))?;
        if path.ends_with(".m3u8") {
            let text = String::from_utf8(body.clone())
                .map_err(|_| PutHlsError::BadPlaylist(path.clone(), "not UTF-8".to_owned()))?;
            let folder = path.rfind('/').map_or("", |i| &path[..=i]);
            Playlist::parse(text, folder, "")
                .map_err(|e| PutHlsError::BadPlaylist(path.clone(), e.to_string()))?;
        }
        bodies.push((content_type, body));
    }
    // The top playlist goes last.
    let top_index = paths.iter().position(|p| p == top).unwrap_or_default();
    let top_body = bodies.remove(top_index);
    paths.remove(top_index);
    paths.push(top.to_owned());
    bodies.push(top_body);

    let clients = super::put::writer(settings).await?;
    let mut written = Vec::with_capacity(paths.len());
    for (path, (content_type, body)) in paths.iter().zip(bodies) {
        let key = ObjectKey::in_video(&settings.key_prefix, id, path)
            .map_err(|e| StorageError::new(StorageErrorKind::InvalidKey, e.to_string()))?;
        let mut put = clients
            .internal
            .put_object()
            .bucket(&settings.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(body));
        if path == top {
            let written = super::WrittenMetadata {
                owner: metadata.owner.clone(),
                tier: metadata.tier.clone(),
                ..super::WrittenMetadata::default()
            };
            for (name, value) in written.pairs() {
                put = put.metadata(name, value);
            }
        }
        put.send().await.map_err(|e| classify(&e, "PUT object"))?;
        written.push(key);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_files_have_their_types_and_nothing_else_is_stored() {
        assert_eq!(
            content_type("master.m3u8"),
            Some("application/vnd.apple.mpegurl")
        );
        assert_eq!(content_type("720p/seg-001.m4s"), Some("video/iso.segment"));
        assert_eq!(content_type("ts/seg-000.TS"), Some("video/mp2t"));
        for other in ["notes.txt", "page.html", "README", ".DS_Store"] {
            assert_eq!(content_type(other), None, "{other}");
        }
    }

    #[test]
    fn the_fixture_folder_lists_every_file_relative_and_sorted() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/fixtures/hls");
        let files = files(&dir).unwrap();
        assert!(files.contains(&"master.m3u8".to_owned()));
        assert!(files.contains(&"720p/seg-003.m4s".to_owned()));
        assert!(files.iter().all(|f| content_type(f).is_some()), "{files:?}");
        assert!(files.windows(2).all(|w| w[0] < w[1]));
    }
}
