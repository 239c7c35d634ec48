//! Log hygiene, in a test binary of its own. tracing caches per call site whether any subscriber
//! listens; while other tests register call sites on other threads, a subscriber set for one
//! thread can miss events. Here these are the only tests, and they run one at a time.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../api/helpers/mod.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;
mod logs;

/// Held by each test for its whole run.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
