//! Asymmetric signing keys and a JWKS server whose keys and availability tests control.

use super::*;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// An asymmetric signing key with its JWK.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl SigningKey {
    pub fn from_fixture(file: &str, alg: Algorithm, kid: &str) -> Self {
        let pem = fixture(file);
        let encoding = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
            other => panic!("no fixture for {other:?}"),
        }
        .expect("fixture key");
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, alg).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk: serde_json::to_value(jwk).expect("jwk json"),
        }
    }

    pub fn sign(&self, claims: &serde_json::Map<String, Value>) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

/// A JWKS endpoint on loopback whose key set, availability and fetch count tests control.
#[derive(Clone)]
pub struct JwksServer {
    pub url: String,
    keys: Arc<RwLock<Vec<Value>>>,
    up: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(keys: Vec<Value>) -> Self {
        let server = Self {
            url: String::new(),
            keys: Arc::new(RwLock::new(keys)),
            up: Arc::new(AtomicBool::new(true)),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let state = server.clone();
        let router = Router::new().route(
            "/jwks.json",
            get(move || {
                let state = state.clone();
                async move {
                    state.fetches.fetch_add(1, Ordering::SeqCst);
                    if !state.up.load(Ordering::SeqCst) {
                        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({})));
                    }
                    let keys = state.keys.read().expect("keys").clone();
                    (StatusCode::OK, axum::Json(json!({ "keys": keys })))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind jwks");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, ..server }
    }

    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.keys.write().expect("keys") = keys;
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}
