//! The credentials tollgate signs with, cached here rather than inside the SDK so that the
//! presigner knows their expiry: a URL must not outlive the credentials that signed it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

use crate::clock::SharedClock;

/// Temporary credentials are renewed this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

pub struct CredentialsCache {
    source: SharedCredentialsProvider,
    current: RwLock<Option<Credentials>>,
    refresh: tokio::sync::Mutex<()>,
    clock: SharedClock,
    /// Longest wait for credentials, the refresh lock's included (`storage.operation_timeout_ms`).
    timeout: Duration,
}

impl std::fmt::Debug for CredentialsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsCache").finish_non_exhaustive()
    }
}

impl CredentialsCache {
    pub fn new(source: SharedCredentialsProvider, clock: SharedClock, timeout: Duration) -> Self {
        Self {
            source,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            clock,
            timeout,
        }
    }

    fn cached_fresh(&self) -> Option<Credentials> {
        let guard = self.current.read().ok()?;
        let creds = guard.as_ref()?;
        let fresh = creds
            .expiry()
            .is_none_or(|exp| exp > self.clock.now() + REFRESH_BEFORE_EXPIRY);
        fresh.then(|| creds.clone())
    }

    /// Current credentials, renewed from the source when missing or close to expiry, within
    /// the timeout. Presigning needs no store call, but temporary credentials (STS, IMDS,
    /// container) do a network call to renew: without the bound, a silent credentials
    /// endpoint would hold every signing request, queued on the refresh lock, until the
    /// request timeout.
    pub async fn get(&self) -> Result<Credentials, CredentialsError> {
        if let Some(creds) = self.cached_fresh() {
            return Ok(creds);
        }
        tokio::time::timeout(self.timeout, self.refreshed())
            .await
            .unwrap_or_else(|_| Err(CredentialsError::provider_timed_out(self.timeout)))
    }

    async fn refreshed(&self) -> Result<Credentials, CredentialsError> {
        let _single_flight = self.refresh.lock().await;
        if let Some(creds) = self.cached_fresh() {
            return Ok(creds);
        }
        let creds = self.source.provide_credentials().await?;
        if let Ok(mut slot) = self.current.write() {
            *slot = Some(creds.clone());
        }
        Ok(creds)
    }

    /// When the current credentials expire (`None`: static credentials).
    pub async fn expiry(&self) -> Result<Option<SystemTime>, CredentialsError> {
        Ok(self.get().await?.expiry())
    }
}

/// The SDK side: the SDK's own identity cache is disabled, so it asks this one every time.
#[derive(Debug, Clone)]
pub(super) struct CachedProvider(pub Arc<CredentialsCache>);

impl ProvideCredentials for CachedProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.0.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A credentials endpoint that accepts and never answers.
    #[derive(Debug)]
    struct Silent;

    impl ProvideCredentials for Silent {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::new(std::future::pending())
        }
    }

    #[tokio::test]
    async fn a_silent_credentials_source_fails_every_caller_within_the_timeout() {
        let timeout = Duration::from_millis(200);
        let cache = CredentialsCache::new(
            SharedCredentialsProvider::new(Silent),
            Arc::new(crate::clock::SystemClock),
            timeout,
        );
        let started = tokio::time::Instant::now();
        // Three callers at once: one fetches, two queue on the refresh lock.
        let (a, b, c) = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(cache.get(), cache.get(), cache.get())
        })
        .await
        .expect("answered, not hanging");
        assert!(a.is_err() && b.is_err() && c.is_err(), "{a:?} {b:?} {c:?}");
        assert!(started.elapsed() < timeout * 2, "{:?}", started.elapsed());
    }
}
