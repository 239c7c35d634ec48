//! Token verification per algorithm, with the verified-token cache off (every request pays for
//! the signature) and on (a player polling with the same token).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;
use support::TokenKey;
use tollgate::auth::{JwksCache, TokenVerifier};
use tollgate::clock::SystemClock;

fn verify(c: &mut Criterion) {
    let runtime = support::current_thread_runtime();
    let data = tempfile::tempdir().expect("tempdir");
    let settings = support::local_settings(data.path());
    let asymmetric = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA].map(TokenKey::fixture);
    let jwks = Arc::new(
        JwksCache::new(
            "http://127.0.0.1:1/unused".to_owned(),
            Duration::from_secs(1),
            Duration::from_secs(30),
        )
        .expect("jwks"),
    );
    jwks.load(&support::jwks_document(
        &asymmetric.iter().collect::<Vec<_>>(),
    ))
    .expect("keys");
    let keys: Vec<TokenKey> = std::iter::once(TokenKey::hs256(&settings))
        .chain(asymmetric)
        .collect();

    let mut group = c.benchmark_group("jwt_verify");
    for cached in [false, true] {
        let mut auth = settings.auth.clone();
        auth.token_cache_ttl_secs = if cached { 60 } else { 0 };
        let verifier = TokenVerifier::new(&auth, Some(Arc::clone(&jwks)), Arc::new(SystemClock));
        for key in &keys {
            let token = key.token(&settings, "alice", &["premium"]);
            runtime
                .block_on(verifier.verify(&token))
                .expect("the token verifies");
            let name = format!(
                "{:?}/{}",
                key.alg,
                if cached { "cached" } else { "uncached" }
            );
            group.bench_function(name, |b| {
                b.to_async(&runtime)
                    .iter(|| async { verifier.verify(&token).await.expect("verified") });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
