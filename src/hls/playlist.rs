//! HLS playlists (RFC 8216), parsed once into what rewriting needs: the text to keep byte for
//! byte, and every URI with what it points at (another playlist, or an object the player fetches
//! from the store), already resolved against the playlist's own place in the video's folder.
//!
//! Parsing never panics and never guesses: a URI that leaves the video's folder, a scheme other
//! than the store's, a query or fragment, or a line that is not what the format says is an error
//! naming the line.

use std::ops::Range;

use super::uri::{UriError, resolve};

/// What a URI points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A playlist: served by tollgate, rewritten in turn.
    Playlist,
    /// A segment, init section, key or part: presigned for the store.
    Object,
}

/// One URI of the playlist, resolved to a path inside the video's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: String,
    pub target: Target,
}

/// One piece of the playlist as it will be written out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text kept byte for byte (a range of the source).
    Text(Range<usize>),
    /// A URI, replaced when the playlist is written.
    Uri(usize),
}

/// A variant (`EXT-X-STREAM-INF` with its URI line, or `EXT-X-I-FRAME-STREAM-INF`): the pieces
/// it spans, left out together for callers not allowed its resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub height: Option<u32>,
    /// The reference of its playlist.
    pub reference: usize,
    pieces: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A master (multivariant) playlist: variants and renditions.
    Master,
    /// A media playlist: segments. `ended` when it has `EXT-X-ENDLIST` (video on demand).
    Media { ended: bool, duration_secs: f64 },
}

/// A playlist, parsed.
#[derive(Debug, Clone)]
pub struct Playlist {
    source: String,
    pieces: Vec<Piece>,
    pub references: Vec<Reference>,
    pub variants: Vec<Variant>,
    pub kind: Kind,
}

/// Why a playlist cannot be served, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct PlaylistError {
    pub line: usize,
    pub why: String,
}

fn at(line: usize, why: impl Into<String>) -> PlaylistError {
    PlaylistError {
        line,
        why: why.into(),
    }
}

/// Tags whose `URI` attribute names a playlist.
const PLAYLIST_URI_TAGS: [&str; 3] = [
    "EXT-X-MEDIA",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-RENDITION-REPORT",
];
/// Tags whose `URI` attribute names an object the player fetches from the store.
const OBJECT_URI_TAGS: [&str; 6] = [
    "EXT-X-MAP",
    "EXT-X-KEY",
    "EXT-X-SESSION-KEY",
    "EXT-X-PART",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-SESSION-DATA",
];

/// The value range of attribute `name` in an attribute list (`A=1,B="x,y",URI="…"`), quotes
/// excluded, and whether it was quoted.
fn attribute(list: &str, name: &str) -> Option<(Range<usize>, bool)> {
    let bytes = list.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b',' {
            i += 1;
        }
        let this_name = list[name_start..i].trim();
        if i >= bytes.len() || bytes[i] == b',' {
            i += 1;
            continue;
        }
        i += 1; // '='
        let (value, quoted) = if bytes.get(i) == Some(&b'"') {
            let start = i + 1;
            let end = start + list[start..].find('"')?;
            i = end + 1;
            (start..end, true)
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            (start..i, false)
        };
        if this_name == name {
            return Some((value, quoted));
        }
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        i += 1;
    }
    None
}

/// The height of `RESOLUTION=WxH`, when the attribute is there and well formed.
fn height(list: &str) -> Option<u32> {
    let (range, _) = attribute(list, "RESOLUTION")?;
    let (_, h) = list[range].split_once(['x', 'X'])?;
    h.trim().parse().ok()
}

impl Playlist {
    /// Parses `source`, the playlist at `dir` (its folder inside the video's folder, `""` or
    /// ending in `/`); `store_prefix` is the absolute URL of the video's folder on the store,
    /// the one absolute form a URI may take.
    pub fn parse(source: String, dir: &str, store_prefix: &str) -> Result<Self, PlaylistError> {
        let mut parser = Parser {
            source: &source,
            dir,
            store_prefix,
            pieces: Vec::new(),
            references: Vec::new(),
            variants: Vec::new(),
            master: false,
            ended: false,
            duration_secs: 0.0,
            segments: 0,
        };
        parser.run()?;
        let kind = if parser.master {
            if parser.segments > 0 {
                return Err(at(1, "a playlist cannot hold both variants and segments"));
            }
            Kind::Master
        } else {
            Kind::Media {
                ended: parser.ended,
                duration_secs: parser.duration_secs,
            }
        };
        let (pieces, references, variants) = (parser.pieces, parser.references, parser.variants);
        Ok(Self {
            source,
            pieces,
            references,
            variants,
            kind,
        })
    }

    /// Writes the playlist with each URI replaced by `replace(reference index)`, leaving out the
    /// variants `keep` refuses.
    pub fn write<E>(
        &self,
        keep: impl Fn(&Variant) -> bool,
        mut replace: impl FnMut(usize) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut dropped: Vec<&Range<usize>> = Vec::new();
        for variant in &self.variants {
            if !keep(variant) {
                dropped.push(&variant.pieces);
            }
        }
        let mut out = String::with_capacity(self.source.len() * 2);
        for (i, piece) in self.pieces.iter().enumerate() {
            if dropped.iter().any(|r| r.contains(&i)) {
                continue;
            }
            match piece {
                Piece::Text(range) => out.push_str(&self.source[range.clone()]),
                Piece::Uri(reference) => out.push_str(&replace(*reference)?),
            }
        }
        Ok(out)
    }
}

struct Parser<'a> {
    source: &'a str,
    dir: &'a str,
    store_prefix: &'a str,
    pieces: Vec<Piece>,
    references: Vec<Reference>,
    variants: Vec<Variant>,
    master: bool,
    ended: bool,
    duration_secs: f64,
    segments: usize,
}

/// A URI in a tag's attributes: where it is in the tag, what it names, and whether the tag is a
/// variant of its own (`EXT-X-I-FRAME-STREAM-INF`, with its height).
struct TagUri {
    value: Range<usize>,
    target: Target,
    i_frame_variant: Option<Option<u32>>,
}

/// An `EXT-X-STREAM-INF` waiting for its URI line: its first piece, its line and its height.
type PendingVariant = Option<(usize, usize, Option<u32>)>;

impl Parser<'_> {
    fn run(&mut self) -> Result<(), PlaylistError> {
        let source = self.source;
        let mut start = if source.starts_with('\u{feff}') { 3 } else { 0 };
        self.push_text(0..start);
        if source.len() == start {
            return Err(at(1, "an empty playlist"));
        }
        let mut number = 0;
        let mut pending: PendingVariant = None;
        while start < source.len() {
            number += 1;
            let end = source[start..]
                .find('\n')
                .map_or(source.len(), |i| start + i + 1);
            let line = source[start..end].trim_end_matches(['\n', '\r']);
            let content_end = start + line.len();
            if number == 1 && line != "#EXTM3U" {
                return Err(at(1, "not an HLS playlist (it must start with #EXTM3U)"));
            }
            if line.contains('\0') {
                return Err(at(number, "a NUL byte"));
            }
            if line.starts_with("#EXT") {
                if let Some((_, first_line, _)) = pending {
                    return Err(at(
                        first_line,
                        "EXT-X-STREAM-INF without a URI line after it",
                    ));
                }
                let tag = &line[1..];
                let first_piece = self.pieces.len();
                match self.tag(tag, number, &mut pending)? {
                    Some(found) => {
                        // The tag starts after its '#'.
                        let (uri_start, uri_end) =
                            (start + 1 + found.value.start, start + 1 + found.value.end);
                        self.push_text(start..uri_start);
                        let reference =
                            self.reference(&source[uri_start..uri_end], found.target, number)?;
                        self.push_text(uri_end..end);
                        if let Some(height) = found.i_frame_variant {
                            self.variants.push(Variant {
                                height,
                                reference,
                                pieces: first_piece..self.pieces.len(),
                            });
                        }
                    }
                    None => self.push_text(start..end),
                }
            } else if line.starts_with('#') || line.trim().is_empty() {
                // Comments and blank lines are kept as they are.
                self.push_text(start..end);
            } else if let Some((first, _, height)) = pending.take() {
                let reference = self.reference(line.trim(), Target::Playlist, number)?;
                self.push_text(content_end..end);
                self.variants.push(Variant {
                    height,
                    reference,
                    pieces: first..self.pieces.len(),
                });
            } else {
                self.segments += 1;
                self.reference(line.trim(), Target::Object, number)?;
                self.push_text(content_end..end);
            }
            start = end;
        }
        if let Some((_, line, _)) = pending {
            return Err(at(line, "EXT-X-STREAM-INF without a URI line after it"));
        }
        Ok(())
    }

    /// Appends kept text. Never merged with the piece before: a variant starts at a piece.
    fn push_text(&mut self, range: Range<usize>) {
        if !range.is_empty() {
            self.pieces.push(Piece::Text(range));
        }
    }

    /// Resolves `uri`, records it and its piece.
    fn reference(
        &mut self,
        uri: &str,
        target: Target,
        line: usize,
    ) -> Result<usize, PlaylistError> {
        let path = resolve(self.dir, uri, self.store_prefix).map_err(|e| uri_error(line, &e))?;
        if target == Target::Playlist && !path.to_ascii_lowercase().ends_with(".m3u8") {
            return Err(at(line, format!("{uri:?} is not a playlist (.m3u8)")));
        }
        self.references.push(Reference { path, target });
        let index = self.references.len() - 1;
        self.pieces.push(Piece::Uri(index));
        Ok(index)
    }

    /// What one `EXT…` tag (without its '#') means here, and the URI in it, if any.
    fn tag(
        &mut self,
        tag: &str,
        line: usize,
        pending: &mut PendingVariant,
    ) -> Result<Option<TagUri>, PlaylistError> {
        let (name, attributes) = tag.split_once(':').unwrap_or((tag, ""));
        match name {
            "EXT-X-STREAM-INF" => {
                self.master = true;
                *pending = Some((self.pieces.len(), line, height(attributes)));
                return Ok(None);
            }
            "EXT-X-MEDIA" | "EXT-X-I-FRAME-STREAM-INF" => self.master = true,
            "EXT-X-ENDLIST" => self.ended = true,
            "EXTINF" => {
                let duration = attributes.split(',').next().unwrap_or_default().trim();
                let secs: f64 = duration
                    .parse()
                    .ok()
                    .filter(|d: &f64| d.is_finite() && *d >= 0.0)
                    .ok_or_else(|| at(line, format!("EXTINF duration {duration:?}")))?;
                self.duration_secs += secs;
            }
            _ => {}
        }
        let target = if PLAYLIST_URI_TAGS.contains(&name) {
            Target::Playlist
        } else if OBJECT_URI_TAGS.contains(&name) {
            Target::Object
        } else {
            return Ok(None);
        };
        let Some((value, quoted)) = attribute(attributes, "URI") else {
            // A rendition carried in its variant, a key with METHOD=NONE, …
            return Ok(None);
        };
        if !quoted {
            return Err(at(line, "URI must be a quoted string"));
        }
        let offset = name.len() + 1;
        Ok(Some(TagUri {
            value: offset + value.start..offset + value.end,
            target,
            i_frame_variant: (name == "EXT-X-I-FRAME-STREAM-INF").then(|| height(attributes)),
        }))
    }
}

fn uri_error(line: usize, error: &UriError) -> PlaylistError {
    at(line, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &str = "http://127.0.0.1:9000/videos/videos/v1/";

    const MASTER: &str = "#EXTM3U\n\
#EXT-X-VERSION:7\n\
#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",DEFAULT=YES,URI=\"audio/en.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.4d401e,mp4a.40.2\",AUDIO=\"aud\"\n\
360p/index.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,AUDIO=\"aud\"\n\
720p/index.m3u8\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,RESOLUTION=1280x720,URI=\"720p/iframes.m3u8\"\n";

    const MEDIA: &str = "#EXTM3U\r\n\
#EXT-X-VERSION:7\r\n\
#EXT-X-TARGETDURATION:4\r\n\
#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\r\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k1.bin\",IV=0x0123\r\n\
#EXTINF:4.000,\r\n\
#EXT-X-BYTERANGE:1000@720\r\n\
seg.m4s\r\n\
# a comment\r\n\
#EXTINF:3.5,title, with comma\r\n\
seg-2.m4s\r\n\
#EXT-X-ENDLIST\r\n";

    fn rewrite(playlist: &Playlist, keep: impl Fn(&Variant) -> bool) -> String {
        playlist
            .write(keep, |i| {
                let r = &playlist.references[i];
                Ok::<_, ()>(match r.target {
                    Target::Playlist => format!("P({})", r.path),
                    Target::Object => format!("O({})", r.path),
                })
            })
            .unwrap()
    }

    #[test]
    fn a_master_playlist_has_its_playlists_and_variants_replaced_and_all_else_kept() {
        let playlist = Playlist::parse(MASTER.to_owned(), "", STORE).unwrap();
        assert_eq!(playlist.kind, Kind::Master);
        let heights: Vec<Option<u32>> = playlist.variants.iter().map(|v| v.height).collect();
        assert_eq!(heights, [Some(360), Some(720), Some(720)]);
        let out = rewrite(&playlist, |_| true);
        assert_eq!(
            out,
            MASTER
                .replace("\"audio/en.m3u8\"", "\"P(audio/en.m3u8)\"")
                .replace("\n360p/index.m3u8", "\nP(360p/index.m3u8)")
                .replace("\n720p/index.m3u8", "\nP(720p/index.m3u8)")
                .replace("\"720p/iframes.m3u8\"", "\"P(720p/iframes.m3u8)\"")
        );
    }

    #[test]
    fn variants_taller_than_allowed_are_left_out_whole() {
        let playlist = Playlist::parse(MASTER.to_owned(), "", STORE).unwrap();
        let out = rewrite(&playlist, |v| v.height.is_none_or(|h| h <= 360));
        assert!(out.contains("P(360p/index.m3u8)"), "{out}");
        assert!(!out.contains("720"), "{out}");
        assert!(out.contains("#EXT-X-MEDIA:"), "{out}");
        assert!(out.ends_with("P(360p/index.m3u8)\n"), "{out}");
    }

    #[test]
    fn a_media_playlist_has_its_objects_replaced_byte_ranges_and_crlf_kept() {
        let playlist = Playlist::parse(MEDIA.to_owned(), "720p/", STORE).unwrap();
        assert_eq!(
            playlist.kind,
            Kind::Media {
                ended: true,
                duration_secs: 7.5
            }
        );
        let out = rewrite(&playlist, |_| true);
        assert_eq!(
            out,
            MEDIA
                .replace("\"init.mp4\"", "\"O(720p/init.mp4)\"")
                .replace("\"../keys/k1.bin\"", "\"O(keys/k1.bin)\"")
                .replace("\nseg.m4s", "\nO(720p/seg.m4s)")
                .replace("\nseg-2.m4s", "\nO(720p/seg-2.m4s)")
        );
    }

    #[test]
    fn a_live_playlist_is_not_ended() {
        let live = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns1.ts\n";
        let playlist = Playlist::parse(live.to_owned(), "", STORE).unwrap();
        assert_eq!(
            playlist.kind,
            Kind::Media {
                ended: false,
                duration_secs: 2.0
            }
        );
    }

    #[test]
    fn malformed_playlists_name_their_line() {
        for (text, line) in [
            ("not a playlist\n", 1),
            ("", 1),
            ("#EXTM3U\n#EXTINF:abc,\ns.ts\n", 2),
            ("#EXTM3U\n#EXTINF:-1,\ns.ts\n", 2),
            ("#EXTM3U\n#EXTINF:4,\n../escape.ts\n", 3),
            ("#EXTM3U\n#EXT-X-MAP:URI=init.mp4\n", 2),
            ("#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://k\"\n", 2),
            ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", 2),
            (
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-ENDLIST\nv.m3u8\n",
                2,
            ),
            ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvideo.mp4\n", 3),
            ("#EXTM3U\n#EXTINF:1,\nok.ts\nhttps://cdn.example/x.ts\n", 4),
            (
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:1,\ns.ts\n",
                1,
            ),
        ] {
            let error = Playlist::parse(text.to_owned(), "", STORE).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
        }
    }

    #[test]
    fn a_byte_order_mark_and_a_missing_final_newline_are_fine() {
        let text = "\u{feff}#EXTM3U\n#EXTINF:1,\ns.ts";
        let playlist = Playlist::parse(text.to_owned(), "", STORE).unwrap();
        assert_eq!(
            rewrite(&playlist, |_| true),
            "\u{feff}#EXTM3U\n#EXTINF:1,\nO(s.ts)"
        );
    }

    proptest::proptest! {
        /// Any text: an answer or an error naming a line of it, never a panic, and never a
        /// reference outside the video's folder.
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("#EXT[-A-Z]{0,20}:[ -~]{0,40}").unwrap(),
                    proptest::string::string_regex("[ -~]{0,30}").unwrap(),
                    proptest::string::string_regex("(\\.\\./|[a-z]{1,3}/){0,4}[a-z.%0-9]{1,8}").unwrap(),
                    proptest::string::string_regex("#EXT-X-(MAP|KEY|MEDIA|STREAM-INF|I-FRAME-STREAM-INF):URI=\"[ -~]{0,20}\"").unwrap(),
                ],
                0..30,
            ),
            master in proptest::bool::ANY,
        ) {
            let mut text = String::from("#EXTM3U\n");
            text.push_str(&lines.join("\n"));
            let dir = if master { "" } else { "720p/" };
            match Playlist::parse(text.clone(), dir, STORE) {
                Ok(playlist) => {
                    for reference in &playlist.references {
                        proptest::prop_assert!(!reference.path.starts_with('/'));
                        proptest::prop_assert!(!reference.path.split('/').any(|s| s == ".." || s.is_empty()));
                    }
                    let out = rewrite(&playlist, |_| true);
                    proptest::prop_assert!(out.starts_with("#EXTM3U"));
                }
                Err(error) => {
                    proptest::prop_assert!(error.line >= 1 && error.line <= text.lines().count().max(1));
                }
            }
        }
    }
}
