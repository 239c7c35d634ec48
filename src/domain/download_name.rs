use super::{ParseError, ValueKind};

/// A file name offered to the browser in `Content-Disposition: attachment`.
///
/// Built from caller input, so it is reduced to something that cannot break out of the header:
/// control characters, quotes, backslashes and path separators are dropped, and it is cut at 200
/// characters. The header carries an ASCII fallback and the exact name as RFC 5987 `filename*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadName(String);

impl DownloadName {
    const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let cleaned: String = raw
            .chars()
            .filter(|c| {
                !c.is_control() && !is_format_control(*c) && !matches!(c, '"' | '\\' | '/' | ';')
            })
            .take(Self::MAX_CHARS)
            .collect();
        let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
        if cleaned.is_empty() {
            return Err(ParseError::new(
                ValueKind::DownloadName,
                "filename is empty once unsafe characters are removed",
            ));
        }
        Ok(Self(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name percent-encoded (RFC 5987 `attr-char` kept): ASCII, safe as a header or
    /// `x-amz-meta-*` value.
    pub fn percent_encoded(&self) -> String {
        percent_encoding::utf8_percent_encode(&self.0, RFC5987_ATTR).to_string()
    }

    /// The name percent-encoded, cut (at a character) so that it takes at most `max_bytes`;
    /// `None` when not even one character fits.
    pub fn percent_encoded_within(&self, max_bytes: usize) -> Option<String> {
        let mut encoded = String::new();
        let mut buf = [0u8; 4];
        for c in self.0.chars() {
            let piece =
                percent_encoding::utf8_percent_encode(c.encode_utf8(&mut buf), RFC5987_ATTR)
                    .to_string();
            if encoded.len() + piece.len() > max_bytes {
                break;
            }
            encoded.push_str(&piece);
        }
        (!encoded.is_empty()).then_some(encoded)
    }

    /// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
    pub fn content_disposition(&self) -> String {
        let ascii: String = self
            .0
            .chars()
            .map(|c| if c.is_ascii() { c } else { '_' })
            .collect();
        let encoded = self.percent_encoded();
        format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    }
}

/// Invisible characters that change how a name reads: bidirectional overrides and isolates
/// (U+202E turns `gpj.exe` into what looks like `exe.jpg`), zero-width characters and the BOM.
fn is_format_control(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// Everything but RFC 5987 `attr-char` is percent-encoded.
const RFC5987_ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_has_ascii_fallback_and_exact_utf8_name() {
        let name = DownloadName::parse("Été 2024.mp4").unwrap();
        assert_eq!(
            name.content_disposition(),
            "attachment; filename=\"_t_ 2024.mp4\"; filename*=UTF-8''%C3%89t%C3%A9%202024.mp4"
        );
    }

    #[test]
    fn header_injection_is_neutralised() {
        let name = DownloadName::parse("a\"; filename=evil.exe\r\nX-Bad: 1/../..\\x").unwrap();
        let header = name.content_disposition();
        assert!(!header.contains('\r') && !header.contains('\n'));
        assert_eq!(header.matches('"').count(), 2, "{header}");
        assert!(DownloadName::parse("\"/\\;\u{0}").is_err());
        assert!(DownloadName::parse("...").is_err());
    }

    #[test]
    fn a_name_is_cut_at_a_character_to_fit() {
        let name = DownloadName::parse("été.mp4").unwrap();
        assert_eq!(
            name.percent_encoded_within(100).unwrap(),
            name.percent_encoded()
        );
        // "é" takes 6 bytes encoded: 8 bytes hold "é" and "t", not the next "é".
        assert_eq!(name.percent_encoded_within(8).as_deref(), Some("%C3%A9t"));
        assert_eq!(name.percent_encoded_within(5), None);
    }

    #[test]
    fn invisible_direction_and_width_characters_are_dropped() {
        // "trip\u{202e}4pm.exe" reads as "tripexe.mp4" in a browser's download bar.
        let name = DownloadName::parse("trip\u{202e}4pm.exe").unwrap();
        assert_eq!(name.as_str(), "trip4pm.exe");
        let name = DownloadName::parse("\u{feff}a\u{200b}b\u{2066}c\u{2069}").unwrap();
        assert_eq!(name.as_str(), "abc");
    }

    proptest! {
        #[test]
        fn any_input_gives_a_valid_header_value(raw in "\\PC{0,300}|[\\x00-\\x7f]{0,50}") {
            if let Ok(name) = DownloadName::parse(&raw) {
                let header = name.content_disposition();
                prop_assert!(axum::http::HeaderValue::from_str(&header).is_ok(), "{}", header);
                prop_assert_eq!(header.matches('"').count(), 2);
                prop_assert!(name.as_str().chars().count() <= 200);
            }
        }
    }
}
