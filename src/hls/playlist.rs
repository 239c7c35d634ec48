//! HLS playlists (RFC 8216), parsed once into what rewriting needs: the text to keep byte for
//! byte, and every URI with what it points at (another playlist, or an object the player fetches
//! from the store), already resolved against the playlist's own place in the video's folder.
//!
//! Parsing never panics and never guesses: a URI that leaves the video's folder, a scheme other
//! than the store's, a query or fragment, or a line that is not what the format says is an error
//! naming the line.

use std::ops::Range;

use super::uri::{UriError, resolve, shown};

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
    /// Its `VIDEO` group: the video renditions (`EXT-X-MEDIA:TYPE=VIDEO`) it may play instead.
    pub video_group: Option<String>,
    pieces: Range<usize>,
}

/// An `EXT-X-MEDIA` rendition with a URI. A video rendition (`TYPE=VIDEO`) is an alternative
/// picture of the variants of its group: it is left out with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    pub reference: usize,
    /// `GROUP-ID` when `TYPE=VIDEO`.
    pub video_group: Option<String>,
    pieces: Range<usize>,
}

/// Most URIs one playlist may hold (about 22 hours of 4 s segments): each becomes a signed URL
/// of a few hundred bytes on every request.
pub const MAX_REFERENCES: usize = 20_000;

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
    pub renditions: Vec<Rendition>,
    pub kind: Kind,
}

/// Why a playlist cannot be served, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct PlaylistError {
    pub line: usize,
    pub why: String,
}

/// Longest reason an error gives: whatever a playlist holds, a 502 and its log line stay small.
const MAX_WHY_CHARS: usize = 200;

fn at(line: usize, why: impl Into<String>) -> PlaylistError {
    let mut why: String = why.into();
    if why.chars().count() > MAX_WHY_CHARS {
        why = why.chars().take(MAX_WHY_CHARS).collect();
        why.push('…');
    }
    PlaylistError { line, why }
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

/// One attribute of an attribute list: its name, its value's range in the list (quotes
/// excluded) and whether the value was quoted.
type Attribute<'a> = (&'a str, Range<usize>, bool);

/// The attributes of a list (`A=1,B="x,y",URI="…"`), or why it is refused: a name twice (players
/// differ on which one counts) or an unterminated quote.
fn attributes(list: &str) -> Result<Vec<Attribute<'_>>, String> {
    let bytes = list.as_bytes();
    let mut found: Vec<Attribute<'_>> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b',' {
            i += 1;
        }
        let name = list[name_start..i].trim();
        if i >= bytes.len() || bytes[i] == b',' {
            i += 1;
            continue;
        }
        i += 1; // '='
        let (value, quoted) = if bytes.get(i) == Some(&b'"') {
            let start = i + 1;
            let end = start
                + list[start..]
                    .find('"')
                    .ok_or_else(|| format!("attribute {} has no closing quote", shown(name)))?;
            i = end + 1;
            (start..end, true)
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            (start..i, false)
        };
        if found.iter().any(|(n, _, _)| *n == name) {
            return Err(format!("attribute {} twice", shown(name)));
        }
        found.push((name, value, quoted));
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        i += 1;
    }
    Ok(found)
}

/// The value of attribute `name`, when present.
fn value<'a>(list: &'a str, found: &[Attribute<'_>], name: &str) -> Option<&'a str> {
    found
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, range, _)| &list[range.clone()])
}

/// The height of `RESOLUTION=WxH`, when the attribute is there and well formed.
/// An unreadable `RESOLUTION` counts as too tall for any cap; a missing one (an audio-only
/// variant) as no height.
fn height(list: &str, found: &[Attribute<'_>]) -> Option<u32> {
    let resolution = value(list, found, "RESOLUTION")?;
    let readable = resolution
        .split_once(['x', 'X'])
        .and_then(|(_, h)| h.trim().parse().ok());
    Some(readable.unwrap_or(u32::MAX))
}

/// Whether `text` is an EXTINF duration as every player reads it: digits with an optional
/// fraction (Rust would also take `+4` or `1e1`, which a player reads as a URI).
fn is_duration(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    (!whole.is_empty() || !fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Whether an attribute names something a player fetches: `URI`, `SERVER-URI`,
/// `X-ASSET-URI`, `X-ASSET-LIST`, …
fn names_a_uri(name: &str) -> bool {
    name == "URI" || name.ends_with("-URI") || name.ends_with("-LIST")
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
            renditions: Vec::new(),
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
        let (pieces, references, variants, renditions) = (
            parser.pieces,
            parser.references,
            parser.variants,
            parser.renditions,
        );
        Ok(Self {
            source,
            pieces,
            references,
            variants,
            renditions,
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
        let dropped = self.dropped_pieces(keep);
        let mut out = String::with_capacity(self.source.len() * 2);
        for (i, piece) in self.pieces.iter().enumerate() {
            if dropped[i] {
                continue;
            }
            match piece {
                Piece::Text(range) => out.push_str(&self.source[range.clone()]),
                Piece::Uri(reference) => out.push_str(&replace(*reference)?),
            }
        }
        // A last line without its line break is read otherwise by some players (hls.js takes
        // the end of an unterminated EXTINF title for a segment URI).
        if !out.ends_with('\n') {
            out.push('\n');
        }
        Ok(out)
    }

    /// The length of the playlist's text.
    pub fn source_len(&self) -> usize {
        self.source.len()
    }

    /// Which pieces are left out for a caller: the variants `keep` refuses, and the video
    /// renditions of groups no kept variant uses.
    fn dropped_pieces(&self, keep: impl Fn(&Variant) -> bool) -> Vec<bool> {
        let mut dropped = vec![false; self.pieces.len()];
        let mut kept_groups: Vec<&str> = Vec::new();
        let mut dropped_groups: Vec<&str> = Vec::new();
        for variant in &self.variants {
            if keep(variant) {
                kept_groups.extend(variant.video_group.as_deref());
            } else {
                dropped_groups.extend(variant.video_group.as_deref());
                dropped[variant.pieces.clone()].fill(true);
            }
        }
        // A video rendition may stand for any variant of its group: it goes with the tallest.
        for rendition in &self.renditions {
            if rendition.video_group.as_deref().is_some_and(|group| {
                dropped_groups.contains(&group) || !kept_groups.contains(&group)
            }) {
                dropped[rendition.pieces.clone()].fill(true);
            }
        }
        dropped
    }

    /// The paths of the playlists this one hands a caller, once `keep` has left out what the
    /// caller may not have: the only nested playlists that caller may fetch.
    /// A path also listed where it is left out is refused: leaving out wins.
    pub fn playlists_kept(&self, keep: impl Fn(&Variant) -> bool) -> Vec<&str> {
        let dropped = self.dropped_pieces(keep);
        let playlist = |piece: &Piece| match piece {
            Piece::Uri(i) if self.references[*i].target == Target::Playlist => {
                Some(self.references[*i].path.as_str())
            }
            _ => None,
        };
        let refused: Vec<&str> = self
            .pieces
            .iter()
            .zip(&dropped)
            .filter(|(_, dropped)| **dropped)
            .filter_map(|(piece, _)| playlist(piece))
            .collect();
        self.pieces
            .iter()
            .zip(&dropped)
            .filter(|(_, dropped)| !**dropped)
            .filter_map(|(piece, _)| playlist(piece))
            .filter(|path| !refused.contains(path))
            .collect()
    }
}

struct Parser<'a> {
    source: &'a str,
    dir: &'a str,
    store_prefix: &'a str,
    pieces: Vec<Piece>,
    references: Vec<Reference>,
    variants: Vec<Variant>,
    renditions: Vec<Rendition>,
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
    /// `Some` for an `EXT-X-MEDIA` rendition: its video group when `TYPE=VIDEO`.
    rendition: Option<Option<String>>,
}

/// An `EXT-X-STREAM-INF` waiting for its URI line.
struct Pending {
    first_piece: usize,
    line: usize,
    height: Option<u32>,
    video_group: Option<String>,
}
type PendingVariant = Option<Pending>;

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
            // Players split lines there too: what they read as two lines would be one here.
            if line.contains(['\r', '\u{2028}', '\u{2029}', '\u{85}']) {
                return Err(at(
                    number,
                    "a line break inside a line (CR, NEL or U+2028/9)",
                ));
            }
            if line.starts_with("#EXT") {
                if let Some(waiting) = &pending {
                    return Err(at(
                        waiting.line,
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
                        let pieces = first_piece..self.pieces.len();
                        if let Some(height) = found.i_frame_variant {
                            self.variants.push(Variant {
                                height,
                                reference,
                                video_group: None,
                                pieces,
                            });
                        } else if let Some(video_group) = found.rendition {
                            self.renditions.push(Rendition {
                                reference,
                                video_group,
                                pieces,
                            });
                        }
                    }
                    None => self.push_text(start..end),
                }
            } else if line.starts_with('#') || line.trim().is_empty() {
                // Comments and blank lines are kept as they are.
                self.push_text(start..end);
            } else if let Some(waiting) = pending.take() {
                let reference = self.reference(line.trim(), Target::Playlist, number)?;
                self.push_text(content_end..end);
                self.variants.push(Variant {
                    height: waiting.height,
                    reference,
                    video_group: waiting.video_group,
                    pieces: waiting.first_piece..self.pieces.len(),
                });
            } else {
                self.segments += 1;
                self.reference(line.trim(), Target::Object, number)?;
                self.push_text(content_end..end);
            }
            start = end;
        }
        if let Some(waiting) = pending {
            return Err(at(
                waiting.line,
                "EXT-X-STREAM-INF without a URI line after it",
            ));
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
            return Err(at(
                line,
                format!("{:?} is not a playlist (.m3u8)", shown(uri)),
            ));
        }
        if self.references.len() >= MAX_REFERENCES {
            return Err(at(line, format!("more than {MAX_REFERENCES} URIs")));
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
        let (name, list) = tag.split_once(':').unwrap_or((tag, ""));
        // Tags without attributes (EXTINF's duration and title, EXT-X-BYTERANGE, …) are not
        // attribute lists.
        let found = if matches!(name, "EXTINF" | "EXT-X-BYTERANGE" | "EXT-X-TARGETDURATION")
            || !list.contains('=')
        {
            Vec::new()
        } else {
            attributes(list).map_err(|why| at(line, format!("{}: {why}", shown(name))))?
        };
        let target = if PLAYLIST_URI_TAGS.contains(&name) {
            Some(Target::Playlist)
        } else if OBJECT_URI_TAGS.contains(&name) {
            Some(Target::Object)
        } else {
            None
        };
        // A URI tollgate would not rewrite would reach players as it is: another host.
        for (attribute, _, _) in &found {
            if names_a_uri(attribute) && (target.is_none() || *attribute != "URI") {
                return Err(at(
                    line,
                    format!(
                        "{} names a URI in {}, which tollgate does not rewrite",
                        shown(name),
                        shown(attribute)
                    ),
                ));
            }
        }
        match name {
            "EXT-X-STREAM-INF" => {
                self.master = true;
                *pending = Some(Pending {
                    first_piece: self.pieces.len(),
                    line,
                    height: height(list, &found),
                    video_group: value(list, &found, "VIDEO").map(str::to_owned),
                });
                return Ok(None);
            }
            "EXT-X-MEDIA" | "EXT-X-I-FRAME-STREAM-INF" => self.master = true,
            "EXT-X-ENDLIST" => self.ended = true,
            // Variables a player substitutes from the playlist's own URL (the grant) or from
            // the master into requests: refused, the grant stays with tollgate's URLs.
            "EXT-X-DEFINE"
                if value(list, &found, "QUERYPARAM").is_some()
                    || value(list, &found, "IMPORT").is_some() =>
            {
                return Err(at(line, "EXT-X-DEFINE with QUERYPARAM or IMPORT"));
            }
            "EXTINF" => {
                let duration = list.split(',').next().unwrap_or_default().trim();
                let secs: f64 = Some(duration)
                    .filter(|d| is_duration(d))
                    .and_then(|d| d.parse().ok())
                    .filter(|d: &f64| d.is_finite())
                    .ok_or_else(|| at(line, format!("EXTINF duration {:?}", shown(duration))))?;
                self.duration_secs += secs;
            }
            _ => {}
        }
        let Some(target) = target else {
            return Ok(None);
        };
        let Some((_, range, quoted)) = found.iter().find(|(n, _, _)| *n == "URI") else {
            // A rendition carried in its variant, a key with METHOD=NONE, …
            return Ok(None);
        };
        if !quoted {
            return Err(at(line, "URI must be a quoted string"));
        }
        let offset = name.len() + 1;
        let rendition = (name == "EXT-X-MEDIA").then(|| {
            (value(list, &found, "TYPE") == Some("VIDEO")).then(|| {
                value(list, &found, "GROUP-ID")
                    .unwrap_or_default()
                    .to_owned()
            })
        });
        Ok(Some(TagUri {
            value: offset + range.start..offset + range.end,
            target,
            i_frame_variant: (name == "EXT-X-I-FRAME-STREAM-INF").then(|| height(list, &found)),
            rendition,
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
            ("#EXTM3U\n#EXTINF:+4,\ns.ts\n", 2),
            ("#EXTM3U\n#EXTINF:1e1,\ns.ts\n", 2),
            ("#EXTM3U\n#EXTINF:.,\ns.ts\n", 2),
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
            // What a player reads and tollgate would not rewrite: refused.
            (
                "#EXTM3U\n#EXT-X-MAP:URI=\"a.mp4\",URI=\"https://evil.example/a\"\n",
                2,
            ),
            ("#EXTM3U\n#EXTINF:1,\ns.ts\rhttps://evil.example/x.ts\n", 3),
            (
                "#EXTM3U\n#EXTINF:1,\u{2028}https://evil.example/x.ts\ns.ts\n",
                2,
            ),
            (
                "#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"https://evil.example/s\"\n",
                2,
            ),
            (
                "#EXTM3U\n#EXT-X-DATERANGE:ID=\"ad\",X-ASSET-URI=\"https://evil.example/ad\"\n",
                2,
            ),
            (
                "#EXTM3U\n#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=1,URI=\"https://evil.example/i\"\n",
                2,
            ),
            ("#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"grant\"\n", 2),
        ] {
            let error = Playlist::parse(text.to_owned(), "", STORE).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
        }
    }

    #[test]
    fn a_video_rendition_goes_with_the_variants_of_its_group() {
        let master = "#EXTM3U\n\
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"hd\",NAME=\"angle\",URI=\"1080p/angle.m3u8\"\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"audio.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360,AUDIO=\"aud\"\n360p.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=2,RESOLUTION=1920x1080,VIDEO=\"hd\",AUDIO=\"aud\"\n1080p.m3u8\n";
        let playlist = Playlist::parse(master.to_owned(), "", STORE).unwrap();
        let small = |v: &Variant| v.height.is_none_or(|h| h <= 720);
        assert_eq!(playlist.playlists_kept(small), ["audio.m3u8", "360p.m3u8"]);
        assert_eq!(
            playlist.playlists_kept(|_| true),
            ["1080p/angle.m3u8", "audio.m3u8", "360p.m3u8", "1080p.m3u8"]
        );
        let out = rewrite(&playlist, small);
        assert!(!out.contains("angle") && !out.contains("1080"), "{out}");
    }

    #[test]
    fn a_byte_order_mark_is_kept_and_a_missing_final_newline_added() {
        let text = "\u{feff}#EXTM3U\n#EXTINF:1,\ns.ts";
        let playlist = Playlist::parse(text.to_owned(), "", STORE).unwrap();
        assert_eq!(
            rewrite(&playlist, |_| true),
            "\u{feff}#EXTM3U\n#EXTINF:1,\nO(s.ts)\n"
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
