use std::fmt;

use unicode_normalization::is_nfc;

use super::{ParseError, ValueKind, VideoId};

/// An S3 object key that is safe to sign: at most 1024 bytes, NFC, no control characters, no
/// `.`/`..` segments (some stores and proxies normalise them, which would retarget a signed URL)
/// and no leading `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > Self::MAX_BYTES {
            return Err(ParseError::new(
                ValueKind::ObjectKey,
                "object key must be 1 to 1024 bytes",
            ));
        }
        Self::check_text(raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// The key of a video: `prefix + id`, valid by construction, so not checked again (on
    /// every playback request): the prefix was, and an id is 1 to 128 of `A-Z a-z 0-9 _ -`,
    /// which adds no control character, no `.` or `..` segment (it has no `.`, and extends
    /// the prefix's last segment), keeps the key within 1024 bytes (a prefix leaves room for
    /// the longest id), and keeps it NFC (ASCII after an NFC string composes with nothing).
    pub fn for_video(prefix: &KeyPrefix, id: &VideoId) -> Self {
        let mut key = String::with_capacity(prefix.0.len() + id.as_str().len());
        key.push_str(&prefix.0);
        key.push_str(id.as_str());
        Self(key)
    }

    /// The key of `path` inside video `id`'s folder (HLS: `prefix + id + "/" + path`).
    pub fn in_video(prefix: &str, id: &VideoId, path: &str) -> Result<Self, ParseError> {
        Self::parse(&format!("{prefix}{id}/{path}"))
    }

    /// A key prefix is a key's beginning: the same rules, and it may be empty.
    pub fn check_prefix(prefix: &str) -> Result<(), ParseError> {
        if prefix.len() > Self::MAX_BYTES - VideoId::MAX_LEN {
            return Err(ParseError::new(
                ValueKind::ObjectKey,
                "key prefix is too long",
            ));
        }
        Self::check_text(prefix)
    }

    fn check_text(raw: &str) -> Result<(), ParseError> {
        if raw.starts_with('/') {
            return Err(ParseError::new(
                ValueKind::ObjectKey,
                "object key must not start with '/'",
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(ParseError::new(
                ValueKind::ObjectKey,
                "object key must not contain control characters",
            ));
        }
        if raw
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return Err(ParseError::new(
                ValueKind::ObjectKey,
                "object key must not contain '.' or '..' segments",
            ));
        }
        if !is_nfc(raw) {
            return Err(ParseError::new(
                ValueKind::ObjectKey,
                "object key must be in Unicode NFC",
            ));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The start of every video's key (`storage.key_prefix`), checked: an [`ObjectKey`]'s rules,
/// possibly empty, short enough to leave room for the longest [`VideoId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        ObjectKey::check_prefix(raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn video_keys_join_prefix_and_id() {
        let id = VideoId::parse("abc").unwrap();
        let prefix = KeyPrefix::parse("videos/").unwrap();
        assert_eq!(ObjectKey::for_video(&prefix, &id).as_str(), "videos/abc");
    }

    #[test]
    fn rejects_unsafe_keys() {
        let too_long = "k".repeat(1025);
        for raw in [
            "",
            "/abs",
            "a/../b",
            "..",
            "a/./b",
            "a\u{0}b",
            "a\nb",
            "e\u{301}",
            too_long.as_str(),
        ] {
            assert!(ObjectKey::parse(raw).is_err(), "{raw:?} was accepted");
        }
        assert!(
            ObjectKey::parse("a..b/c.d").is_ok(),
            "dots inside a segment are fine"
        );
        assert!(ObjectKey::parse("vidéos/été").is_ok());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepted_keys_are_safe(raw in "\\PC{0,40}|[./a]{0,12}") {
            if let Ok(key) = ObjectKey::parse(&raw) {
                prop_assert!(!key.as_str().split('/').any(|s| s == ".." || s == "."));
                prop_assert!(!key.as_str().chars().any(char::is_control));
            }
        }

        /// `for_video` skips the checks: every prefix that parses, with every id, must give a
        /// key that `parse` accepts, the longest prefix and id included. Prefixes end in what
        /// could combine with what follows (dots, combining marks, Hangul jamo).
        #[test]
        fn video_keys_are_keys_parse_accepts(
            prefix in "\\PC{0,12}[./\u{1100}\u{AC00}\u{0301}e]{0,3}|[a/.]{0,8}",
            id in "[A-Za-z0-9_-]{1,128}",
            longest in any::<bool>(),
        ) {
            // The longest prefix a key can have, followed by the longest id.
            let (prefix, id) = if longest {
                let room = ObjectKey::MAX_BYTES - VideoId::MAX_LEN;
                (format!("{}/", "p".repeat(room - 1)), "i".repeat(VideoId::MAX_LEN))
            } else {
                (prefix, id)
            };
            if let Ok(prefix) = KeyPrefix::parse(&prefix) {
                let id = VideoId::parse(&id).unwrap();
                let key = ObjectKey::for_video(&prefix, &id);
                prop_assert_eq!(ObjectKey::parse(key.as_str()).ok(), Some(key));
            }
        }
    }
}
