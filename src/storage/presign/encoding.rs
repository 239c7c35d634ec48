//! How S3 URLs are percent-encoded, the way aws-sdk-s3 writes them: every control, space, `%`
//! and RFC 3986 delimiter or sub-delimiter is escaped, as is every non-ASCII byte; `/` stays
//! literal in an object key's path. Signing canonicalises with the same set, so a URL written
//! with it is its own canonical form.

use std::sync::LazyLock;

use percent_encoding::{AsciiSet, CONTROLS};

/// Query names and values.
pub const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'$')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*')
    .add(b'+')
    .add(b',')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'!');

/// An object key in a path: as [`QUERY`], but `/` separates segments.
pub const KEY_PATH: &AsciiSet = &QUERY.remove(b'/');

/// An [`AsciiSet`] as a lookup table: which ASCII bytes are escaped (all others are).
pub struct Encoder(LazyLock<[bool; 128]>);

impl Encoder {
    const fn new(build: fn() -> [bool; 128]) -> Self {
        Self(LazyLock::new(build))
    }
}

/// Which ASCII bytes `set` escapes, asked of `percent_encoding` itself.
fn escaped_by(set: &'static AsciiSet) -> [bool; 128] {
    let mut table = [false; 128];
    for (byte, escaped) in (0u8..128).zip(table.iter_mut()) {
        let text = [byte];
        *escaped =
            percent_encoding::percent_encode(&text, set).next() != std::str::from_utf8(&text).ok();
    }
    table
}

pub static QUERY_ENCODER: Encoder = Encoder::new(|| escaped_by(QUERY));
pub static KEY_PATH_ENCODER: Encoder = Encoder::new(|| escaped_by(KEY_PATH));

/// Appends `value` percent-encoded (upper-case hex, as the SDK writes it): runs of bytes that
/// need no escape are copied whole.
pub fn push_encoded(out: &mut String, value: &str, encoder: &Encoder) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let table = &*encoder.0;
    let bytes = value.as_bytes();
    let mut run_start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape = table.get(usize::from(byte)).copied().unwrap_or(true);
        if escape {
            // The run holds only ASCII bytes, so both of its ends are character boundaries.
            if i > run_start {
                out.push_str(&value[run_start..i]);
            }
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            run_start = i + 1;
        }
    }
    if run_start < bytes.len() {
        out.push_str(&value[run_start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: &str, encoder: &Encoder) -> String {
        let mut out = String::new();
        push_encoded(&mut out, value, encoder);
        out
    }

    #[test]
    fn delimiters_and_non_ascii_are_escaped_unreserved_kept() {
        assert_eq!(
            encoded(":/?#[]@!$&'()*+,;=% \"<>^`\\{}|", &QUERY_ENCODER),
            "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25%20%22%3C%3E%5E%60%5C%7B%7D%7C"
        );
        assert_eq!(encoded("aZ09-._~", &QUERY_ENCODER), "aZ09-._~");
        assert_eq!(encoded("é\u{7f}\n", &QUERY_ENCODER), "%C3%A9%7F%0A");
    }

    #[test]
    fn key_paths_keep_slashes() {
        assert_eq!(encoded("a b/c+d", &KEY_PATH_ENCODER), "a%20b/c%2Bd");
    }

    proptest::proptest! {
        #[test]
        fn the_table_encodes_as_percent_encoding_does(value in "\\PC{0,40}") {
            for (set, encoder) in [(QUERY, &QUERY_ENCODER), (KEY_PATH, &KEY_PATH_ENCODER)] {
                let expected = percent_encoding::utf8_percent_encode(&value, set).to_string();
                proptest::prop_assert_eq!(encoded(&value, encoder), expected);
            }
        }
    }
}
