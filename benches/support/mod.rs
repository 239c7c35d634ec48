//! What the benches and the load harness share: the development settings, and tokens signed
//! with the test fixture keys (HS256 with the dev secret; RS256, ES256 and EdDSA with keys a
//! JWKS document publishes).

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use tollgate::config::Settings;

/// The runtime the per-call benches drive their async code with.
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `config/local.toml` (dev secrets, embedded store), with the given data folder and random ports.
pub fn local_settings(data_dir: &Path) -> Settings {
    let mut settings = Settings::load_from(
        &manifest_dir().join("config"),
        tollgate::config::Environment::Local,
    )
    .expect("local config");
    settings.server.port = 0;
    settings.storage.embedded.addr = "127.0.0.1:0".parse().expect("addr");
    settings.storage.embedded.data_dir = data_dir.to_path_buf();
    settings.log.filter = "warn".to_owned();
    settings
}

pub struct TokenKey {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub encoding: EncodingKey,
    /// The public half, as a JWKS entry (asymmetric keys only).
    pub jwk: Option<Value>,
}

impl TokenKey {
    /// The HS256 key of `settings` (the dev secret).
    pub fn hs256(settings: &Settings) -> Self {
        let secret = settings.auth.hmac_secret.as_ref().expect("dev secret");
        Self {
            alg: Algorithm::HS256,
            kid: None,
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            jwk: None,
        }
    }

    /// A test fixture key (`tests/fixtures/*.pem`) for `alg` (RS256, ES256 or EdDSA).
    pub fn fixture(alg: Algorithm) -> Self {
        let (file, kid) = match alg {
            Algorithm::RS256 => ("rsa_private.pem", "bench-rsa"),
            Algorithm::ES256 => ("ec_private.pem", "bench-ec"),
            Algorithm::EdDSA => ("ed25519_private.pem", "bench-ed"),
            other => panic!("no fixture key for {other:?}"),
        };
        let pem = std::fs::read(manifest_dir().join("tests/fixtures").join(file)).expect("pem");
        let encoding = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
            _ => EncodingKey::from_ed_pem(&pem),
        }
        .expect("fixture key");
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            alg,
            kid: Some(kid.to_owned()),
            encoding,
            jwk: Some(serde_json::to_value(jwk).expect("jwk json")),
        }
    }

    /// A token for `subject` with `entitlements`, valid for an hour, passing `settings`' checks.
    pub fn token(&self, settings: &Settings, subject: &str, entitlements: &[&str]) -> String {
        let now = tollgate::clock::unix_secs(SystemTime::now());
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(subject));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 3600));
        claims.insert(
            settings.auth.entitlements_claim.clone(),
            json!(entitlements),
        );
        if let Some(iss) = &settings.auth.issuer {
            claims.insert("iss".into(), json!(iss));
        }
        if let Some(aud) = &settings.auth.audience {
            claims.insert("aud".into(), json!(aud));
        }
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("sign")
    }
}

/// A JWKS document publishing the public halves of `keys`.
pub fn jwks_document(keys: &[&TokenKey]) -> Vec<u8> {
    let keys: Vec<&Value> = keys.iter().filter_map(|k| k.jwk.as_ref()).collect();
    serde_json::to_vec(&json!({ "keys": keys })).expect("jwks json")
}
