//! Signed completion webhooks, as the Standard Webhooks specification says
//! (<https://www.standardwebhooks.com>): every completed upload is POSTed to `webhooks.url` as an
//! `upload.completed` event with `webhook-id`, `webhook-timestamp` and `webhook-signature`
//! headers, retried with exponential backoff and full jitter, idempotent by `webhook-id`.
//!
//! `event` builds the message, `signature` signs it, `delivery` queues and sends it, `settings`
//! holds `[webhooks]`. What completes an upload is decided in `crate::uploads`, which hands
//! each completion to [`Webhooks::upload_completed`].

mod delivery;
mod event;
mod settings;
mod signature;

use std::time::SystemTime;

pub use delivery::{Drain, WebhookError, Webhooks};
pub use event::{CompletedVia, EventError, Message, UPLOAD_COMPLETED, UploadCompleted, message_id};
pub use settings::WebhookSettings;
pub use signature::{SecretError, WebhookSecret};

impl Webhooks {
    /// Announces a completed upload that happened `at` (nothing without `webhooks.url`).
    pub fn upload_completed(&self, data: &UploadCompleted, at: SystemTime) {
        if !self.enabled() {
            return;
        }
        match Message::upload_completed(data, at) {
            Ok(message) => self.send(message),
            Err(e) => tracing::error!(
                key = %data.key,
                error = %crate::telemetry::error_chain(&e),
                "webhook event not built"
            ),
        }
    }
}
