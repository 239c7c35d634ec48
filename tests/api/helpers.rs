//! Spawns tollgate on a random port against the store under test, and gives tests what they need
//! to talk to both: an HTTP client, an S3 client, and token minting.
//!
//! The store under test is the embedded s3s-fs store (default), or the external S3-compatible
//! store named by `TOLLGATE_TEST_S3_*` (`scripts/garage.sh -- cargo test` sets them for Garage):
//! the same tests run against both, and what differs between stores is declared in
//! [`StoreProfile`].

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
use tokio::sync::watch;
use tollgate::Application;
use tollgate::auth::{TokenRequest, mint_hs256};
use tollgate::clock::{OffsetClock, SharedClock};
use tollgate::config::{Environment, Settings};
use tollgate::storage::{EmbeddedStore, StoreKey, StoreRules};

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

/// An S3-compatible store outside this process (Garage in CI, MinIO by hand).
#[derive(Clone)]
pub struct ExternalStore {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub read_write: (String, String),
    pub write_only: Option<(String, String)>,
    pub read_only: Option<(String, String)>,
}

static EXTERNAL: LazyLock<Option<ExternalStore>> = LazyLock::new(|| {
    let var = |name: &str| std::env::var(format!("TOLLGATE_TEST_S3_{name}")).ok();
    let endpoint = var("ENDPOINT")?;
    Some(ExternalStore {
        endpoint,
        region: var("REGION").unwrap_or_else(|| "us-east-1".to_owned()),
        bucket: var("BUCKET").unwrap_or_else(|| "videos".to_owned()),
        // Defaults: the DEV-ONLY users that docker-compose.yml creates in MinIO.
        read_write: (
            var("ACCESS_KEY").unwrap_or_else(|| "tollgate-dev-access-key".to_owned()),
            var("SECRET_KEY")
                .unwrap_or_else(|| "tollgate-dev-secret-key-not-for-production".to_owned()),
        ),
        write_only: Some((
            var("WRITE_ONLY_ACCESS_KEY").unwrap_or_else(|| "tollgate-upload-key".to_owned()),
            var("WRITE_ONLY_SECRET_KEY")
                .unwrap_or_else(|| "tollgate-upload-secret-dev-only".to_owned()),
        )),
        read_only: Some((
            var("READ_ONLY_ACCESS_KEY").unwrap_or_else(|| "tollgate-read-key".to_owned()),
            var("READ_ONLY_SECRET_KEY")
                .unwrap_or_else(|| "tollgate-read-secret-dev-only".to_owned()),
        )),
    })
});

pub fn external_store() -> Option<&'static ExternalStore> {
    EXTERNAL.as_ref()
}

/// What differs between stores, declared in one place rather than skipped.
pub struct StoreProfile {
    pub name: &'static str,
    /// Status of a GET with an expired presigned URL (AWS and s3s-fs: 403; Garage: 400).
    pub expired_url: StatusCode,
    /// Whether the store refuses signatures made for another region (s3s-fs ignores regions).
    pub checks_region: bool,
    /// Status of a second PUT through an upload URL signed with `If-None-Match: *`
    /// (412 where the store enforces it; Garage 2.5 does not).
    pub overwrite_with_if_none_match: StatusCode,
    /// s3s-fs 0.14 writes a PUT body before checking its `x-amz-checksum-sha256`: it answers 400
    /// but keeps the bytes (without the signed metadata).
    pub keeps_body_of_a_refused_checksum: bool,
    /// Status of a presigned request carrying an `x-amz-*` header its signature does not cover
    /// (`x-amz-meta-*`, `x-amz-copy-source`, …): refused by the embedded store (403, as AWS
    /// answers) and Garage (400). s3s-fs alone would execute it.
    pub unsigned_amz_header: StatusCode,
    /// Status of `GET /uploads/{id}/parts` after an abort: s3s-fs still answers ListParts with an
    /// empty list, Garage and AWS with NoSuchUpload (404).
    pub parts_after_abort: StatusCode,
    /// Whether the store implements ListMultipartUploads (s3s-fs 0.14 answers 501).
    pub lists_multipart_uploads: bool,
    /// Whether ListParts gives ETags and CompleteMultipartUpload checks them (s3s-fs 0.14 does
    /// neither).
    pub checks_part_etags: bool,
    /// Whether the store answers a request it refuses from its headers and closes the
    /// connection before reading a large body (Garage), so that the client never sees the status.
    pub refuses_before_reading_the_body: bool,
    /// Whether CompleteMultipartUpload refuses parts out of order or a part below 5 MiB that is
    /// not the last (s3s-fs and AWS do; Garage 2.5 assembles them).
    pub refuses_small_or_unordered_parts: bool,
}

pub fn profile() -> StoreProfile {
    match (
        external_store(),
        std::env::var("TOLLGATE_TEST_STORE").as_deref(),
    ) {
        (None, _) => StoreProfile {
            name: "s3s-fs (embedded)",
            expired_url: StatusCode::FORBIDDEN,
            checks_region: false,
            overwrite_with_if_none_match: StatusCode::PRECONDITION_FAILED,
            keeps_body_of_a_refused_checksum: true,
            unsigned_amz_header: StatusCode::FORBIDDEN,
            parts_after_abort: StatusCode::OK,
            lists_multipart_uploads: false,
            checks_part_etags: false,
            refuses_before_reading_the_body: false,
            refuses_small_or_unordered_parts: true,
        },
        (Some(_), Ok("garage")) => StoreProfile {
            name: "garage",
            refuses_before_reading_the_body: true,
            refuses_small_or_unordered_parts: false,
            expired_url: StatusCode::BAD_REQUEST,
            checks_region: true,
            overwrite_with_if_none_match: StatusCode::OK,
            keeps_body_of_a_refused_checksum: false,
            unsigned_amz_header: StatusCode::BAD_REQUEST,
            parts_after_abort: StatusCode::NOT_FOUND,
            lists_multipart_uploads: true,
            checks_part_etags: true,
        },
        // MinIO and AWS behave alike here.
        (Some(_), _) => StoreProfile {
            name: "s3",
            refuses_before_reading_the_body: false,
            refuses_small_or_unordered_parts: true,
            expired_url: StatusCode::FORBIDDEN,
            checks_region: true,
            overwrite_with_if_none_match: StatusCode::PRECONDITION_FAILED,
            keeps_body_of_a_refused_checksum: false,
            // AWS documents 403 AccessDenied; not measured here (no Docker engine for MinIO, no
            // AWS account): adjust when run.
            unsigned_amz_header: StatusCode::FORBIDDEN,
            parts_after_abort: StatusCode::NOT_FOUND,
            lists_multipart_uploads: true,
            checks_part_etags: true,
        },
    }
}

/// A TCP relay in front of the store that a test can close, to see tollgate with its store down.
pub struct StoreGate {
    pub endpoint: String,
    closed: watch::Sender<bool>,
}

impl StoreGate {
    async fn open(target_endpoint: &str) -> Self {
        let target = target_endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind gate");
        let endpoint = format!("http://{}", listener.local_addr().expect("gate addr"));
        let (closed, mut on_close) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let mut inbound = tokio::select! {
                    accepted = listener.accept() => match accepted { Ok((s, _)) => s, Err(_) => continue },
                    _ = on_close.changed() => break,
                };
                let target = target.clone();
                let mut conn_closed = on_close.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = conn_closed.changed() => {}
                    }
                });
            }
        });
        Self { endpoint, closed }
    }

    /// Refuses new connections and cuts the open ones.
    pub fn close(&self) {
        let _ = self.closed.send(true);
    }
}

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
    /// Put a [`StoreGate`] between tollgate and its store.
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
    pub http: reqwest::Client,
    /// A client with the store's read-write key, straight to the store (seeding, checks).
    pub s3: aws_sdk_s3::Client,
    /// The store's keys: (access key, secret).
    pub store_keys: StoreKeys,
    pub settings: Settings,
    pub clock: Arc<OffsetClock>,
    /// The store's own endpoint (not the gate's).
    pub store_endpoint: String,
    pub gate: Option<StoreGate>,
    _harness_store: Option<EmbeddedStore>,
    _data: TempDir,
}

/// The keys of the store under test.
#[derive(Clone)]
pub struct StoreKeys {
    pub read_write: (String, String),
    pub write_only: (String, String),
    pub read_only: (String, String),
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

/// An app whose store connection a test can cut (`app.gate().close()`).
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
            let g = StoreGate::open(endpoint).await;
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
    let store_endpoint = store_endpoint
        .or_else(|| app.embedded_store().map(|s| s.endpoint()))
        .expect("a store");
    tokio::spawn(app.run_until_stopped());

    Ok(TestApp {
        address,
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

/// A plain SDK client for `key` (access key, secret) at `endpoint`.
pub fn s3_client(region: &str, endpoint: &str, key: &(String, String)) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(&key.0, &key.1, None, None, "tests");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .force_path_style(true)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(config)
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
    pub fn gate(&self) -> &StoreGate {
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

/// A bare TCP connection to the app, for what an HTTP client library hides: half-sent request
/// heads, idle keep-alive connections, and when the server closes a connection.
pub struct RawConnection {
    stream: tokio::net::TcpStream,
    /// Bytes read past the last response.
    unread: Vec<u8>,
}

/// One response read from a [`RawConnection`].
pub struct RawResponse {
    pub status: u16,
    /// Status line and headers, as sent.
    pub head: String,
    pub body: String,
}

impl RawResponse {
    /// The JSON body.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

impl TestApp {
    /// Opens a plain TCP connection to the app; nothing is sent yet.
    pub async fn connect_raw(&self) -> RawConnection {
        let addr = self.address.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connect to the app");
        RawConnection {
            stream,
            unread: Vec::new(),
        }
    }
}

impl RawConnection {
    pub async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(bytes).await.expect("send");
    }

    /// A whole `GET /healthz` request; the connection stays open for the next one.
    pub async fn send_healthz(&mut self) {
        self.send(b"GET /healthz HTTP/1.1\r\nHost: tollgate\r\n\r\n")
            .await;
    }

    /// The next response (its body framed by `Content-Length`), or `None` when the server closes
    /// the connection before sending anything. Wrap it in a timeout: it waits as long as the
    /// server does.
    pub async fn read_response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(i) = self.unread.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.read_more().await == 0 {
                assert!(
                    self.unread.is_empty(),
                    "connection closed mid-response: {:?}",
                    String::from_utf8_lossy(&self.unread)
                );
                return None;
            }
        };
        let head = String::from_utf8(self.unread[..head_end].to_vec()).expect("UTF-8 head");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().expect("Content-Length"))
            })
            .expect("a Content-Length");
        while self.unread.len() < head_end + length {
            assert!(self.read_more().await > 0, "connection closed mid-body");
        }
        let body = String::from_utf8(self.unread[head_end..head_end + length].to_vec())
            .expect("UTF-8 body");
        self.unread.drain(..head_end + length);
        Some(RawResponse { status, head, body })
    }

    /// Waits, at most `limit`, for the server to close the connection without sending anything
    /// more, and returns how long that took. Panics if bytes arrive or `limit` passes.
    pub async fn closed_within(&mut self, limit: Duration) -> Duration {
        let started = std::time::Instant::now();
        match tokio::time::timeout(limit, self.read_more()).await {
            Ok(0) => started.elapsed(),
            Ok(_) => panic!(
                "the server sent bytes instead of closing: {:?}",
                String::from_utf8_lossy(&self.unread)
            ),
            Err(_) => panic!("the connection is still open after {limit:?}"),
        }
    }

    /// Reads what is available into `unread`; 0 when the server closed (or reset) the connection.
    async fn read_more(&mut self) -> usize {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk).await {
            Ok(n) => {
                self.unread.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read: {e}"),
        }
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
