//! How S3 URLs are percent-encoded, the way aws-sdk-s3 writes them: every control, space, `%`
//! and RFC 3986 delimiter or sub-delimiter is escaped, as is every non-ASCII byte; `/` stays
//! literal in an object key's path. Signing canonicalises with the same set, so a URL written
//! with it is its own canonical form.

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

/// Appends `value` percent-encoded with `set`.
pub fn push_encoded(out: &mut String, value: &str, set: &'static AsciiSet) {
    out.extend(percent_encoding::utf8_percent_encode(value, set));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: &str, set: &'static AsciiSet) -> String {
        let mut out = String::new();
        push_encoded(&mut out, value, set);
        out
    }

    #[test]
    fn delimiters_and_non_ascii_are_escaped_unreserved_kept() {
        assert_eq!(
            encoded(":/?#[]@!$&'()*+,;=% \"<>^`\\{}|", QUERY),
            "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25%20%22%3C%3E%5E%60%5C%7B%7D%7C"
        );
        assert_eq!(encoded("aZ09-._~", QUERY), "aZ09-._~");
        assert_eq!(encoded("é\u{7f}\n", QUERY), "%C3%A9%7F%0A");
    }

    #[test]
    fn key_paths_keep_slashes() {
        assert_eq!(encoded("a b/c+d", KEY_PATH), "a%20b/c%2Bd");
    }
}
