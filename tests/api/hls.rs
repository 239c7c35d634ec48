//! HLS: the entry point, playlists rewritten so that every segment is a presigned URL and every
//! nested playlist a tollgate URL carrying the grant, rendition rules by tier, and every way a
//! grant or a playlist can be wrong.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with};

const MASTER: &str = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",DEFAULT=YES,URI=\"audio/index.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,AUDIO=\"aud\"
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,AUDIO=\"aud\"
720p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,RESOLUTION=1280x720,URI=\"720p/iframes.m3u8\"
";

fn media(init: &str, segments: &[&str]) -> String {
    let mut text = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"{init}\"\n"
    );
    for segment in segments {
        text.push_str(&format!("#EXTINF:4.000,\n{segment}\n"));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

/// The fixture's objects (path inside the video's folder → bytes): playlists and media.
fn fixture() -> BTreeMap<String, Vec<u8>> {
    let mut objects = BTreeMap::new();
    objects.insert("master.m3u8".to_owned(), MASTER.as_bytes().to_vec());
    for rendition in ["360p", "720p", "audio"] {
        let text = media("init.mp4", &["seg-0.m4s", "seg-1.m4s"]);
        objects.insert(format!("{rendition}/index.m3u8"), text.into_bytes());
        for file in ["init.mp4", "seg-0.m4s", "seg-1.m4s"] {
            let bytes = format!("{rendition}/{file}: media bytes").into_bytes();
            objects.insert(format!("{rendition}/{file}"), bytes);
        }
    }
    let iframes = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-I-FRAMES-ONLY\n\
#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.000,\n#EXT-X-BYTERANGE:10@0\nseg-0.m4s\n#EXT-X-ENDLIST\n";
    objects.insert("720p/iframes.m3u8".to_owned(), iframes.as_bytes().to_vec());
    objects
}

async fn app_with_hls(tier: &str) -> TestApp {
    let app = spawn_app_with(|s| {
        s.hls.max_height.insert("free".to_owned(), 360);
    })
    .await;
    app.put_hls("film", tier, &fixture()).await;
    app
}

/// Fetches a playlist without any header (as a player does), checking its answer headers.
async fn playlist(app: &TestApp, url: &str) -> String {
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    response.text().await.unwrap()
}

/// Every URI of a playlist: URI lines and `URI="…"` attributes.
fn uris(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        if let Some(start) = line.find("URI=\"") {
            let rest = &line[start + 5..];
            found.push(rest[..rest.find('"').unwrap()].to_owned());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            found.push(line.to_owned());
        }
    }
    found
}

/// Walks the playlists from `url` down, fetching every segment; returns (path → bytes fetched)
/// for the media and the playlist URLs seen.
async fn walk(app: &TestApp, url: &str) -> (BTreeMap<String, Vec<u8>>, Vec<String>) {
    walk_video(app, "film", url).await
}

async fn walk_video(
    app: &TestApp,
    id: &str,
    url: &str,
) -> (BTreeMap<String, Vec<u8>>, Vec<String>) {
    let tollgate = app.url("/videos/");
    let store_prefix = format!(
        "{}/{}/{}",
        app.store_endpoint,
        app.settings.storage.bucket,
        app.key(&format!("{id}/"))
    );
    let mut media = BTreeMap::new();
    let mut playlists = vec![url.to_owned()];
    let mut i = 0;
    while i < playlists.len() {
        let text = playlist(app, &playlists[i].clone()).await;
        for uri in uris(&text) {
            if uri.starts_with(&tollgate) {
                assert!(uri.contains("?grant="), "{uri}");
                if !playlists.contains(&uri) {
                    playlists.push(uri);
                }
            } else {
                assert!(uri.starts_with(&store_prefix), "{uri} is not the store's");
                assert!(uri.contains("X-Amz-Signature="), "{uri} is not signed");
                let path = uri[store_prefix.len()..]
                    .split('?')
                    .next()
                    .unwrap()
                    .to_owned();
                let bytes = app.fetch(&uri).await.bytes().await.unwrap().to_vec();
                media.insert(path, bytes);
            }
        }
        i += 1;
    }
    (media, playlists)
}

#[tokio::test]
async fn every_uri_of_the_rewritten_playlists_fetches_the_stored_bytes() {
    let app = app_with_hls("premium").await;
    let token = app.token("paula", &["premium"], &[]);
    let url = app.hls_entry("film", &token).await;
    assert!(
        url.starts_with(&app.url("/videos/film/hls/master.m3u8?grant=")),
        "{url}"
    );
    let (media, playlists) = walk(&app, &url).await;
    // master, three media playlists and the I-frame playlist.
    assert_eq!(playlists.len(), 5, "{playlists:#?}");
    let expected: BTreeMap<String, Vec<u8>> = fixture()
        .into_iter()
        .filter(|(path, _)| !path.ends_with(".m3u8"))
        .collect();
    assert_eq!(media, expected);
}

#[tokio::test]
async fn everything_but_the_uris_is_kept_byte_for_byte() {
    let app = app_with_hls("premium").await;
    let token = app.token("paula", &["premium"], &[]);
    let url = app.hls_entry("film", &token).await;
    let master = playlist(&app, &url).await;
    let strip = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| match line.find("URI=\"") {
                Some(start) => {
                    let rest = &line[start + 5..];
                    format!("{}{}", &line[..start], &rest[rest.find('"').unwrap() + 1..])
                }
                None if line.starts_with('#') => line.to_owned(),
                None => "URI".to_owned(),
            })
            .collect()
    };
    assert_eq!(strip(&master), strip(MASTER));
}

#[tokio::test]
async fn segment_urls_of_a_vod_playlist_outlive_its_playback() {
    let app = app_with_hls("premium").await;
    let token = app.token("paula", &["premium"], &[]);
    let url = app.hls_entry("film", &token).await;
    let master = playlist(&app, &url).await;
    let variant = uris(&master)
        .into_iter()
        .find(|u| u.contains("/360p/index.m3u8"))
        .unwrap();
    let text = playlist(&app, &variant).await;
    // Two 4 s segments plus hls.expiry_margin_secs.
    let lifetime = 8 + app.settings.hls.expiry_margin_secs;
    for uri in uris(&text) {
        assert!(uri.contains(&format!("X-Amz-Expires={lifetime}&")), "{uri}");
    }
}

#[tokio::test]
async fn a_free_caller_never_gets_a_rendition_taller_than_the_tier_allows() {
    let app = app_with_hls("free").await;
    let free = app.token("fred", &[], &[]);
    let url = app.hls_entry("film", &free).await;
    let master = playlist(&app, &url).await;
    assert!(!master.contains("720"), "{master}");
    assert!(master.contains("/360p/index.m3u8?grant="), "{master}");
    // The 720p playlist with fred's own grant: refused.
    let grant = url.split("grant=").nth(1).unwrap();
    for path in ["720p/index.m3u8", "720p/iframes.m3u8"] {
        let response = app
            .http
            .get(app.url(&format!("/videos/film/hls/{path}?grant={grant}")))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_error(status, &body, StatusCode::FORBIDDEN, "not_entitled");
    }
    // A premium caller gets both.
    let premium = app.token("paula", &["premium"], &[]);
    let master = playlist(&app, &app.hls_entry("film", &premium).await).await;
    assert!(master.contains("/720p/index.m3u8?grant="), "{master}");
}

#[tokio::test]
async fn grants_that_are_tampered_expired_or_for_another_video_are_refused() {
    let app = app_with_hls("premium").await;
    app.put_hls("other", "premium", &fixture()).await;
    let token = app.token("paula", &["premium"], &[]);
    let url = app.hls_entry("film", &token).await;
    let grant = url.split("grant=").nth(1).unwrap().to_owned();
    let other_grant = app
        .hls_entry("other", &token)
        .await
        .split("grant=")
        .nth(1)
        .unwrap()
        .to_owned();
    // Signed as if two days ago: expired.
    app.clock.set_offset_secs(-2 * 86_400);
    let old = app.hls_entry("film", &token).await;
    app.clock.set_offset_secs(0);
    let old_grant = old.split("grant=").nth(1).unwrap().to_owned();
    let mut tampered = grant.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (grant, status, code) in [
        (tampered.as_str(), StatusCode::UNAUTHORIZED, "invalid_grant"),
        ("not-a-grant", StatusCode::UNAUTHORIZED, "invalid_grant"),
        ("", StatusCode::UNAUTHORIZED, "invalid_grant"),
        (
            old_grant.as_str(),
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        ),
        (
            other_grant.as_str(),
            StatusCode::FORBIDDEN,
            "grant_mismatch",
        ),
    ] {
        let path = format!("/videos/film/hls/master.m3u8?grant={grant}");
        let response = app.http.get(app.url(&path)).send().await.unwrap();
        let got = response.status();
        let body: Value = response.json().await.unwrap();
        assert_error(got, &body, status, code);
    }
}

#[tokio::test]
async fn a_bearer_token_opens_playlists_too_and_no_credentials_none() {
    let app = app_with_hls("premium").await;
    let token = app.token("paula", &["premium"], &[]);
    let response = app.get("/videos/film/hls/master.m3u8", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let master = response.text().await.unwrap();
    assert!(master.contains("/360p/index.m3u8?grant="), "{master}");
    let response = app.get("/videos/film/hls/master.m3u8", None).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "missing_token");
    // Not entitled: the same rule as GET /videos/{id}/url.
    let nobody = app.token("nina", &[], &[]);
    let response = app.get("/videos/film/hls/master.m3u8", Some(&nobody)).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::FORBIDDEN, "not_entitled");
    let (status, body) = app.video_url("film", &nobody).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "not_entitled");
}

#[tokio::test]
async fn only_playlists_inside_the_video_are_served() {
    let app = app_with_hls("premium").await;
    let token = app.token("paula", &["premium"], &[]);
    for path in [
        "360p/seg-0.m4s",
        "../other/master.m3u8",
        "%2e%2e/other/master.m3u8",
        "360p//index.m3u8",
        "missing.m3u8",
    ] {
        let response = app
            .get(&format!("/videos/film/hls/{path}"), Some(&token))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (status, body) = app
        .call(
            reqwest::Method::GET,
            "/videos/film/url?download=true",
            &token,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_playlist_that_leaves_the_video_is_a_502_naming_the_line_and_signs_nothing() {
    let app = spawn_app().await;
    let mut objects = BTreeMap::new();
    objects.insert(
        "index.m3u8".to_owned(),
        b"#EXTM3U\n#EXTINF:4,\nok.ts\n#EXTINF:4,\n../secret/seg.ts\n#EXT-X-ENDLIST\n".to_vec(),
    );
    app.put_hls("bad", "free", &objects).await;
    let token = app.token("fred", &[], &[]);
    let url = app.hls_entry("bad", &token).await;
    assert!(url.contains("/videos/bad/hls/index.m3u8?grant="), "{url}");
    let response = app.http.get(&url).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::BAD_GATEWAY, "bad_playlist");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 5"), "{message}");
    assert!(!message.contains("X-Amz"), "{message}");
}

#[tokio::test]
async fn a_playlist_over_the_size_limit_is_a_502() {
    let app = spawn_app_with(|s| s.hls.max_playlist_bytes = 1024).await;
    let mut text = String::from("#EXTM3U\n");
    while text.len() <= 1024 {
        text.push_str("#EXTINF:4,\nseg.ts\n");
    }
    let objects = BTreeMap::from([("index.m3u8".to_owned(), text.into_bytes())]);
    app.put_hls("long", "free", &objects).await;
    let url = app.hls_entry("long", &app.token("fred", &[], &[])).await;
    let response = app.http.get(&url).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::BAD_GATEWAY, "bad_playlist");
}

#[tokio::test]
async fn within_one_time_window_rewritten_playlists_are_byte_identical() {
    let app = spawn_app_with(|s| s.presign.time_window_secs = 60).await;
    app.put_hls("film", "free", &fixture()).await;
    let token = app.token("fred", &[], &[]);
    // Just after a window starts, so that both requests fall in it.
    let now = crate::helpers::now_secs();
    app.clock.set_offset_secs(1 - now.rem_euclid(60));
    let url = app.hls_entry("film", &token).await;
    let master = playlist(&app, &url).await;
    let variant = uris(&master)
        .into_iter()
        .find(|u| u.contains("/360p/index.m3u8"))
        .unwrap();
    let first = playlist(&app, &variant).await;
    let second = playlist(&app, &variant).await;
    assert_eq!(first, second);
    // The next window signs other URLs.
    app.clock.set_offset_secs(61 - now.rem_euclid(60));
    let third = playlist(&app, &variant).await;
    assert_ne!(first, third);
}

/// `tollgate put-hls` with the committed fixture (ffmpeg's output): every rendition, the TS
/// variant included, served byte for byte through the rewritten playlists.
#[tokio::test]
async fn put_hls_stores_a_packaged_folder_that_then_plays_through_tollgate() {
    let app = spawn_app().await;
    let env = app.cli_storage_env();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/fixtures/hls");
    let dir_arg = dir.to_str().unwrap().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        crate::cli::tollgate(
            &["put-hls", "--id", "fixture", "--access", "free", &dir_arg],
            &env.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let url = app.hls_entry("fixture", &app.token("fred", &[], &[])).await;
    let (media, playlists) = walk_video(&app, "fixture", &url).await;
    assert_eq!(playlists.len(), 4, "{playlists:#?}");
    let mut expected = BTreeMap::new();
    for rendition in ["360p", "720p", "ts"] {
        for entry in std::fs::read_dir(dir.join(rendition)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if !name.ends_with(".m3u8") {
                expected.insert(format!("{rendition}/{name}"), std::fs::read(&path).unwrap());
            }
        }
    }
    assert_eq!(media.len(), expected.len());
    assert!(media == expected, "the segments fetched are the fixture's");
}

/// A live playlist (no EXT-X-ENDLIST) grows: every refresh reads it again and signs its new
/// segments, with `presign.get_max_expires_secs`.
#[tokio::test]
async fn a_live_playlist_is_read_again_on_every_refresh() {
    let app = spawn_app().await;
    let live = |segments: &[&str]| {
        let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
        for segment in segments {
            text.push_str(&format!("#EXTINF:2.0,\n{segment}\n"));
        }
        BTreeMap::from([("index.m3u8".to_owned(), text.into_bytes())])
    };
    app.put_hls("live", "free", &live(&["s1.ts"])).await;
    let url = app.hls_entry("live", &app.token("fred", &[], &[])).await;
    let first = playlist(&app, &url).await;
    assert!(
        first.contains("/s1.ts?") && !first.contains("/s2.ts?"),
        "{first}"
    );
    let lifetime = app.settings.presign.get_max_expires_secs;
    assert!(
        first.contains(&format!("X-Amz-Expires={lifetime}&")),
        "{first}"
    );
    app.put_hls("live", "free", &live(&["s1.ts", "s2.ts"]))
        .await;
    let second = playlist(&app, &url).await;
    assert!(second.contains("/s2.ts?"), "{second}");
}

/// A playlist shared by a window's viewers is compressed once for all of them: gzip to a client
/// that accepts it (browsers all do), the same text, a fraction of the bytes.
#[tokio::test]
async fn a_shared_playlist_is_sent_gzipped_to_clients_that_accept_it() {
    use std::io::Read;
    let app = spawn_app_with(|s| s.presign.time_window_secs = 60).await;
    app.put_hls("film", "free", &fixture()).await;
    let url = app.hls_entry("film", &app.token("fred", &[], &[])).await;
    let master = playlist(&app, &url).await;
    let variant = uris(&master)
        .into_iter()
        .find(|u| u.contains("/360p/index.m3u8"))
        .unwrap();
    let plain = app.http.get(&variant).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert!(
        plain.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("accept-encoding")
    );
    let plain = plain.bytes().await.unwrap();
    let zipped = app
        .http
        .get(&variant)
        .header("accept-encoding", "br;q=1, gzip;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(
        zipped.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    let zipped = zipped.bytes().await.unwrap();
    assert!(
        zipped.len() < plain.len() / 2,
        "{} of {}",
        zipped.len(),
        plain.len()
    );
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(text, plain);
    // gzip;q=0 refuses it.
    let refused = app
        .http
        .get(&variant)
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
    // A master carries the caller's grant: never shared, never compressed here.
    let master = app
        .http
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(master.headers().get("content-encoding").is_none());
}
