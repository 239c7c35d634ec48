//! An s3s-fs S3-compatible server run in-process: the default store for `cargo run` and
//! `cargo test`. It verifies SigV4 signatures and URL expiry for real, which is what makes the
//! URL tests honest.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::Uri;
use axum::http::header::{AUTHORIZATION, HeaderMap, HeaderName};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::service::TowerToHyperService;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::S3ServiceBuilder;
use s3s::{S3Result, s3_error};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::StorageSettings;

mod file_store;
mod small_frames;

use file_store::FileStore;
use small_frames::{MAX_FRAME_BYTES, SmallFrames};

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedStoreError {
    #[error("the embedded store needs storage.access_key_id and storage.secret_access_key")]
    NoCredentials,
    #[error("could not prepare the data directory {0}")]
    DataDir(String, #[source] std::io::Error),
    /// s3s-fs's error type is not `std::error::Error`: keep its text.
    #[error("could not open the data directory: {0}")]
    Open(String),
    #[error("could not listen on {0}")]
    Bind(SocketAddr, #[source] std::io::Error),
}

/// An access key of the embedded store and what it may do, like an IAM policy or a Garage
/// key's bucket permissions: a URL signed by a key without `read` gets 403 from the store.
#[derive(Debug, Clone)]
pub struct StoreKey {
    pub access_key: String,
    pub secret_key: String,
    pub read: bool,
    pub write: bool,
    /// May list the bucket (`s3:ListBucket`). Without it, as on AWS, reading a missing object
    /// answers 403 AccessDenied rather than 404, so that the key cannot learn what exists.
    pub list: bool,
}

impl StoreKey {
    fn new(key: &super::StoreKeySettings, read: bool, write: bool) -> Self {
        Self {
            access_key: key.access_key.clone(),
            secret_key: key.secret_key.expose().to_owned(),
            read,
            write,
            list: read,
        }
    }
}

/// Operations that need `write`; every other operation needs `read`.
const WRITE_OPERATIONS: [&str; 8] = [
    "PutObject",
    "PostObject",
    "UploadPart",
    "CreateMultipartUpload",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "DeleteObject",
    "DeleteObjects",
];
/// Operations that read one object and write another: they need both, as on AWS (s3:GetObject
/// on the source, s3:PutObject on the target) and Garage (read on the source bucket).
const COPY_OPERATIONS: [&str; 2] = ["CopyObject", "UploadPartCopy"];

/// How strict the embedded store is where s3s-fs 0.14 is more lenient than S3.
#[derive(Debug, Clone, Copy)]
pub struct StoreRules {
    /// Refuse a request carrying an `x-amz-*` header that its signature does not cover, as AWS
    /// and Garage do. s3s-fs alone executes them: one unsigned `x-amz-copy-source` turns a
    /// presigned upload URL into CopyObject, run with the signer's permissions.
    pub require_signed_amz_headers: bool,
    /// Refuse CopyObject and UploadPartCopy: tollgate never copies.
    pub refuse_copy: bool,
}

impl StoreRules {
    /// What `cargo run` and the tests use: S3's rules.
    pub const STRICT: Self = Self {
        require_signed_amz_headers: true,
        refuse_copy: true,
    };
    /// s3s-fs as it ships: only key permissions stand between a URL and a copy (tests of the
    /// least-privilege defence).
    pub const LENIENT: Self = Self {
        require_signed_amz_headers: false,
        refuse_copy: false,
    };
}

struct KeyPermissions {
    keys: Vec<StoreKey>,
    rules: StoreRules,
    /// The store's folder, to tell a missing object from a present one.
    root: std::path::PathBuf,
}

#[async_trait::async_trait]
impl S3Access for KeyPermissions {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        // Unsigned requests are anonymous: the bucket is private.
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "anonymous access is not allowed"));
        };
        let Some(key) = self
            .keys
            .iter()
            .find(|k| k.access_key == credentials.access_key)
        else {
            return Err(s3_error!(AccessDenied, "unknown access key"));
        };
        if self.rules.require_signed_amz_headers
            && let Some(name) = unsigned_amz_header(cx.headers(), cx.uri())
        {
            return Err(s3_error!(
                AccessDenied,
                "There were headers present in the request which were not signed: {}",
                name
            ));
        }
        let operation = cx.s3_op().name();
        let is_copy = COPY_OPERATIONS.contains(&operation);
        if is_copy && self.rules.refuse_copy {
            return Err(s3_error!(AccessDenied, "this store does not copy objects"));
        }
        let allowed = if is_copy {
            key.read && key.write
        } else if WRITE_OPERATIONS.contains(&operation) {
            key.write
        } else {
            key.read
        };
        if allowed && !key.list && matches!(operation, "GetObject" | "HeadObject") {
            let exists = cx.s3_path().as_object().is_some_and(|(bucket, object)| {
                // s3s-fs keeps `bucket/key` as a file under its root; s3s has checked the names.
                self.root.join(bucket).join(object).is_file()
            });
            if !exists {
                return Err(s3_error!(AccessDenied, "Access Denied"));
            }
        }
        if allowed {
            Ok(())
        } else {
            Err(s3_error!(
                AccessDenied,
                "Operation is not allowed for this key"
            ))
        }
    }
}

/// The first `x-amz-*` header the request's signature does not cover (`x-amz-content-sha256`
/// excepted, as Garage does). The signed list is `X-Amz-SignedHeaders` in a presigned URL, or
/// `SignedHeaders=` in the `Authorization` header; a request with neither has none signed.
fn unsigned_amz_header(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let query_param = |wanted: &str| {
        uri.query().and_then(|query| {
            query.split('&').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.eq_ignore_ascii_case(wanted).then(|| {
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8_lossy()
                        .into_owned()
                })
            })
        })
    };
    // A query's list counts only in a presigned URL (one with a signature): on anything else
    // (a form upload, say) a client could name any header there.
    let from_query =
        query_param("X-Amz-Signature").and_then(|_| query_param("X-Amz-SignedHeaders"));
    let signed = from_query
        .or_else(|| {
            let authorization = headers.get(AUTHORIZATION)?.to_str().ok()?;
            authorization.split([',', ' ']).find_map(|part| {
                part.trim()
                    .strip_prefix("SignedHeaders=")
                    .map(str::to_owned)
            })
        })
        .unwrap_or_default()
        .to_ascii_lowercase();
    headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|name| name.starts_with("x-amz-") && *name != "x-amz-content-sha256")
        .find(|name| !signed.split(';').any(|s| s == *name))
        .map(str::to_owned)
}

/// Whether a request carries a form (a browser's form upload).
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..19)
                .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
        })
}

/// What a bucket CORS rule would allow browsers on `origins` (none when empty): the methods of
/// presigned requests, any request header (the store verifies what is signed), and the answer
/// headers uploaders and players read (`ETag` for multipart, `Content-Range` for seeking).
fn bucket_cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, Method, header};
    if origins.is_empty() {
        return None;
    }
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(crate::routes::allow_origins(origins))
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::PUT,
                Method::POST,
                Method::DELETE,
            ])
            .allow_headers(tower_http::cors::AllowHeaders::mirror_request())
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::CONTENT_RANGE,
                header::CONTENT_LENGTH,
                header::ACCEPT_RANGES,
                HeaderName::from_static("x-amz-version-id"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The largest file a form upload may carry here. s3s holds a form's file in memory, before any
/// check of its signature or policy: Uppy sends files up to 100 MiB as forms by default.
pub const MAX_FORM_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// Connections the store serves at once; more wait in the listen backlog. Each may hold a form.
const MAX_CONNECTIONS: usize = 64;

/// What s3s reads of a form before it checks it: tollgate's forms have a dozen small fields.
/// s3s parses the fields again from the start with each chunk it reads (its buffer holds the
/// first chunk of the file too, up to a network read): the buffer bound keeps that cost small.
fn form_limits() -> S3Config {
    let mut config = S3Config::default();
    config.post_object_max_file_size = MAX_FORM_FILE_BYTES;
    config.form_max_field_size = 8 * 1024;
    config.form_max_fields_size = 1024 * 1024;
    config.form_max_parts = 32;
    config
}

/// A running embedded store; stopped when dropped.
pub struct EmbeddedStore {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl EmbeddedStore {
    /// Creates the bucket folder if missing and starts serving on `settings.embedded.addr`, with
    /// S3's rules (`StoreRules::STRICT`) and tollgate's configured keys: the read key may only
    /// read and the upload key only write, like the IAM policies the README recommends. With
    /// one key (no upload key configured), that key may do both.
    pub async fn start(settings: &StorageSettings) -> Result<Self, EmbeddedStoreError> {
        let Some(read) = settings.read_key() else {
            return Err(EmbeddedStoreError::NoCredentials);
        };
        let keys = match settings.upload_key() {
            Some(upload) if upload.access_key != read.access_key => vec![
                StoreKey::new(&read, true, false),
                StoreKey::new(&upload, false, true),
            ],
            _ => vec![StoreKey::new(&read, true, true)],
        };
        Self::start_with_keys(settings, keys, StoreRules::STRICT).await
    }

    /// As `start`, with these keys and rules instead (tests of signer permissions and of
    /// what a lenient store would let through).
    pub async fn start_with_keys(
        settings: &StorageSettings,
        keys: Vec<StoreKey>,
        rules: StoreRules,
    ) -> Result<Self, EmbeddedStoreError> {
        if keys.is_empty() {
            return Err(EmbeddedStoreError::NoCredentials);
        }
        let root = &settings.embedded.data_dir;
        // s3s-fs keeps one folder per bucket: creating it is creating the bucket.
        let bucket_dir = root.join(&settings.bucket);
        std::fs::create_dir_all(&bucket_dir)
            .map_err(|e| EmbeddedStoreError::DataDir(bucket_dir.display().to_string(), e))?;
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| EmbeddedStoreError::Open(format!("{e:?}")))?;
        let mut auth = SimpleAuth::new();
        for key in &keys {
            auth.register(key.access_key.clone(), key.secret_key.clone().into());
        }
        let mut builder = S3ServiceBuilder::new(FileStore {
            fs,
            root: root.clone(),
        });
        builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(form_limits()))));
        builder.set_auth(auth);
        builder.set_access(KeyPermissions {
            keys,
            rules,
            root: root.clone(),
        });
        let service = tower::ServiceBuilder::new()
            .option_layer(bucket_cors(&settings.embedded.cors_origins))
            .map_request(|request: axum::http::Request<hyper::body::Incoming>| {
                let max = if is_form(request.headers()) {
                    MAX_FRAME_BYTES
                } else {
                    usize::MAX
                };
                request.map(|body| SmallFrames::new(body, max))
            })
            .service(builder.build());

        let listener = TcpListener::bind(settings.embedded.addr)
            .await
            .map_err(|e| EmbeddedStoreError::Bind(settings.embedded.addr, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| EmbeddedStoreError::Bind(settings.embedded.addr, e))?;
        let (shutdown, mut stopped) = watch::channel(false);

        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                let socket = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _)) => socket,
                        Err(e) => {
                            tracing::warn!(error = %e, "embedded store: accept failed");
                            continue;
                        }
                    },
                    _ = stopped.changed() => break,
                };
                // Without this a keep-alive GET waits ~30 ms on Nagle + delayed ACK.
                let _ = socket.set_nodelay(true);
                let connection = http
                    .serve_connection(
                        TokioIo::new(socket),
                        TowerToHyperService::new(service.clone()),
                    )
                    .into_owned();
                let mut conn_stopped = stopped.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    tokio::select! {
                        _ = connection => {}
                        // Dropping the connection closes it: a stopped store must look stopped.
                        _ = conn_stopped.changed() => {}
                    }
                });
            }
            tracing::info!("embedded store stopped");
        });
        tracing::info!(%addr, data_dir = %root.display(), "embedded S3 store (s3s-fs) listening");
        Ok(Self { addr, shutdown })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and closes open connections.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.stop();
    }
}
