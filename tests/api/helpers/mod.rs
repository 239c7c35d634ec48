//! Spawns tollgate on a random port against the store under test, and gives tests what they need
//! to talk to both: an HTTP client, an S3 client, and token minting.
//!
//! The store under test is the embedded s3s-fs store (default), or the external S3-compatible
//! store named by `TOLLGATE_TEST_S3_*` (`scripts/garage.sh -- cargo test` sets them for Garage):
//! the same tests run against both, and what differs between stores is declared in
//! [`StoreProfile`].

mod app;
mod auth;
mod fault_proxy;
mod hls;
mod raw;
mod redis;
mod requests;
mod store;
mod webhooks;

pub use app::*;
pub use auth::*;
pub use fault_proxy::*;
pub use hls::*;
pub use raw::*;
pub use redis::*;
pub use requests::{form_fields, form_secs_left};
pub use store::*;
pub use webhooks::*;
