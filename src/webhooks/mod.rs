//! Signed completion webhooks, as the Standard Webhooks specification says
//! (<https://www.standardwebhooks.com>). `settings` holds `[webhooks]`; `signature` signs.

mod settings;
mod signature;

pub use settings::WebhookSettings;
pub use signature::{SecretError, WebhookSecret};
