//! An s3s-fs S3-compatible server run in-process: the default store for `cargo run` and
//! `cargo test`. It verifies SigV4 signatures and URL expiry for real, which is what makes the
//! URL tests honest.

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
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

/// A running embedded store; stopped when dropped.
pub struct EmbeddedStore {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl EmbeddedStore {
    /// Creates the bucket folder if missing and starts serving on `settings.embedded.addr`.
    pub async fn start(settings: &StorageSettings) -> Result<Self, EmbeddedStoreError> {
        let (Some(access_key), Some(secret_key)) =
            (&settings.access_key_id, &settings.secret_access_key)
        else {
            return Err(EmbeddedStoreError::NoCredentials);
        };
        let root = &settings.embedded.data_dir;
        // s3s-fs keeps one folder per bucket: creating it is creating the bucket.
        let bucket_dir = root.join(&settings.bucket);
        std::fs::create_dir_all(&bucket_dir)
            .map_err(|e| EmbeddedStoreError::DataDir(bucket_dir.display().to_string(), e))?;
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| EmbeddedStoreError::Open(format!("{e:?}")))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(
            access_key.clone(),
            secret_key.expose().to_owned(),
        ));
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
