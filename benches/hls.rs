//! Rewriting an HLS media playlist of 2,000 segments (about 2 hours at 4 s segments) for one
//! request, in-process (tower `oneshot`: grant check, cached parse, 2,000 presigned URLs, the
//! playlist written out), with tollgate's fast signer and with aws-sdk-s3's presigner; and the
//! same with a time window, where the rewritten playlist is reused within the window.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use support::TokenKey;
use tollgate::Application;
use tollgate::domain::VideoId;
use tollgate::storage::{SignerKind, VideoMetadata, put_hls};
use tower::ServiceExt;

const SEGMENTS: usize = 2_000;

fn playlist() -> String {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n",
    );
    for i in 0..SEGMENTS {
        text.push_str(&format!("#EXTINF:4.000,\nseg-{i:05}.m4s\n"));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path).header(header::HOST, "127.0.0.1:8080");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).expect("request")
}

fn rewrite(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = tempfile::tempdir().expect("tempdir");
    let folder = tempfile::tempdir().expect("tempdir");
    std::fs::write(folder.path().join("index.m3u8"), playlist()).expect("playlist");
    let mut group = c.benchmark_group("hls_media_playlist_2000_segments");
    for (signer, window) in [
        (SignerKind::Sdk, 0),
        (SignerKind::Fast, 0),
        (SignerKind::Fast, 60),
    ] {
        let mut settings = support::local_settings(data.path());
        settings.storage.signer = signer;
        settings.presign.time_window_secs = window;
        let (app, settings) = runtime.block_on(async {
            let app = Application::build(settings.clone()).await.expect("app");
            let mut storage = settings.storage.clone();
            storage.endpoint = app.embedded_store().map(|s| s.endpoint());
            let metadata = VideoMetadata {
                tier: Some("premium".to_owned()),
                ..VideoMetadata::default()
            };
            let id = VideoId::parse("long").expect("id");
            put_hls(&storage, &id, folder.path(), metadata)
                .await
                .expect("put-hls");
            (app, settings)
        });
        let router = app.router();
        let token = TokenKey::hs256(&settings).token(&settings, "alice", &["premium"]);
        let answer = runtime
            .block_on(
                router
                    .clone()
                    .oneshot(get("/videos/long/url", Some(&token))),
            )
            .expect("response");
        assert_eq!(answer.status(), StatusCode::OK);
        let body = runtime
            .block_on(axum::body::to_bytes(answer.into_body(), 4096))
            .expect("body");
        let entry: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let url = entry["url"].as_str().expect("url");
        let path = url.trim_start_matches("http://127.0.0.1:8080").to_owned();
        let name = if window == 0 {
            format!("{signer:?}")
        } else {
            format!("{signer:?}/window_{window}s")
        };
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let response = router.clone().oneshot(get(&path, None)).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                axum::body::to_bytes(response.into_body(), 4 << 20)
                    .await
                    .unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, rewrite);
criterion_main!(benches);
