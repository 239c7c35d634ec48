use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::TokenVerifier;
use crate::entitlement::Policy;
use crate::storage::Storage;

/// What handlers share: one `Arc`, so that a clone is one atomic increment. Axum clones the
/// state for every extractor and every boxed route service a request passes through (callgrind:
/// 17 clones per `GET /videos/{id}/url`), which cost an increment and a decrement per field when
/// each field was an `Arc` of its own.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The services and settings behind [`AppState`].
pub struct Shared {
    pub verifier: Arc<TokenVerifier>,
    pub policy: Arc<Policy>,
    pub storage: Arc<Storage>,
    pub presign: crate::config::PresignSettings,
    pub uploads: Arc<crate::config::UploadSettings>,
    /// `None` when `uploads.id_secret` is unset: uploads are disabled.
    pub upload_ids: Option<Arc<crate::uploads::UploadIds>>,
    /// The clock every expiry decision reads.
    pub clock: crate::clock::SharedClock,
    /// HLS streaming; `None` when `hls.grant_secret` is unset.
    pub hls: Option<Arc<crate::hls::Hls>>,
    /// Where audit events go.
    pub audit: Arc<crate::audit::Audit>,
    /// Revocation, rate limits, stream leases: their state in memory or in Redis.
    pub controls: Arc<crate::controls::Controls>,
    /// The `/demo` page, when `demo.enabled`.
    pub demo: Option<Arc<crate::demo::Demo>>,
    /// Where completed uploads are announced (a no-op without `webhooks.url`).
    pub webhooks: crate::webhooks::Webhooks,
}

impl FromRef<AppState> for Arc<TokenVerifier> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.verifier)
    }
}
