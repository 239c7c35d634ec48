//! HLS, second hostile review: the fixes of F1…F11 (`hls_hostile.rs`) and the shared gzip path,
//! attacked as a hostile client and a hostile uploader.
//!
//! Each finding is fixed and tested here: G1 a final `#EXTINF` line without a newline, from whose
//! title hls.js (the demo's player, 1.7.4) read a URI (the written playlist now always ends with
//! a line break, and durations are digits only); G2 `bad_playlist` echoed unbounded text (every
//! reason is now cut to 200 characters, queries dropped); G3 the rendition cap let "kept" win
//! over "dropped" and took an unreadable `RESOLUTION` for any height (now leaving out wins, and
//! an unreadable one is too tall); G4 `Accept-Encoding: gzip;Q=0` got gzip (the weight is now
//! parsed). The last tests are what held.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{grant_of, hls_objects, spawn_app, spawn_app_with};

fn media(segments: &[&str]) -> String {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n");
    for segment in segments {
        text.push_str(&format!("#EXTINF:4.000,\n{segment}\n"));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

/// The segment URIs hls.js 1.7.4 reads from a media playlist: its `LEVEL_PLAYLIST_REGEX_FAST`
/// (copied from `web/demo/dist/demo.js`: `#EXTINF:\s*(\d+(?:\.\d*)?|\.\d+)?(?:,(.*)\s+)?`,
/// `(?!#) *(\S[^\r\n]*)`, `#.*`, tried in that order at each position, JS `.` excluding
/// `\n \r U+2028 U+2029`), written out by hand.
fn hls_js_segment_uris(text: &str) -> Vec<String> {
    let is_space = |c: char| c.is_whitespace() || c == '\u{feff}';
    let is_dot = |c: char| !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
    let chars: Vec<char> = text.chars().collect();
    let mut uris = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..].iter().collect();
        if rest.starts_with("#EXTINF:") {
            let mut j = i + 8;
            while j < chars.len() && is_space(chars[j]) {
                j += 1;
            }
            // Duration: \d+(\.\d*)? | \.\d+ (optional).
            let start = j;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let fraction_follows = j < chars.len()
                && chars[j] == '.'
                && (j > start || chars.get(j + 1).is_some_and(char::is_ascii_digit));
            if fraction_follows {
                j += 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
            }
            // (?:,(.*)\s+)? : the longest `.*` that still leaves at least one \s after it.
            if j < chars.len() && chars[j] == ',' {
                let title_start = j + 1;
                let mut dot_end = title_start;
                while dot_end < chars.len() && is_dot(chars[dot_end]) {
                    dot_end += 1;
                }
                let mut k = dot_end;
                let matched = loop {
                    if k < chars.len() && is_space(chars[k]) {
                        break Some(k);
                    }
                    if k == title_start {
                        break None;
                    }
                    k -= 1;
                };
                if let Some(k) = matched {
                    let mut end = k;
                    while end < chars.len() && is_space(chars[end]) {
                        end += 1;
                    }
                    j = end;
                }
            }
            i = j.max(i + 1);
            continue;
        }
        if chars[i] != '#' {
            // (?!#) *(\S[^\r\n]*)
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j < chars.len() && !is_space(chars[j]) {
                let start = j;
                while j < chars.len() && !matches!(chars[j], '\r' | '\n') {
                    j += 1;
                }
                uris.push(chars[start..j].iter().collect());
                i = j;
                continue;
            }
            i += 1;
            continue;
        }
        // #.*
        let mut j = i;
        while j < chars.len() && is_dot(chars[j]) {
            j += 1;
        }
        i = j.max(i + 1);
    }
    uris
}

// ---------------------------------------------------------------------------------------------
// G1. What a player reads that the parser does not (F8 again).

/// G1. The last line of a playlist is an `#EXTINF` with no newline after it. tollgate reads a
/// duration and a title and keeps the line byte for byte; hls.js's segment regex,
/// `#EXTINF:…(?:,(.*)\s+)?`, finds no line break to end the title, backtracks to the last
/// whitespace inside it, and reads what follows as a segment URI line: the player fetches
/// `https://evil.example/s.ts`. The playlist is VOD (EXT-X-ENDLIST earlier), so with a window
/// it is shared (and gzipped) for every viewer.
#[tokio::test]
async fn a_final_extinf_line_without_a_newline_hides_no_segment_uri() {
    let app = spawn_app_with(|s| s.presign.time_window_secs = 60).await;
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-ENDLIST\n#EXTINF:4,\ns.ts\n\
                #EXTINF:4,ad https://evil.example/s.ts";
    app.put_hls("eof", "free", &hls_objects(&[("index.m3u8", text)]))
        .await;
    let (status, body) = app
        .get_text(&app.hls_entry("eof", &app.token("fred", &[], &[])).await)
        .await;
    let foreign: Vec<String> = hls_js_segment_uris(&body)
        .into_iter()
        .filter(|u| !u.starts_with(&app.store_endpoint))
        .collect();
    assert!(
        status != StatusCode::OK || foreign.is_empty(),
        "served {status}; hls.js reads segments tollgate never rewrote: {foreign:?}\n{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// G2. bad_playlist messages (F7 again).

/// G2. F7 bounded the URIs a `bad_playlist` names (80 characters, no query), not the rest of
/// what a parse error echoes: an EXTINF duration, a tag name, an attribute name. A 256 KiB one
/// comes back whole in every 502 (and in an `error` log line per request); a signed URL in such
/// a place comes back with its signature.
#[tokio::test]
async fn a_bad_playlist_message_is_bounded_whatever_the_line() {
    let app = spawn_app().await;
    let long = "A".repeat(256 * 1024);
    let signed =
        "http://127.0.0.1:9000/videos/k.ts?X-Amz-Credential=GK1&X-Amz-Signature=0123456789abcdef";
    let cases = [
        ("duration", format!("#EXTM3U\n#EXTINF:{long},\ns.ts\n")),
        ("tagname", format!("#EXTM3U\n#EXT-X-{long}:X=\"open\n")),
        ("attrname", format!("#EXTM3U\n#EXT-X-MAP:{long}=\"open\n")),
        ("twice", format!("#EXTM3U\n#EXT-X-FOO:{long}=1,{long}=2\n")),
        ("sigdur", format!("#EXTM3U\n#EXTINF:{signed}\ns.ts\n")),
    ];
    let token = app.token("fred", &[], &[]);
    let mut leaks = Vec::new();
    for (id, text) in &cases {
        app.put_hls(id, "free", &hls_objects(&[("index.m3u8", text)]))
            .await;
        let (status, body) = app.get_text(&app.hls_entry(id, &token).await).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{id}: {body:.200}");
        let message = serde_json::from_str::<Value>(&body).unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        if message.len() > 1024 || message.contains("X-Amz-Signature=0123") {
            leaks.push(format!("{id}: {} bytes: {message:.160}", message.len()));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

// ---------------------------------------------------------------------------------------------
// G3. The rendition cap.

/// G3. `playlists_kept` lists a path when any piece naming it is kept: a path that the master
/// also names somewhere kept (an audio rendition, a variant whose `RESOLUTION` does not parse,
/// a `VIDEO` group a kept variant shares) is served to a capped grant, although a variant of
/// it is left out as too tall. And an unreadable `RESOLUTION` (`1920x4294967296`, `1920*1080`)
/// is read as "any height": the cap fails open.
#[tokio::test]
async fn a_tall_playlist_is_not_reachable_by_a_capped_grant_through_another_listing() {
    let app = spawn_app().await;
    let segment = media(&["seg-0.m4s"]);
    let tall_variant =
        "#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080\n1080p/index.m3u8\n";
    let small = "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "audio-alias",
            format!(
                "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"1080p/index.m3u8\"\n{small}{tall_variant}"
            ),
            "1080p/index.m3u8",
        ),
        (
            "listed-twice",
            format!(
                "#EXTM3U\n{small}{tall_variant}#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x4294967296\n1080p/index.m3u8\n"
            ),
            "1080p/index.m3u8",
        ),
        (
            "bad-resolution",
            format!(
                "#EXTM3U\n{small}#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920*1080\n1080p/index.m3u8\n"
            ),
            "1080p/index.m3u8",
        ),
        (
            "shared-group",
            "#EXTM3U\n\
             #EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"cam\",NAME=\"angle 2\",URI=\"1080p/angle2.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,VIDEO=\"cam\"\n360p/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,VIDEO=\"cam\"\n1080p/index.m3u8\n"
                .to_owned(),
            "1080p/angle2.m3u8",
        ),
    ];
    let token = app.token("fred", &[], &[]);
    let mut served = Vec::new();
    for (id, master, tall) in &cases {
        app.put_hls(
            id,
            "free",
            &hls_objects(&[
                ("master.m3u8", master),
                ("360p/index.m3u8", &segment),
                ("1080p/index.m3u8", &segment),
                ("1080p/angle2.m3u8", &segment),
            ]),
        )
        .await;
        let grant = grant_of(&app.hls_entry(id, &token).await);
        let (status, _) = app
            .get_text(&app.url(&format!("/videos/{id}/hls/{tall}?grant={grant}")))
            .await;
        if status == StatusCode::OK {
            served.push(format!("{id}: {tall} → 200 to a 720 grant"));
        }
    }
    assert!(served.is_empty(), "{served:#?}");
}

// ---------------------------------------------------------------------------------------------
// G4. Content coding.

/// G4. RFC 9110 §12.4.2: `weight = OWS ";" OWS "q=" qvalue`, and ABNF literals are
/// case-insensitive: `gzip;Q=0` refuses gzip as `gzip;q=0` does. tollgate matches `q=0`, `q=0.0`,
/// `q=0.00`, `q=0.000` only, so `Q=0` (and `Q=0.0`) gets gzip.
#[tokio::test]
async fn gzip_refused_with_an_upper_case_q_is_not_sent() {
    let app = spawn_app_with(|s| s.presign.time_window_secs = 60).await;
    app.put_hls(
        "film",
        "free",
        &hls_objects(&[("index.m3u8", &media(&["s0.m4s", "s1.m4s", "s2.m4s"]))]),
    )
    .await;
    let url = app.hls_entry("film", &app.token("fred", &[], &[])).await;
    let mut wrong = Vec::new();
    for coding in ["gzip;Q=0", "gzip; Q=0.0", "gzip;q=0, identity"] {
        let response = app
            .http
            .get(&url)
            .header("accept-encoding", coding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        if response.headers().get("content-encoding").is_some() {
            wrong.push(coding);
        }
    }
    assert!(
        wrong.is_empty(),
        "gzip sent to clients that refused it: {wrong:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// What held.

/// Held: the shared (gzipped) answer carries `Vary: accept-encoding` also through the CORS
/// layer (which adds `origin`); codings by case, `*`, `x-gzip`, tiny weights and repeated
/// headers are answered sensibly; the shared answer names no grant and is the same for a
/// premium and a free caller, and the rendition rule is still checked before the cache.
#[tokio::test]
async fn the_shared_gzip_answer_holds_vary_and_codings() {
    let app = spawn_app_with(|s| {
        s.presign.time_window_secs = 60;
        s.cors.allowed_origins = vec!["https://app.example.com".to_owned()];
    })
    .await;
    let master = "#EXTM3U\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\n360p/index.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=2,RESOLUTION=1920x1080\n1080p/index.m3u8\n";
    let segment = media(&["s0.m4s", "s1.m4s"]);
    app.put_hls(
        "film",
        "free",
        &hls_objects(&[
            ("master.m3u8", master),
            ("360p/index.m3u8", &segment),
            ("1080p/index.m3u8", &segment),
        ]),
    )
    .await;
    let paula = app
        .hls_entry("film", &app.token("paula", &["premium"], &[]))
        .await;
    let fred = app.hls_entry("film", &app.token("fred", &[], &[])).await;
    // paula warms the cache for 1080p; fred's free grant still gets 403.
    let tall = |grant: &str| app.url(&format!("/videos/film/hls/1080p/index.m3u8?grant={grant}"));
    let (status, warm) = app.get_text(&tall(&grant_of(&paula))).await;
    assert_eq!(status, StatusCode::OK, "{warm}");
    let (status, _) = app.get_text(&tall(&grant_of(&fred))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let small = app.url(&format!(
        "/videos/film/hls/360p/index.m3u8?grant={}",
        grant_of(&fred)
    ));
    for (codings, gzip) in [
        (vec!["GZIP"], true),
        (vec!["gzip;q=0.001"], true),
        (vec!["x-gzip"], false),
        (vec!["*"], false),
        (vec!["br", "gzip"], true),
        (vec!["gzip;q=0", "gzip;q=0"], false),
    ] {
        let mut request = app
            .http
            .get(&small)
            .header("origin", "https://app.example.com");
        for coding in &codings {
            request = request.header("accept-encoding", *coding);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let vary: Vec<String> = response
            .headers()
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .collect();
        assert!(
            vary.iter().any(|v| v.contains("accept-encoding"))
                && vary.iter().any(|v| v.contains("origin")),
            "{codings:?}: {vary:?}"
        );
        assert_eq!(
            response.headers().get("content-encoding").is_some(),
            gzip,
            "{codings:?}"
        );
        let body = response.bytes().await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("grant="));
    }
}
