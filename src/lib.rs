//! tollgate: short-lived presigned S3 URLs for callers who prove who they are (JWT) and what they
//! paid for (entitlement).
//!
//! A request flows: `routes` (thin handlers) → `auth` (Bearer JWT → `Caller`) → `controls`
//! (revocation, rate limits, stream leases; memory or Redis) → `domain` (parsed
//! ids and keys) → `playback` or `uploads` (the rules: `storage` for object metadata,
//! `entitlement` for the decision) → `storage` (presign).

pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod controls;
pub mod demo;
pub mod domain;
pub mod entitlement;
pub mod error;
pub mod hls;
pub mod jitter;
pub mod metrics;
pub mod playback;
pub mod routes;
pub mod secret;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod uploads;
pub mod webhooks;

pub use routes::router as build_app;
pub use startup::Application;
