//! Tokens for `bench/load.sh`: `count` distinct tokens (different subjects) for one algorithm,
//! signed as `config/local.toml` expects (HS256 with the dev secret, or ES256 with the test
//! fixture key, whose JWKS is written beside them).
//!
//! `cargo run --release --example bench_tokens -- HS256|ES256 COUNT OUT_DIR`
//! writes `OUT_DIR/tokens-{alg}.txt` (one per line) and `OUT_DIR/jwks.json`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../benches/support/mod.rs"]
mod support;

use std::path::PathBuf;

use jsonwebtoken::Algorithm;
use support::TokenKey;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_tokens HS256|ES256 COUNT OUT_DIR";
    let alg = args.next().expect(usage);
    let count: usize = args.next().expect(usage).parse().expect("COUNT");
    let out = PathBuf::from(args.next().expect(usage));
    std::fs::create_dir_all(&out).expect("out dir");
    let data = tempfile::tempdir().expect("tempdir");
    let settings = support::local_settings(data.path());
    let key = match alg.as_str() {
        "HS256" => TokenKey::hs256(&settings),
        "ES256" => TokenKey::fixture(Algorithm::ES256),
        other => panic!("unsupported algorithm {other}; {usage}"),
    };
    let tokens: Vec<String> = (0..count)
        .map(|i| key.token(&settings, &format!("viewer-{i}"), &["premium"]))
        .collect();
    std::fs::write(
        out.join(format!("tokens-{alg}.txt")),
        tokens.join("\n") + "\n",
    )
    .expect("tokens");
    let es256 = TokenKey::fixture(Algorithm::ES256);
    std::fs::write(out.join("jwks.json"), support::jwks_document(&[&es256])).expect("jwks");
}
