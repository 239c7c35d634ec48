//! The credentials tollgate signs with, cached here rather than inside the SDK so that the
//! presigner knows their expiry: a URL must not outlive the credentials that signed it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

use crate::clock::SharedClock;

/// Temporary credentials are renewed this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

pub struct CredentialsCache {
    source: SharedCredentialsProvider,
    current: RwLock<Option<Credentials>>,
    refresh: tokio::sync::Mutex<()>,
    clock: SharedClock,
}

impl std::fmt::Debug for CredentialsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsCache").finish_non_exhaustive()
    }
}

impl CredentialsCache {
    pub fn new(source: SharedCredentialsProvider, clock: SharedClock) -> Self {
        Self {
            source,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            clock,
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

    /// Current credentials, renewed from the source when missing or close to expiry.
    pub async fn get(
        &self,
    ) -> Result<Credentials, aws_credential_types::provider::error::CredentialsError> {
        if let Some(creds) = self.cached_fresh() {
            return Ok(creds);
        }
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
    pub async fn expiry(
        &self,
    ) -> Result<Option<SystemTime>, aws_credential_types::provider::error::CredentialsError> {
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
