//! Presign cost per URL: aws-sdk-s3's presigner against tollgate's fast signer, for the three
//! operations tollgate signs. Both go through `Presigner::presign` (credentials, lifetime clamp,
//! signing), as a request does.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::clock::SystemClock;
use tollgate::storage::{ObjectRequest, Presigner, PutObjectGrant, S3Clients, SignerKind};

fn presigner(runtime: &tokio::runtime::Runtime, signer: SignerKind) -> Presigner {
    let data = tempfile::tempdir().expect("tempdir");
    let settings = support::local_settings(data.path());
    runtime.block_on(async {
        let clock = Arc::new(SystemClock);
        let endpoint = Some("http://127.0.0.1:9000".to_owned());
        let clients = S3Clients::new(
            &settings.storage,
            settings.storage.read_key(),
            endpoint,
            clock.clone(),
        )
        .await
        .expect("clients");
        Presigner::new(
            clients.public,
            settings.storage.bucket.clone(),
            clients.credentials,
            clock,
            signer,
        )
        .await
        .expect("presigner")
    })
}

fn presign(c: &mut Criterion) {
    let runtime = support::current_thread_runtime();
    let grant = PutObjectGrant {
        content_type: "video/mp4".to_owned(),
        content_length: Some(52_428_800),
        metadata: vec![
            ("access".to_owned(), "premium".to_owned()),
            ("owner".to_owned(), "alice".to_owned()),
            ("filename".to_owned(), "holiday%20clip.mp4".to_owned()),
        ],
        checksum_sha256: None,
        if_none_match: true,
    };
    let requests = [
        (
            "get",
            ObjectRequest::Get {
                key: "videos/0190d2c4-demo",
                content_disposition: None,
            },
        ),
        (
            "put",
            ObjectRequest::Put {
                key: "videos/0190d2c4-7b3e-7c41-9a55-3f1d2e6b8a90",
                grant: &grant,
            },
        ),
        (
            "upload_part",
            ObjectRequest::UploadPart {
                key: "videos/0190d2c4-7b3e-7c41-9a55-3f1d2e6b8a90",
                upload_id: "MzRiNDE4YjgtZDFhZC00ZjA0LWE0YjQtNDg1MmJkNTk2ZTVk",
                part_number: 7,
                content_length: Some(16_777_216),
            },
        ),
    ];
    let mut group = c.benchmark_group("presign");
    for (kind, name) in [(SignerKind::Sdk, "sdk"), (SignerKind::Fast, "fast")] {
        let signer = presigner(&runtime, kind);
        for (operation, request) in &requests {
            group.bench_function(format!("{name}/{operation}"), |b| {
                b.to_async(&runtime).iter(|| async {
                    signer
                        .presign(*request, None, 300)
                        .await
                        .expect("presigned")
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, presign);
criterion_main!(benches);
