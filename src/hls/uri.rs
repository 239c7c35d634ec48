//! A playlist's URIs, resolved to a path inside the video's folder, or refused: nothing a
//! playlist names may lead tollgate to sign a URL for an object outside the video it decided on.

/// Why a URI is refused. Each names the URI shortened ([`shown`]): no query (a signature,
/// maybe), at most 80 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("an empty URI")]
    Empty,
    #[error("{0:?} has a query or a fragment")]
    QueryOrFragment(String),
    #[error("{0:?} names another host or scheme than the store's")]
    OtherHost(String),
    #[error("{0:?} is not relative to the playlist")]
    RootRelative(String),
    #[error("{0:?} leaves the video's folder")]
    Escapes(String),
    #[error(
        "{0:?} is not a valid path (empty segment, backslash, control character or bad escape)"
    )]
    Invalid(String),
}

/// A URI as an error names it: without its query or fragment, at most 80 characters.
pub(super) fn shown(uri: &str) -> String {
    let bare = uri.split(['?', '#']).next().unwrap_or_default();
    let mut cut: String = bare.chars().take(80).collect();
    if cut.len() < bare.len() || bare.len() < uri.len() {
        cut.push('…');
    }
    cut
}

/// Whether `uri` starts with a scheme (`name:`), as RFC 3986 spells one.
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Resolves `uri`, found in the playlist whose folder is `dir` (inside the video's folder: `""`
/// or ending in `/`), to a path inside the video's folder. `store_prefix` is the absolute URL of
/// the video's folder on the store: the one absolute form accepted.
pub fn resolve(dir: &str, uri: &str, store_prefix: &str) -> Result<String, UriError> {
    if uri.is_empty() {
        return Err(UriError::Empty);
    }
    if uri.contains(['?', '#']) {
        return Err(UriError::QueryOrFragment(shown(uri)));
    }
    let relative = if let Some(rest) = uri
        .strip_prefix(store_prefix)
        .filter(|_| !store_prefix.is_empty())
    {
        rest.to_owned()
    } else if has_scheme(uri) || uri.starts_with("//") {
        return Err(UriError::OtherHost(shown(uri)));
    } else if uri.starts_with('/') {
        return Err(UriError::RootRelative(shown(uri)));
    } else {
        format!("{dir}{uri}")
    };
    let decoded = percent_encoding::percent_decode_str(&relative)
        .decode_utf8()
        .map_err(|_| UriError::Invalid(shown(uri)))?;
    normalise(&decoded, uri)
}

/// A path already decoded (a request's, which the router decoded once) normalised inside the
/// video's folder: no `.` or `..` leaving it, no empty segment, backslash or control character.
pub fn normalise_path(path: &str) -> Result<String, UriError> {
    normalise(path, path)
}

fn normalise(decoded: &str, uri: &str) -> Result<String, UriError> {
    if decoded.contains('\\') || decoded.chars().any(char::is_control) {
        return Err(UriError::Invalid(shown(uri)));
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(UriError::Escapes(shown(uri)));
                }
            }
            "" => return Err(UriError::Invalid(shown(uri))),
            _ => segments.push(segment),
        }
    }
    if segments.is_empty() {
        return Err(UriError::Invalid(shown(uri)));
    }
    Ok(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &str = "http://127.0.0.1:9000/videos/videos/v1/";

    #[test]
    fn relative_uris_resolve_against_the_playlists_folder() {
        for (dir, uri, path) in [
            ("", "master.m3u8", "master.m3u8"),
            ("720p/", "seg-001.m4s", "720p/seg-001.m4s"),
            ("720p/", "../init.mp4", "init.mp4"),
            ("720p/", "./a/../b.ts", "720p/b.ts"),
            ("a/b/", "../../c.ts", "c.ts"),
            ("", "with%20space.ts", "with space.ts"),
            ("", "caf%C3%A9.ts", "café.ts"),
            (
                "",
                "http://127.0.0.1:9000/videos/videos/v1/720p/x.ts",
                "720p/x.ts",
            ),
        ] {
            assert_eq!(
                resolve(dir, uri, STORE).as_deref(),
                Ok(path),
                "{dir} + {uri}"
            );
        }
    }

    #[test]
    fn errors_name_no_query_and_no_long_uri() {
        let signed = "https://evil.example/x.ts?X-Amz-Signature=0123456789abcdef";
        let message = resolve("", signed, STORE).unwrap_err().to_string();
        assert!(!message.contains("Signature"), "{message}");
        let long = format!("../{}", "a".repeat(10_000));
        let message = resolve("", &long, STORE).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn a_request_path_is_not_decoded_again() {
        assert_eq!(normalise_path("x%41.m3u8").as_deref(), Ok("x%41.m3u8"));
        assert_eq!(normalise_path("a/./b.m3u8").as_deref(), Ok("a/b.m3u8"));
        assert!(normalise_path("../b.m3u8").is_err());
        assert!(normalise_path("a//b.m3u8").is_err());
    }

    #[test]
    fn every_way_out_of_the_videos_folder_is_refused() {
        for (dir, uri) in [
            ("", "../other/seg.ts"),
            ("720p/", "../../v2/seg.ts"),
            ("", "%2e%2e/v2/seg.ts"),
            ("", "/videos/v2/seg.ts"),
            ("", "//evil.example/seg.ts"),
            ("", "https://evil.example/seg.ts"),
            ("", "http://127.0.0.1:9000/videos/videos/v2/seg.ts"),
            ("", "http://127.0.0.1:9000/videos/videos/v1/../v2/seg.ts"),
            ("", "skd://key-id"),
            ("", "data:text/plain,x"),
            ("", "seg.ts?token=1"),
            ("", "seg.ts#t=1"),
            ("", "a//b.ts"),
            ("", "a\\..\\..\\b.ts"),
            ("", "a%5c..%5cb.ts"),
            ("", "bad%ff.ts"),
            ("", "nul%00.ts"),
            ("", "line%0abreak.ts"),
            ("", ""),
            ("", "."),
            ("", "dir/"),
        ] {
            assert!(resolve(dir, uri, STORE).is_err(), "{dir} + {uri}");
        }
    }
}
