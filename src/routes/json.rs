//! JSON answers written field by field into one buffer, for the answers every playback and
//! upload request gets (a presigned URL and its details).
//!
//! `serde_json` escapes a string a byte at a time through a lookup table: for a ~400-byte
//! presigned URL that was ~5,600 instructions of a ~80,000-instruction request (callgrind,
//! bench/instructions.sh). A presigned URL needs no escaping (it is percent-encoded), so a
//! string is first checked in one pass with no early exit (the compiler vectorises it) and
//! copied as it is; only a string that needs escaping goes through `serde_json`. The output is
//! byte-for-byte what `serde_json` writes for the same fields (the answer types' tests compare
//! the two).

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A JSON object being written: `{`, then fields in the order they are added.
pub struct JsonObject {
    buf: Vec<u8>,
}

impl JsonObject {
    /// An object whose fields are expected to take about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.push(b'{');
        Self { buf }
    }

    /// `"name":`, after a comma unless it is the first field. Names are the answer types' own
    /// field names: plain ASCII.
    fn name(&mut self, name: &'static str) {
        debug_assert!(needs_no_escaping(name));
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        self.buf.push(b'"');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    pub fn str(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.name(name);
        write_str(&mut self.buf, value);
        self
    }

    pub fn u64(&mut self, name: &'static str, value: u64) -> &mut Self {
        self.name(name);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self
    }

    fn null(&mut self, name: &'static str) -> &mut Self {
        self.name(name);
        self.buf.extend_from_slice(b"null");
        self
    }

    /// The string, or `null`.
    pub fn opt_str(&mut self, name: &'static str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.str(name, value),
            None => self.null(name),
        }
    }

    /// The number, or `null`.
    pub fn opt_u64(&mut self, name: &'static str, value: Option<u64>) -> &mut Self {
        match value {
            Some(value) => self.u64(name, value),
            None => self.null(name),
        }
    }

    /// An object of strings, in the iterator's order.
    pub fn str_map<'a>(
        &mut self,
        name: &'static str,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> &mut Self {
        self.name(name);
        self.buf.push(b'{');
        for (i, (key, value)) in entries.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            write_str(&mut self.buf, key);
            self.buf.push(b':');
            write_str(&mut self.buf, value);
        }
        self.buf.push(b'}');
        self
    }

    /// The object's text.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(b'}');
        self.buf
    }

    /// The object as an answer with `status` and `Content-Type: application/json`.
    pub fn into_response(self, status: StatusCode) -> Response {
        (
            status,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            self.finish(),
        )
            .into_response()
    }
}

/// Whether JSON can hold `s` between quotes as it is: no control character, `"` or `\` (the
/// only bytes `serde_json` escapes). Every byte is looked at, without an early exit.
pub(crate) fn needs_no_escaping(s: &str) -> bool {
    s.bytes().fold(true, |clean, b| {
        clean & (b >= 0x20) & (b != b'"') & (b != b'\\')
    })
}

fn write_str(buf: &mut Vec<u8>, s: &str) {
    if needs_no_escaping(s) {
        buf.reserve(s.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        // Writing into a Vec cannot fail, and a &str always serialises.
        let _ = serde_json::to_writer(&mut *buf, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn object(value: &str, number: Option<u64>, map: &[(String, String)]) -> Vec<u8> {
        let mut object = JsonObject::with_capacity(16);
        object
            .str("s", value)
            .opt_u64("n", number)
            .str_map("m", map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .u64("u", 7);
        object.finish()
    }

    #[test]
    fn strings_that_need_escaping_are_escaped_as_serde_json_does() {
        for s in [
            "plain",
            "",
            "quote\"",
            "back\\slash",
            "tab\t",
            "nul\0",
            "é ünïcode /",
            "\u{7f}",
        ] {
            let written = object(s, None, &[]);
            let expected = format!(
                "{{\"s\":{},\"n\":null,\"m\":{{}},\"u\":7}}",
                serde_json::to_string(s).unwrap()
            );
            assert_eq!(String::from_utf8(written).unwrap(), expected, "{s:?}");
        }
    }

    proptest! {
        /// Any strings and numbers: the same bytes as serde_json's for the same fields.
        #[test]
        fn output_is_serde_jsons(
            value in "\\PC*|[\\x00-\\x7f]{0,40}",
            number in proptest::option::of(any::<u64>()),
            map in proptest::collection::vec(("[\\x00-\\x7f]{0,8}", "\\PC{0,8}"), 0..4),
        ) {
            let written = object(&value, number, &map);
            let mut expected = serde_json::Map::new();
            expected.insert("s".into(), value.clone().into());
            expected.insert("n".into(), number.into());
            let mut m = serde_json::Map::new();
            for (k, v) in &map {
                m.insert(k.clone(), v.clone().into());
            }
            expected.insert("m".into(), m.into());
            expected.insert("u".into(), 7.into());
            let parsed: serde_json::Value = serde_json::from_slice(&written).unwrap();
            prop_assert_eq!(&parsed, &serde_json::Value::Object(expected));
            // Byte for byte, when the map has no repeated key (serde_json's Map would merge them).
            let mut keys: Vec<_> = map.iter().map(|(k, _)| k).collect();
            keys.sort();
            keys.dedup();
            if keys.len() == map.len() {
                let pairs: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), serde_json::to_string(v).unwrap()))
                    .collect();
                let text = format!(
                    "{{\"s\":{},\"n\":{},\"m\":{{{}}},\"u\":7}}",
                    serde_json::to_string(&value).unwrap(),
                    serde_json::to_string(&number).unwrap(),
                    pairs.join(","),
                );
                prop_assert_eq!(String::from_utf8(written).unwrap(), text);
            }
        }
    }
}
