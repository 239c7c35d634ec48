//! The app under test: its settings, the keys it signs with, spawning it, and what tests ask
//! of it (tokens, seeded videos, URLs).

use super::*;
use aws_sdk_s3::primitives::ByteStream;
use axum::http::StatusCode;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};
use tempfile::TempDir;
use tollgate::Application;
use tollgate::auth::{TokenRequest, mint_hs256};
use tollgate::clock::{OffsetClock, SharedClock};
use tollgate::config::{Environment, Settings};
use tollgate::storage::{EmbeddedStore, StoreKey, StoreRules};

use std::path::Path;

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

/// Which keys tollgate is given.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Least privilege, as production should be: a read-only read key and a write-only
    /// upload key.
    #[default]
    LeastPrivilege,
    /// A read key allowed to write but not to read: the seeds' "signer lacks permission" case.
    ReadKeyCannotRead,
    /// An upload key allowed to read but not to write: upload URLs it signs could only fail.
    UploadKeyCannotWrite,
    /// One read-write key for everything (no upload key): the development shortcut.
    Single,
    /// A separate upload key that can read too (a misconfigured IAM policy).
    UploadKeyCanRead,
}

#[derive(Default, Clone, Copy)]
pub struct Options {
    pub keys: Keys,
    /// Put a [`FaultProxy`] between tollgate and its store.
    pub gated: bool,
    /// An embedded store with s3s-fs's own leniency (unsigned `x-amz-*` headers executed,
    /// copies allowed): what stands between an upload URL and a read is then the upload key's
    /// permissions alone. Embedded store only.
    pub lenient_store: bool,
    /// tollgate's own embedded store, configured by `config/local.toml` as `cargo run` starts
    /// it (read key read-only, upload key write-only). `s3` then holds the upload key: it seeds
    /// objects but cannot read them. Embedded store only.
    pub own_store: bool,
    /// The read key may read but not list (no `s3:ListBucket`): a missing object answers 403,
    /// as on AWS. Embedded store only.
    pub read_key_cannot_list: bool,
}

pub struct TestApp {
    pub address: String,
    /// `server.admin_port`'s address (`/metrics`), when set.
    pub admin_address: Option<String>,
    pub http: reqwest::Client,
    /// A client with the store's read-write key, straight to the store (seeding, checks).
    pub s3: aws_sdk_s3::Client,
    /// The store's keys: (access key, secret).
    pub store_keys: StoreKeys,
    pub settings: Settings,
    pub clock: Arc<OffsetClock>,
    /// The store's own endpoint (not the gate's).
    pub store_endpoint: String,
    pub gate: Option<FaultProxy>,
    _harness_store: Option<EmbeddedStore>,
    _data: TempDir,
}

pub fn config_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
}

/// The local (dev) configuration with random ports, a fresh data folder and readiness answers
/// that are never reused (tests change the store under it).
pub fn test_settings(data: &TempDir) -> Settings {
    let mut settings =
        Settings::load_from(config_dir(), Environment::Local).expect("local config is valid");
    settings.server.port = 0;
    settings.storage.embedded.addr = "127.0.0.1:0".parse().expect("addr");
    settings.storage.embedded.data_dir = data.path().to_path_buf();
    settings.storage.readiness_cache_ms = 0;
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_opts(Options::default(), |_| {}).await
}

/// An app whose store connection a test can break (`app.gate().set(Fault::Reset)`).
pub async fn spawn_gated_app() -> TestApp {
    spawn_app_opts(
        Options {
            gated: true,
            ..Options::default()
        },
        |_| {},
    )
    .await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_opts(Options::default(), customize).await
}

fn key_pair(key: &(String, String)) -> (Option<String>, Option<tollgate::config::Secret>) {
    (
        Some(key.0.clone()),
        Some(tollgate::config::Secret::new(key.1.clone())),
    )
}

pub async fn spawn_app_opts(options: Options, customize: impl FnOnce(&mut Settings)) -> TestApp {
    try_spawn_app_opts(options, |settings| {
        customize(settings);
        settings.validate().expect("test settings are valid");
    })
    .await
    .expect("app builds")
}

/// As `spawn_app_opts`, without validating the settings (start-up checks that validation would
/// stop first), returning what start-up says.
pub async fn try_spawn_app_opts(
    options: Options,
    customize: impl FnOnce(&mut Settings),
) -> Result<TestApp, tollgate::startup::StartupError> {
    LazyLock::force(&TRACING);
    let data = tempfile::tempdir().expect("tempdir");
    let mut settings = test_settings(&data);

    // Step 1: the store, and the keys it knows.
    let mut harness_store = None;
    let (store_endpoint, keys) = match (external_store(), options.own_store) {
        (Some(ext), _) => {
            assert!(
                !options.lenient_store && !options.own_store,
                "embedded-store options"
            );
            // A shared bucket: each app gets its own key prefix.
            settings.storage.key_prefix = format!("t{}/", uuid::Uuid::new_v4().simple());
            settings.storage.bucket.clone_from(&ext.bucket);
            settings.storage.region.clone_from(&ext.region);
            let keys = StoreKeys {
                read_write: ext.read_write.clone(),
                write_only: ext.write_only.clone().expect("a write-only key"),
                read_only: ext.read_only.clone().expect("a read-only key"),
            };
            (Some(ext.endpoint.clone()), keys)
        }
        (None, true) => {
            // The keys of config/local.toml, as tollgate's own store registers them.
            let read = settings.storage.read_key().expect("local read key");
            let upload = settings.storage.upload_key().expect("local upload key");
            let keys = StoreKeys {
                read_write: (
                    upload.access_key.clone(),
                    upload.secret_key.expose().to_owned(),
                ),
                write_only: (upload.access_key, upload.secret_key.expose().to_owned()),
                read_only: (read.access_key, read.secret_key.expose().to_owned()),
            };
            (None, keys)
        }
        (None, false) => {
            let keys = StoreKeys {
                read_write: (
                    "harness-admin-key".to_owned(),
                    "harness-admin-secret-0123456789".to_owned(),
                ),
                write_only: (
                    "write-only-key".to_owned(),
                    "write-only-secret-0123456789".to_owned(),
                ),
                read_only: (
                    "read-only-key".to_owned(),
                    "read-only-secret-0123456789".to_owned(),
                ),
            };
            let store_key = |key: &(String, String), read, write| StoreKey {
                access_key: key.0.clone(),
                secret_key: key.1.clone(),
                read,
                write,
                list: read && !options.read_key_cannot_list,
            };
            let rules = if options.lenient_store {
                StoreRules::LENIENT
            } else {
                StoreRules::STRICT
            };
            let store = EmbeddedStore::start_with_keys(
                &settings.storage,
                vec![
                    store_key(&keys.read_write, true, true),
                    store_key(&keys.write_only, false, true),
                    store_key(&keys.read_only, true, false),
                ],
                rules,
            )
            .await
            .expect("harness store");
            let endpoint = store.endpoint();
            harness_store = Some(store);
            (Some(endpoint), keys)
        }
    };

    // Step 2: tollgate's view of it: its own embedded store, or an endpoint (maybe gated).
    let mut gate = None;
    if let Some(endpoint) = &store_endpoint {
        settings.storage.embedded.enabled = false;
        let tollgate_endpoint = if options.gated {
            let g = FaultProxy::start(endpoint).await;
            let e = g.endpoint.clone();
            gate = Some(g);
            e
        } else {
            endpoint.clone()
        };
        settings.storage.endpoint = Some(tollgate_endpoint);
    }
    if !options.own_store {
        let (read, upload) = match options.keys {
            Keys::LeastPrivilege => (&keys.read_only, Some(&keys.write_only)),
            Keys::ReadKeyCannotRead => (&keys.write_only, Some(&keys.write_only)),
            Keys::UploadKeyCannotWrite => (&keys.read_only, Some(&keys.read_only)),
            Keys::Single => (&keys.read_write, None),
            Keys::UploadKeyCanRead => (&keys.read_only, Some(&keys.read_write)),
        };
        let storage = &mut settings.storage;
        (storage.access_key_id, storage.secret_access_key) = key_pair(read);
        (
            storage.upload_access_key_id,
            storage.upload_secret_access_key,
        ) = upload.map_or((None, None), key_pair);
    }
    customize(&mut settings);

    // Step 3: tollgate itself.
    let clock = Arc::new(OffsetClock::default());
    let shared: SharedClock = clock.clone();
    let app = Application::build_with_clock(settings.clone(), shared).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let admin_address = app.admin_addr().map(|a| format!("http://{a}"));
    let store_endpoint = store_endpoint
        .or_else(|| app.embedded_store().map(|s| s.endpoint()))
        .expect("a store");
    tokio::spawn(app.run_until_stopped());

    Ok(TestApp {
        address,
        admin_address,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        s3: s3_client(&settings.storage.region, &store_endpoint, &keys.read_write),
        store_keys: keys,
        settings,
        clock,
        store_endpoint,
        gate,
        _harness_store: harness_store,
        _data: data,
    })
}

/// Metadata of a seeded video.
#[derive(Default, Clone, Copy)]
pub struct Meta<'a> {
    pub access: Option<&'a str>,
    pub owner: Option<&'a str>,
}

impl<'a> Meta<'a> {
    /// A video in `tier`, without owner.
    pub fn tier(tier: &'a str) -> Self {
        Self {
            access: Some(tier),
            owner: None,
        }
    }
}

impl TestApp {
    pub fn gate(&self) -> &FaultProxy {
        self.gate.as_ref().expect("spawned with `gated: true`")
    }

    /// Settings as environment variables, for running the `tollgate` binary against this store.
    pub fn cli_storage_env(&self) -> Vec<(String, String)> {
        let storage = &self.settings.storage;
        vec![
            (
                "TOLLGATE__STORAGE__EMBEDDED__ENABLED".into(),
                "false".into(),
            ),
            (
                "TOLLGATE__STORAGE__ENDPOINT".into(),
                self.store_endpoint.clone(),
            ),
            ("TOLLGATE__STORAGE__REGION".into(), storage.region.clone()),
            ("TOLLGATE__STORAGE__BUCKET".into(), storage.bucket.clone()),
            (
                "TOLLGATE__STORAGE__KEY_PREFIX".into(),
                storage.key_prefix.clone(),
            ),
            (
                "TOLLGATE__STORAGE__ACCESS_KEY_ID".into(),
                storage.access_key_id.clone().unwrap_or_default(),
            ),
            (
                "TOLLGATE__STORAGE__SECRET_ACCESS_KEY".into(),
                storage
                    .secret_access_key
                    .as_ref()
                    .map(|s| s.expose().to_owned())
                    .unwrap_or_default(),
            ),
            (
                "TOLLGATE__STORAGE__UPLOAD_ACCESS_KEY_ID".into(),
                storage.upload_access_key_id.clone().unwrap_or_default(),
            ),
            (
                "TOLLGATE__STORAGE__UPLOAD_SECRET_ACCESS_KEY".into(),
                storage
                    .upload_secret_access_key
                    .as_ref()
                    .map(|s| s.expose().to_owned())
                    .unwrap_or_default(),
            ),
        ]
    }

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
