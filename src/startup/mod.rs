//! Wiring: settings in, a listening application out.

mod serve;
mod stall;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::auth::{JwksCache, JwksError, TokenVerifier};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Environment, Settings};
use crate::entitlement::Policy;
use crate::routes;
use crate::state::{AppState, Shared};
use crate::storage::{S3Clients, Storage, StorageError, StorageErrorKind, UploadKeyRead};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[cfg(feature = "embedded-store")]
    #[error("could not start the embedded store")]
    EmbeddedStore(#[from] crate::storage::EmbeddedStoreError),
    #[error("could not set up the S3 client")]
    Storage(#[from] StorageError),
    #[error("could not set up the JWKS client")]
    Jwks(#[from] JwksError),
    #[error("could not listen on {0}")]
    Bind(String, #[source] std::io::Error),
    #[error("{0} (or set storage.allow_upload_key_read = true)")]
    UploadKeyCanRead(String),
    #[error("could not set up the controls' shared state")]
    Controls(#[from] crate::controls::ControlsError),
    #[error("could not set up the audit trail")]
    Audit(#[from] crate::audit::AuditError),
    #[error("could not set up webhooks")]
    Webhooks(#[from] crate::webhooks::WebhookError),
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    /// `server.admin_port`'s listener, when set.
    admin: Option<(TcpListener, SocketAddr)>,
    router: axum::Router,
    limits: serve::Limits,
    /// The webhook delivery task, drained at shutdown (with `webhooks.url`).
    webhooks: Option<crate::webhooks::Drain>,
    #[cfg(feature = "embedded-store")]
    store: Option<Arc<crate::storage::EmbeddedStore>>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As `build`, with the clock every expiry decision reads (tests move it).
    pub async fn build_with_clock(
        settings: Settings,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        #[cfg(feature = "embedded-store")]
        let store = match settings.storage.embedded.enabled {
            true => Some(Arc::new(
                crate::storage::EmbeddedStore::start(&settings.storage).await?,
            )),
            false => None,
        };
        #[cfg(feature = "embedded-store")]
        let endpoint = store.as_ref().map(|s| s.endpoint());
        #[cfg(not(feature = "embedded-store"))]
        let endpoint = None;

        let storage = Arc::new(build_storage(&settings, endpoint, &clock).await?);
        let jwks = start_jwks(&settings).await?;
        let controls = crate::controls::Controls::new(
            &crate::controls::ControlSettings {
                state: &settings.state,
                revocation: &settings.revocation,
                limits: &settings.limits,
                streams: &settings.streams,
                trusted_proxies: &settings.server.trusted_proxies,
                quota: crate::controls::QuotaSettings::from_uploads(&settings.uploads),
            },
            Arc::clone(&clock),
        )?;
        tracing::info!(backend = controls.backend_name(), "controls' state");
        let (webhooks, webhooks_drain) =
            crate::webhooks::Webhooks::start(&settings.webhooks, Arc::clone(&clock))?;
        let state = AppState::new(Shared {
            webhooks,
            audit: Arc::new(crate::audit::Audit::new(&settings.audit)?),
            controls: Arc::new(controls),
            verifier: Arc::new(TokenVerifier::new(&settings.auth, jwks, Arc::clone(&clock))),
            clock,
            policy: Arc::new(Policy::new(
                &settings.entitlement,
                &settings.auth,
                &settings.uploads,
                &settings.hls,
            )),
            storage: Arc::clone(&storage),
            presign: settings.presign,
            uploads: Arc::new(settings.uploads.clone()),
            upload_ids: settings
                .uploads
                .id_secret
                .as_ref()
                .map(|s| Arc::new(crate::uploads::UploadIds::new(s.expose().as_bytes()))),
            hls: crate::hls::Hls::new(
                &settings.hls,
                Duration::from_secs(settings.storage.metadata_cache_ttl_secs),
                settings.storage.metadata_cache_capacity,
            )
            .map(Arc::new),
            demo: settings.demo.enabled.then(|| {
                Arc::new(crate::demo::Demo::new(
                    &settings.auth,
                    &settings.storage.key_prefix,
                ))
            }),
        });

        let bind = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&bind)
            .await
            .map_err(|e| StartupError::Bind(bind.clone(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(bind, e))?;
        let admin = match settings.server.admin_port {
            Some(port) => {
                let bind = format!("{}:{port}", settings.server.host);
                let listener = TcpListener::bind(&bind)
                    .await
                    .map_err(|e| StartupError::Bind(bind.clone(), e))?;
                let addr = listener
                    .local_addr()
                    .map_err(|e| StartupError::Bind(bind, e))?;
                Some((listener, addr))
            }
            None => None,
        };

        check_storage(&settings, &storage).await?;

        Ok(Self {
            listener,
            addr,
            router: routes::router(
                state,
                &settings.cors,
                routes::RequestLimits::from_settings(&settings.server),
                admin.is_none(),
            ),
            admin,
            limits: serve::Limits {
                header_read_timeout: settings.server.header_read_timeout(),
                write_timeout: settings.server.write_timeout(),
                max_connections: settings.server.max_connections,
                shutdown_grace: settings.server.shutdown_grace(),
            },
            webhooks: webhooks_drain,
            #[cfg(feature = "embedded-store")]
            store,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `server.admin_port`'s address, when set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// The whole HTTP service, for driving in-process (`tower::ServiceExt::oneshot`).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// The embedded store, when it runs (tests stop it to see readiness fail).
    #[cfg(feature = "embedded-store")]
    pub fn embedded_store(&self) -> Option<Arc<crate::storage::EmbeddedStore>> {
        self.store.clone()
    }

    /// Serves until SIGTERM or SIGINT, then gives in-flight requests the grace period and drops
    /// the connections still open after it; webhook events still pending get what is left of
    /// the same grace period. Accept errors are logged and retried, not fatal.
    pub async fn run_until_stopped(self) {
        tracing::info!(addr = %self.addr, "tollgate listening");
        let admin = self.admin.map(|(listener, addr)| {
            tracing::info!(%addr, "metrics listening");
            tokio::spawn(serve::serve(
                listener,
                routes::admin_router(),
                self.limits,
                shutdown_signal(),
            ))
        });
        let stopping = Arc::new(std::sync::OnceLock::new());
        let signal = {
            let stopping = Arc::clone(&stopping);
            async move {
                shutdown_signal().await;
                let _ = stopping.set(tokio::time::Instant::now());
            }
        };
        serve::serve(self.listener, self.router, self.limits, signal).await;
        if let Some(admin) = admin {
            admin.abort();
        }
        // The requests are done, so no event can come any more: the grace counts from the
        // signal, so that a stop takes `shutdown_grace_secs` at most, not twice that.
        if let Some(webhooks) = self.webhooks {
            let since = stopping
                .get()
                .copied()
                .unwrap_or_else(tokio::time::Instant::now);
            webhooks.finish(since + self.limits.shutdown_grace).await;
        }
    }
}

/// The store's clients and signers: one key reads and signs playback, the other signs uploads
/// (the same key twice when no upload key is configured).
async fn build_storage(
    settings: &Settings,
    endpoint: Option<String>,
    clock: &SharedClock,
) -> Result<Storage, StartupError> {
    let storage = &settings.storage;
    let read = S3Clients::new(
        storage,
        storage.read_key(),
        endpoint.clone(),
        Arc::clone(clock),
    )
    .await?;
    let upload = match storage.upload_key() {
        Some(key) => S3Clients::new(storage, Some(key), endpoint, Arc::clone(clock)).await?,
        None => read.clone(),
    };
    let upload_key_read_allowed = !settings.is_production() || storage.allow_upload_key_read;
    Ok(Storage::new(
        storage,
        read,
        upload,
        upload_key_read_allowed,
        Arc::clone(clock),
    )
    .await?)
}

/// Asks the store what tollgate's keys may do. Not fatal when the store does not answer (it may
/// come up after us; `/readyz` reports it meanwhile); a key that may not read or write, or a
/// wrong region, is an operator error worth shouting about; an upload key that can read stops
/// a production start.
async fn check_storage(settings: &Settings, storage: &Storage) -> Result<(), StartupError> {
    let uploads_enabled = settings.uploads.id_secret.is_some();
    let report = storage.readiness(uploads_enabled).await;
    let results = [
        Some(&report.bucket),
        Some(&report.read),
        report.write.as_ref(),
    ];
    let mut healthy = true;
    for e in results
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_ref().err())
    {
        healthy = false;
        if matches!(
            e.kind,
            StorageErrorKind::Forbidden | StorageErrorKind::WrongRegion
        ) {
            tracing::error!(bucket = storage.bucket(), error = %e, "storage misconfigured: requests that need it will answer 503");
        } else {
            tracing::warn!(bucket = storage.bucket(), error = %e, "storage not ready at start-up");
        }
    }
    match &report.upload_key_read {
        UploadKeyRead::CanRead {
            allowed: false,
            reason,
        } => return Err(StartupError::UploadKeyCanRead(reason.clone())),
        UploadKeyRead::CanRead { reason, .. } if settings.environment != Environment::Local => {
            tracing::warn!(%reason, "upload URLs are signed by a key that can read objects");
        }
        UploadKeyRead::Unknown(e) => {
            tracing::warn!(error = %e, "could not ask whether the upload key can read");
        }
        _ => {}
    }
    if healthy {
        tracing::info!(
            bucket = storage.bucket(),
            uploads_enabled,
            "storage reachable with the permissions tollgate needs"
        );
    }
    Ok(())
}

async fn start_jwks(settings: &Settings) -> Result<Option<Arc<JwksCache>>, StartupError> {
    let Some(url) = &settings.auth.jwks_url else {
        return Ok(None);
    };
    let auth = &settings.auth;
    let cache = Arc::new(JwksCache::new(
        url.clone(),
        Duration::from_secs(auth.jwks_fetch_timeout_secs),
        Duration::from_secs(auth.jwks_min_refetch_secs),
    )?);
    match cache.refresh().await {
        Ok(count) => tracing::info!(count, "JWKS keys loaded"),
        Err(e) => {
            tracing::warn!(error = %crate::error::error_chain(&e), "JWKS not loaded at start-up; will retry");
        }
    }
    cache.spawn_refresher(Duration::from_secs(auth.jwks_refresh_secs));
    Ok(Some(cache))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
