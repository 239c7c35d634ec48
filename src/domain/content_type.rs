use super::{ParseError, ValueKind};

/// An upload's content type: one of the configured, allowed types (lowercase `type/subtype`,
/// no parameters), so that what the store serves back is known and never active content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType(String);

/// The kinds of media tollgate lets clients upload. Uploads are served back from the bucket's
/// origin, so an uploadable type must be one a browser plays or decodes, never a document it
/// renders (HTML, SVG, XML) or a script it runs: an allowlist of families, not a denylist of
/// the dangerous types someone thought of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaFamily {
    /// `video/*`, MPEG-TS and CMAF segments (`video/mp2t`, `video/iso.segment`) included.
    Video,
    /// `audio/*`, including HLS's `audio/mpegurl`.
    Audio,
    /// Raster image formats, which browsers decode and never script.
    RasterImage,
    /// HLS playlists and fragmented-MP4 segments.
    Streaming,
}

/// Raster images only: `image/svg+xml` is a document that runs script.
const RASTER_IMAGES: [&str; 10] = [
    "image/jpeg",
    "image/png",
    "image/apng",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "image/heic",
    "image/heif",
    "image/jxl",
];

/// HLS playlists (text no browser renders) and fMP4 segments (RFC 4337).
const STREAMING: [&str; 3] = [
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "application/mp4",
];

/// File extensions and the type browsers give such files (Chromium and Firefox agree on these),
/// for clients that send a file but not its type.
const BY_EXTENSION: [(&str, &str); 18] = [
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("webm", "video/webm"),
    ("mov", "video/quicktime"),
    ("mkv", "video/x-matroska"),
    ("ts", "video/mp2t"),
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("webp", "image/webp"),
    ("gif", "image/gif"),
    ("avif", "image/avif"),
];

impl MediaFamily {
    /// The family of a lowercase `type/subtype`, or `None` when it is not uploadable media.
    pub fn of(essence: &str) -> Option<Self> {
        let (kind, subtype) = essence.split_once('/')?;
        // A browser renders any `…+xml` type as an XML document, where an XHTML <script> runs
        // (SVG's danger), whatever the top-level type claims. That rules out DASH's
        // application/dash+xml as well.
        if subtype.is_empty() || subtype == "*" || subtype.ends_with("+xml") {
            return None;
        }
        match kind {
            "video" => Some(Self::Video),
            "audio" => Some(Self::Audio),
            _ if RASTER_IMAGES.contains(&essence) => Some(Self::RasterImage),
            _ if STREAMING.contains(&essence) => Some(Self::Streaming),
            _ => None,
        }
    }
}

impl ContentType {
    pub fn parse(raw: &str, allowed: &[String]) -> Result<Self, ParseError> {
        let normalised = raw.trim().to_ascii_lowercase();
        if allowed.contains(&normalised) {
            Ok(Self(normalised))
        } else {
            Err(ParseError::new(
                ValueKind::ContentType,
                "this content type may not be uploaded",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The type a browser gives a file named `name`, from its extension (any case), when it is
    /// a media type tollgate knows; whether it may be uploaded is `parse`'s question.
    pub fn guess_from_file_name(name: &str) -> Option<&'static str> {
        let (_, extension) = name.rsplit_once('.')?;
        BY_EXTENSION
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(extension))
            .map(|(_, essence)| *essence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["video/mp4".to_owned(), "image/png".to_owned()]
    }

    #[test]
    fn a_file_name_tells_the_type_browsers_give_it() {
        assert_eq!(
            ContentType::guess_from_file_name("clip.mp4"),
            Some("video/mp4")
        );
        assert_eq!(
            ContentType::guess_from_file_name("a/b/Clip.MOV"),
            Some("video/quicktime")
        );
        assert_eq!(
            ContentType::guess_from_file_name("x.tar.webm"),
            Some("video/webm")
        );
        for name in ["clip", "clip.", "page.html", "icon.svg", "mp4", ".mp4x"] {
            assert_eq!(ContentType::guess_from_file_name(name), None, "{name}");
        }
        // Every guess is uploadable media: a guess never widens what may be uploaded.
        for (_, essence) in BY_EXTENSION {
            assert!(MediaFamily::of(essence).is_some(), "{essence}");
        }
    }

    #[test]
    fn media_families_admit_media_and_nothing_a_browser_renders_or_runs() {
        for (essence, family) in [
            ("video/mp4", MediaFamily::Video),
            ("video/mp2t", MediaFamily::Video),
            ("video/iso.segment", MediaFamily::Video),
            ("audio/mpeg", MediaFamily::Audio),
            ("audio/mpegurl", MediaFamily::Audio),
            ("image/jpeg", MediaFamily::RasterImage),
            ("image/avif", MediaFamily::RasterImage),
            ("application/vnd.apple.mpegurl", MediaFamily::Streaming),
            ("application/x-mpegurl", MediaFamily::Streaming),
            ("application/mp4", MediaFamily::Streaming),
        ] {
            assert_eq!(MediaFamily::of(essence), Some(family), "{essence}");
        }
        for essence in [
            "text/html",
            "image/svg+xml",
            "application/javascript",
            "text/javascript",
            "application/xml",
            "text/xml",
            "application/xhtml+xml",
            "application/dash+xml",
            "video/vnd.example+xml",
            "text/plain",
            "text/css",
            "application/json",
            "application/pdf",
            "application/octet-stream",
            "image/x-icon",
            "video/*",
            "video/",
            "video",
        ] {
            assert_eq!(MediaFamily::of(essence), None, "{essence}");
        }
    }

    #[test]
    fn allowed_types_are_normalised() {
        assert_eq!(
            ContentType::parse(" Video/MP4 ", &allowed())
                .unwrap()
                .as_str(),
            "video/mp4"
        );
    }

    #[test]
    fn others_are_refused() {
        for raw in [
            "text/html",
            "image/svg+xml",
            "video/mp4; codecs=avc1",
            "video/*",
            "",
            "application/octet-stream",
        ] {
            assert!(ContentType::parse(raw, &allowed()).is_err(), "{raw}");
        }
    }
}
