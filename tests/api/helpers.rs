//! Spawns tollgate on a random port with its embedded S3 store in a temporary folder, and gives
//! tests what they need to talk to both: an HTTP client, an S3 client, and token minting.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tempfile::TempDir;
use tollgate::Application;
use tollgate::auth::{TokenRequest, mint_hs256};
use tollgate::clock::{OffsetClock, SharedClock};
use tollgate::config::Settings;
use tollgate::storage::EmbeddedStore;

/// Logs of the app under test: `TEST_LOG=debug cargo test` shows them.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let settings = tollgate::config::LogSettings {
            format: tollgate::config::LogFormat::Pretty,
            filter,
        };
        tollgate::telemetry::init(&settings);
    }
});

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub s3: aws_sdk_s3::Client,
    pub settings: Settings,
    pub clock: Arc<OffsetClock>,
    pub store: Option<Arc<EmbeddedStore>>,
    _data: TempDir,
}

pub fn config_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
}

/// The local (dev) configuration with random ports and a fresh data folder.
pub fn test_settings(data: &TempDir) -> Settings {
    let mut settings = Settings::load_from(config_dir(), "local").expect("local config is valid");
    settings.server.port = 0;
    settings.storage.embedded.addr = "127.0.0.1:0".parse().expect("addr");
    settings.storage.embedded.data_dir = data.path().to_path_buf();
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let data = tempfile::tempdir().expect("tempdir");
    let mut settings = test_settings(&data);
    customize(&mut settings);
    settings.validate().expect("test settings are valid");

    let clock = Arc::new(OffsetClock::default());
    let shared: SharedClock = clock.clone();
    let app = Application::build_with_clock(settings.clone(), shared)
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let store = app.embedded_store();
    let endpoint = store.as_ref().map(|s| s.endpoint());
    tokio::spawn(app.run_until_stopped());

    let s3 = s3_client(&settings, endpoint.as_deref());
    TestApp {
        address,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        s3,
        settings,
        clock,
        store,
        _data: data,
    }
}

fn s3_client(settings: &Settings, endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let storage = &settings.storage;
    let credentials = Credentials::new(
        storage.access_key_id.clone().expect("test store has a key"),
        storage
            .secret_access_key
            .as_ref()
            .expect("test store has a secret")
            .expose(),
        None,
        None,
        "tests",
    );
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(storage.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(true);
    if let Some(endpoint) = endpoint
        .map(str::to_owned)
        .or_else(|| storage.endpoint.clone())
    {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// Metadata of a seeded video.
#[derive(Default, Clone, Copy)]
pub struct Meta<'a> {
    pub access: Option<&'a str>,
    pub owner: Option<&'a str>,
}

impl TestApp {
    pub fn key(&self, id: &str) -> String {
        format!("{}{id}", self.settings.storage.key_prefix)
    }

    /// Stores a video object with tollgate's metadata through the S3 API.
    pub async fn put_video(&self, id: &str, body: &[u8], meta: Meta<'_>) {
        let mut put = self
            .s3
            .put_object()
            .bucket(&self.settings.storage.bucket)
            .key(self.key(id))
            .content_type("video/mp4")
            .body(ByteStream::from(body.to_vec()));
        if let Some(access) = meta.access {
            put = put.metadata("access", access);
        }
        if let Some(owner) = meta.owner {
            put = put.metadata("owner", owner);
        }
        put.send().await.expect("seed object");
    }

    /// A valid HS256 token from this app's configuration.
    pub fn token(&self, sub: &str, entitlements: &[&str], roles: &[&str]) -> String {
        let request = TokenRequest {
            subject: sub.to_owned(),
            entitlements: entitlements.iter().map(|s| (*s).to_owned()).collect(),
            roles: roles.iter().map(|s| (*s).to_owned()).collect(),
            ttl: Duration::from_secs(600),
        };
        mint_hs256(&self.settings.auth, &request, SystemTime::now()).expect("mint")
    }

    /// Standard valid claims for `sub` (now-relative `exp`, configured `iss`/`aud`), to be edited.
    pub fn claims(&self, sub: &str) -> serde_json::Map<String, Value> {
        let now = now_secs();
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), json!(sub));
        claims.insert("exp".into(), json!(now + 600));
        claims.insert("iat".into(), json!(now));
        if let Some(iss) = &self.settings.auth.issuer {
            claims.insert("iss".into(), json!(iss));
        }
        if let Some(aud) = &self.settings.auth.audience {
            claims.insert("aud".into(), json!(aud));
        }
        claims
    }

    /// HS256-signs arbitrary claims with the configured secret.
    pub fn sign_hs256(&self, header: &Header, claims: &serde_json::Map<String, Value>) -> String {
        let secret = self
            .settings
            .auth
            .hmac_secret
            .as_ref()
            .expect("hmac configured");
        let key = EncodingKey::from_secret(secret.expose().as_bytes());
        jsonwebtoken::encode(header, claims, &key).expect("sign")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// `GET /videos/{id}/url` with a token; returns status and JSON body.
    pub async fn video_url(&self, id: &str, token: &str) -> (StatusCode, Value) {
        let response = self.get(&format!("/videos/{id}/url"), Some(token)).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A presigned URL for `id` that must be granted.
    pub async fn granted_url(&self, id: &str, token: &str) -> String {
        let (status, body) = self.video_url(id, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["url"].as_str().expect("url").to_owned()
    }

    /// Fetches a presigned URL the way a player does: no credentials, just the URL.
    pub async fn fetch(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.expect("fetch presigned")
    }
}

pub fn now_secs() -> i64 {
    tollgate::clock::unix_secs(SystemTime::now())
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

/// Asserts the JSON error shape and code.
pub fn assert_error(status: StatusCode, body: &Value, expected_status: StatusCode, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

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
