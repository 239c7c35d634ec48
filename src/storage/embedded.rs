//! An s3s-fs S3-compatible server run in-process: the default store for `cargo run` and
//! `cargo test`. It verifies SigV4 signatures and URL expiry for real, which is what makes the
//! URL tests honest.

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s::{S3Result, s3_error};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::StorageSettings;

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
}

/// Operations that need `write`; every other operation needs `read`.
const WRITE_OPERATIONS: [&str; 9] = [
    "PutObject",
    "UploadPart",
    "UploadPartCopy",
    "CopyObject",
    "CreateMultipartUpload",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "DeleteObject",
    "DeleteObjects",
];

struct KeyPermissions(Vec<StoreKey>);

#[async_trait::async_trait]
impl S3Access for KeyPermissions {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        // Unsigned requests are anonymous: the bucket is private.
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "anonymous access is not allowed"));
        };
        let Some(key) = self
            .0
            .iter()
            .find(|k| k.access_key == credentials.access_key)
        else {
            return Err(s3_error!(AccessDenied, "unknown access key"));
        };
        let allowed = if WRITE_OPERATIONS.contains(&cx.s3_op().name()) {
            key.write
        } else {
            key.read
        };
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

/// A running embedded store; stopped when dropped.
pub struct EmbeddedStore {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl EmbeddedStore {
    /// Creates the bucket folder if missing and starts serving on `settings.embedded.addr`, with
    /// tollgate's configured key allowed to read and write.
    pub async fn start(settings: &StorageSettings) -> Result<Self, EmbeddedStoreError> {
        let (Some(access_key), Some(secret_key)) =
            (&settings.access_key_id, &settings.secret_access_key)
        else {
            return Err(EmbeddedStoreError::NoCredentials);
        };
        let key = StoreKey {
            access_key: access_key.clone(),
            secret_key: secret_key.expose().to_owned(),
            read: true,
            write: true,
        };
        Self::start_with_keys(settings, vec![key]).await
    }

    /// As `start`, with these keys instead of the configured one (tests of signer permissions).
    pub async fn start_with_keys(
        settings: &StorageSettings,
        keys: Vec<StoreKey>,
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
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(auth);
        builder.set_access(KeyPermissions(keys));
        let service = builder.build();

        let listener = TcpListener::bind(settings.embedded.addr)
            .await
            .map_err(|e| EmbeddedStoreError::Bind(settings.embedded.addr, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| EmbeddedStoreError::Bind(settings.embedded.addr, e))?;
        let (shutdown, mut stopped) = watch::channel(false);

        tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
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
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                let mut conn_stopped = stopped.clone();
                tokio::spawn(async move {
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
