//! The `json` log format, written by hand into a buffer of the thread's, then handed to
//! tracing-subscriber in one piece.
//!
//! Its lines are those of tracing-subscriber's `json()` format with `flatten_event(true)` and
//! `with_span_list(false)`: `timestamp`, `level`, the event's fields in their order, `target`,
//! then the current span as `span` (its fields, then `name`). That format serializes through
//! serde_json into an `io::Write` adaptor over a `fmt::Write` (a UTF-8 check per piece), and
//! parses each span's stored fields back from JSON for every line: with the access log at `info`
//! it cost more than the whole request it logged (callgrind, bench/instructions.sh). Here values
//! are escaped as they are written, and a span's fields are stored as a JSON fragment that every
//! line copies.
//!
//! One difference from tracing-subscriber's, which our spans do not meet: a span's fields are in
//! their declared order until one is recorded later (`Span::record`); then they are sorted by
//! name, as tracing-subscriber always sorts them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as JSON lines (see the module's documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

/// Formats a span's fields as `"name":value` pairs, separated by commas, without braces.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSpanFields;

impl<S> FormatEvent<S, JsonSpanFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonSpanFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The line is put together in a `String` of this thread's, then handed over in one
        // write: the `Writer` forwards each piece through a `dyn fmt::Write`, and a line is ~100
        // pieces. An event logged while this thread writes another (a field's `Debug` that logs;
        // the global subscriber takes it) gets a buffer of its own.
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                let written =
                    write_line(ctx, &mut line, event).and_then(|()| writer.write_str(&line));
                if line.capacity() > LINE_KEPT_BYTES {
                    *line = String::new();
                }
                written
            }
            Err(_) => {
                let mut line = String::new();
                write_line(ctx, &mut line, event)?;
                writer.write_str(&line)
            }
        })
    }
}

thread_local! {
    /// The line being written on this thread (`JsonLines::format_event`).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A line buffer that grew past this (a very long field) is not kept for the next line.
const LINE_KEPT_BYTES: usize = 16 * 1024;

/// One event's line, `{...}\n`.
fn write_line<S>(
    ctx: &FmtContext<'_, S, JsonSpanFields>,
    writer: &mut String,
    event: &Event<'_>,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let normalized = event.normalized_metadata();
    let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
    writer.write_str("{\"timestamp\":\"")?;
    write_timestamp(writer, SystemTime::now())?;
    writer.write_str("\",\"level\":\"")?;
    writer.write_str(meta.level().as_str())?;
    writer.write_char('"')?;
    let mut fields = Fields {
        out: writer,
        first: false,
        span: false,
        result: Ok(()),
    };
    event.record(&mut fields);
    fields.result?;
    writer.write_str(",\"target\":")?;
    write_str(writer, meta.target())?;
    let span = event
        .parent()
        .and_then(|id| ctx.span(id))
        .or_else(|| ctx.lookup_current());
    if let Some(span) = span {
        writer.write_str(",\"span\":{")?;
        let extensions = span.extensions();
        if let Some(fields) = extensions.get::<FormattedFields<JsonSpanFields>>()
            && !fields.is_empty()
        {
            writer.write_str(fields)?;
            writer.write_char(',')?;
        }
        writer.write_str("\"name\":")?;
        write_str(writer, span.name())?;
        writer.write_char('}')?;
    }
    writer.write_str("}\n")
}

impl<'w> FormatFields<'w> for JsonSpanFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Fields {
            out: &mut writer,
            first: true,
            span: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }

    /// Fields recorded on a span after it opened. A field recorded again replaces its value: the
    /// stored fragment is read back and written again, sorted by name, as tracing-subscriber
    /// does. Nothing on a request's path records on a span.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        if current.is_empty() {
            return self.format_fields(current.as_writer(), fields);
        }
        let mut added = String::new();
        self.format_fields(Writer::new(&mut added), fields)?;
        let object = |fragment: &str| {
            serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&format!("{{{fragment}}}"))
                .map_err(|_| fmt::Error)
        };
        let mut merged = object(&current.fields)?;
        merged.extend(object(&added)?);
        current.fields.clear();
        for (i, (name, value)) in merged.iter().enumerate() {
            if i > 0 {
                current.fields.push(',');
            }
            write_str(&mut current.fields, name)?;
            write!(current.fields, ":{value}")?;
        }
        Ok(())
    }
}

/// Writes each field it visits as `"name":value`, preceded by a comma unless it is the first.
/// Values as serde_json writes them: strings escaped, numbers and booleans bare, anything else
/// by its `Debug` (which for `%value` fields is its `Display`) as a string. A span's fields
/// follow tracing-subscriber's rules for spans, which differ from its rules for events: bytes
/// as an array of numbers, and among `Debug` fields, `log.` ones left out and `r#` taken off.
struct Fields<'a, W> {
    out: &'a mut W,
    first: bool,
    span: bool,
    result: fmt::Result,
}

impl<W: fmt::Write> Fields<'_, W> {
    fn entry(&mut self, name: &str, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                self.out.write_char(',')?;
            }
            write_str(self.out, name)?;
            self.out.write_char(':')?;
            value(self.out)
        })();
    }
}

impl<W: fmt::Write> Visit for Fields<'_, W> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut name = field.name();
        if self.span {
            if name.starts_with("log.") {
                return;
            }
            name = name.strip_prefix("r#").unwrap_or(name);
        }
        self.entry(name, |out| {
            out.write_char('"')?;
            write!(Escaping(&mut *out), "{value:?}")?;
            out.write_char('"')
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field.name(), |out| write_str(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field.name(), |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field.name(), |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field.name(), |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json's notation (`null` for what JSON cannot hold); no hot path logs a float.
        self.entry(field.name(), |out| {
            write!(out, "{}", serde_json::Value::from(value))
        });
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        if self.span {
            self.entry(field.name(), |out| {
                write!(out, "{}", serde_json::Value::from(value))
            });
        } else {
            self.record_debug(field, &Hex(value));
        }
    }
}

/// Bytes as tracing writes them by default: `[00 ff]`.
struct Hex<'a>(&'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            write!(f, "{byte:02x}")?;
        }
        f.write_char(']')
    }
}

/// `value` as a JSON string, quotes included.
fn write_str(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaping(&mut *out).write_str(value)?;
    out.write_char('"')
}

/// Passes text through with JSON's escapes, as serde_json writes them: `"`, `\` and the control
/// characters below U+0020 (the short forms where JSON has them, `\u00XX` otherwise). An ANSI
/// escape sequence in a value thus reaches a terminal as text.
struct Escaping<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Most text needs no escape: one pass with no early exit, which the compiler vectorises.
        if crate::routes::json::needs_no_escaping(text) {
            return self.0.write_str(text);
        }
        let bytes = text.as_bytes();
        let mut copied = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            // Escaped bytes are ASCII, so `copied..i` lies on character boundaries.
            self.0.write_str(&text[copied..i])?;
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.0.write_str("\\u00")?;
                self.0.write_char(char::from(HEX[usize::from(byte >> 4)]))?;
                self.0
                    .write_char(char::from(HEX[usize::from(byte & 0xf)]))?;
            } else {
                self.0.write_str(escape)?;
            }
            copied = i + 1;
        }
        self.0.write_str(&text[copied..])
    }
}

thread_local! {
    /// The last whole second a line on this thread was stamped with, and its text.
    static SECOND: RefCell<(u64, [u8; 19])> = const { RefCell::new((u64::MAX, [0; 19])) };
}

/// `2026-12-01T08:05:50.123456Z`: UTC, microseconds, as tracing-subscriber's clock writes it.
/// The date and time of day are worked out once a second per thread.
fn write_timestamp(out: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
        return out.write_str("1970-01-01T00:00:00.000000Z");
    };
    let secs = since_epoch.as_secs();
    let micros = since_epoch.subsec_micros();
    let second = SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            *text = crate::clock::civil_seconds(now)?;
            *cached = secs;
        }
        Some(*text)
    });
    // Digits, dashes, colons and a `T`: ASCII. A clock past the year 9999 is written as its
    // end (tracing-subscriber writes `+10000`; time, which works the date out, stops there).
    let second = second.unwrap_or(*b"9999-12-31T23:59:59");
    out.write_str(std::str::from_utf8(&second).map_err(|_| fmt::Error)?)?;
    let mut digits = *b".000000Z";
    let mut rest = micros;
    for digit in digits[1..7].iter_mut().rev() {
        // A digit: always below 10.
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use proptest::prelude::*;
    use time::format_description::FormatItem;
    use time::macros::format_description;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use time::OffsetDateTime;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8(bytes)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    /// Runs `log` under tracing-subscriber's JSON format (as tollgate configured it before) and
    /// under ours; their lines.
    fn both(log: impl Fn()) -> (Vec<String>, Vec<String>) {
        let theirs = Captured::default();
        let ours = Captured::default();
        let reference = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_span_list(false)
                .with_writer({
                    let theirs = theirs.clone();
                    move || theirs.clone()
                }),
        );
        tracing::subscriber::with_default(reference, &log);
        let subject = tracing_subscriber::registry().with(crate::telemetry::json_layer({
            let ours = ours.clone();
            move || ours.clone()
        }));
        tracing::subscriber::with_default(subject, &log);
        (theirs.lines(), ours.lines())
    }

    /// `"timestamp":"…"` is the first entry of every line; the two runs differ only there.
    fn without_timestamp(line: &str) -> &str {
        const PREFIX: &str = "{\"timestamp\":\"2026-12-01T08:05:50.123456Z\"";
        line.get(PREFIX.len()..).unwrap_or(line)
    }

    #[derive(Debug)]
    struct Failure;

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("store \"down\"\n\tretry")
        }
    }

    impl std::error::Error for Failure {}

    #[test]
    fn lines_are_tracing_subscribers_json_byte_for_byte() {
        let (theirs, ours) = both(|| {
            tracing::info!("outside any span");
            let request = tracing::info_span!(
                "request",
                method = %"GET",
                path = %"/videos/a\"b\\c/url",
                request_id = %"7f\u{1b}[31m",
            );
            let _entered = request.enter();
            tracing::info!(latency = %"3 ms", status = 200_u16, "finished processing request");
            tracing::warn!(
                target: "audit",
                none = Option::<&str>::None,
                some = Some("x"),
                negative = -5_i64,
                big = u64::MAX,
                yes = true,
                ratio = 0.25_f64,
                nan = f64::NAN,
                debug = ?vec!["a", "b"],
                error = &Failure as &dyn std::error::Error,
                text = "é ✓ \u{0} \u{7} \u{1f} \u{7f} \u{2028}",
                "audit {} {:?}", 1, "two"
            );
            let inner = tracing::error_span!("inner", attempt = 2_u64, bucket = "b");
            inner.in_scope(|| tracing::error!(r#type = "keyword", "nested"));
            let empty = tracing::info_span!("empty");
            empty.in_scope(|| tracing::debug!("in a span without fields"));
        });
        assert_eq!(theirs.len(), 5, "{theirs:#?}");
        assert_eq!(ours.len(), theirs.len(), "{ours:#?}");
        for (theirs, ours) in theirs.iter().zip(&ours) {
            assert_eq!(without_timestamp(ours), without_timestamp(theirs));
            let parsed: serde_json::Value =
                serde_json::from_str(ours).unwrap_or_else(|e| panic!("{e}: {ours}"));
            assert!(parsed.is_object(), "{ours}");
        }
    }

    #[test]
    fn fields_recorded_later_on_a_span_join_it() {
        let (theirs, ours) = both(|| {
            let span = tracing::info_span!("request", path = "/a", status = tracing::field::Empty);
            span.record("status", 404_u64);
            span.in_scope(|| tracing::info!("done"));
            // Recorded again: the value is replaced, not repeated.
            span.record("status", 200_u64);
            span.record("path", "/b\"");
            span.in_scope(|| tracing::info!("done"));
            let late = tracing::info_span!("late", status = tracing::field::Empty);
            late.record("status", 200_u64);
            late.in_scope(|| tracing::info!("done"));
        });
        assert_eq!(ours.len(), 3, "{ours:#?}");
        for (theirs, ours) in theirs.iter().zip(&ours) {
            assert_eq!(without_timestamp(ours), without_timestamp(theirs));
        }
        assert!(ours[1].contains(r#""span":{"path":"/b\"","status":200,"name":"request"}"#));
    }

    /// tracing-subscriber writes a span's fields by rules of their own: bytes as numbers, `log.`
    /// fields left out, `r#` taken off; an event's bytes in hex.
    #[test]
    fn span_fields_follow_tracing_subscribers_rules_for_spans() {
        let (theirs, ours) = both(|| {
            let span = tracing::info_span!(
                "request",
                bytes = &b"\x00\xff"[..],
                log.target = ?"hidden",
                r#type = ?"raw",
            );
            span.in_scope(|| tracing::info!(bytes = &b"\x00\xff"[..], "done"));
        });
        assert_eq!(ours.len(), 1, "{ours:#?}");
        let theirs: serde_json::Value = serde_json::from_str(&theirs[0]).unwrap_or_default();
        let mut ours: serde_json::Value = serde_json::from_str(&ours[0]).unwrap_or_default();
        ours["timestamp"] = theirs["timestamp"].clone();
        assert_eq!(ours, theirs);
        assert_eq!(ours["span"]["bytes"], serde_json::json!([0, 255]));
        assert_eq!(ours["bytes"], "[00 ff]");
        assert_eq!(ours["span"]["type"], "\"raw\"");
        assert!(ours["span"].get("log.target").is_none(), "{ours}");
    }

    /// The embedded store opens a span for each operation that holds the whole request
    /// (s3s-fs's `#[instrument]`): a line logged inside one never carries it.
    #[test]
    fn the_stores_operation_spans_stay_out_of_lines() {
        use tracing_subscriber::Layer as _;
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(
            crate::telemetry::json_layer({
                let captured = captured.clone();
                move || captured.clone()
            })
            .with_filter(crate::telemetry::secret_filter()),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                target: "s3s_fs::s3",
                "put_object",
                req = "authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261201",
            );
            span.in_scope(|| tracing::warn!("inside the store's span"));
        });
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains("inside the store's span"), "{}", lines[0]);
        assert!(!lines[0].contains("AKIAEXAMPLE"), "{}", lines[0]);
    }

    const MICROS: &[FormatItem<'_>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

    fn timestamp(at: SystemTime) -> String {
        let mut text = String::new();
        assert!(write_timestamp(&mut text, at).is_ok());
        text
    }

    proptest! {
        /// Every string comes out as serde_json writes it.
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(text in any::<String>()) {
            let mut ours = String::new();
            prop_assert!(write_str(&mut ours, &text).is_ok());
            prop_assert_eq!(ours, serde_json::to_string(&text).unwrap_or_default());
        }

        /// The stamp is time's rendering of the instant to the microsecond, whether or not the
        /// thread's cached second is the instant's.
        #[test]
        fn timestamps_are_times_to_the_microsecond(
            secs in 0_u64..253_402_300_800,
            nanos in 0_u32..1_000_000_000,
            later in 0_u32..1_000_000_000,
        ) {
            let at = UNIX_EPOCH + Duration::new(secs, nanos);
            let same_second = UNIX_EPOCH + Duration::new(secs, later);
            for at in [at, same_second] {
                let expected = OffsetDateTime::from(at).format(MICROS).unwrap_or_default();
                prop_assert_eq!(timestamp(at), expected);
            }
        }
    }

    #[test]
    fn timestamps_at_the_edges() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            timestamp(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::new(253_402_300_800, 5_000)),
            "9999-12-31T23:59:59.000005Z"
        );
    }
}
