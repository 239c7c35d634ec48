//! Integration tests: tollgate spawned on a random port, its embedded S3 store (s3s-fs, which
//! verifies SigV4 and expiry for real) in a temporary folder, plain HTTP in between.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod auth;
mod cli;
mod controls;
mod cors;
mod demo;
mod faults;
mod health;
mod helpers;
mod hls;
mod hls_hostile;
mod hls_hostile2;
mod hostile_urls;
mod jwks;
mod metrics;
mod openapi;
mod post_policy;
mod server;
mod shutdown;
mod signers;
mod storage;
mod upload_bounds;
mod uploads;
mod uppy;
mod videos;
mod webhooks;
