//! The whole `GET /videos/{id}/url` request in-process (tower `oneshot` on the router: routing,
//! middleware, token, metadata cache, entitlement, presign, JSON), warm caches, embedded store.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;
use support::TokenKey;
use tollgate::Application;
use tollgate::domain::VideoId;
use tollgate::storage::{SignerKind, VideoMetadata, put_video};
use tower::ServiceExt;

fn request(token: &str) -> Request<Body> {
    Request::get("/videos/demo/url")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

/// Serves `document` as a JWKS on loopback; returns its URL.
async fn serve_jwks(document: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let document = document.clone();
            async move { document }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn handler(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = tempfile::tempdir().expect("tempdir");
    let es256 = TokenKey::fixture(Algorithm::ES256);
    let jwks_url = runtime.block_on(serve_jwks(support::jwks_document(&[&es256])));
    let mut group = c.benchmark_group("get_video_url");
    for signer in [SignerKind::Sdk, SignerKind::Fast] {
        let mut settings = support::local_settings(data.path());
        settings.storage.signer = signer;
        settings.auth.jwks_url = Some(jwks_url.clone());
        let (app, settings) = runtime.block_on(async {
            let app = Application::build(settings.clone()).await.expect("app");
            let mut storage = settings.storage.clone();
            storage.endpoint = app.embedded_store().map(|s| s.endpoint());
            let metadata = VideoMetadata {
                content_type: "video/mp4".to_owned(),
                tier: Some("premium".to_owned()),
                owner: None,
            };
            let id = VideoId::parse("demo").expect("id");
            put_video(&storage, &id, b"not really a video".to_vec(), metadata)
                .await
                .expect("put");
            (app, settings)
        });
        let router = app.router();
        for key in [&TokenKey::hs256(&settings), &es256] {
            let token = key.token(&settings, "alice", &["premium"]);
            // Warm: the metadata cache holds the object, the token cache the token.
            let response = runtime
                .block_on(router.clone().oneshot(request(&token)))
                .expect("response");
            assert_eq!(response.status(), StatusCode::OK);
            group.bench_function(format!("{signer:?}/{:?}", key.alg), |b| {
                b.to_async(&runtime).iter(|| async {
                    let response = router.clone().oneshot(request(&token)).await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    axum::body::to_bytes(response.into_body(), 4096)
                        .await
                        .unwrap()
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, handler);
criterion_main!(benches);
