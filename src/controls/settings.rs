//! The controls' settings: `[state]` (where their shared state lives), `[revocation]`,
//! `[limits]` and `[streams]`, and their validation. Upload quotas are `uploads.quota_*`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Longest rate-limit period: a day. Longer windows are quotas, not rate limits.
const MAX_PERIOD_SECS: u64 = 86_400;
/// Most requests per period, burst included: beyond this a limit is "off" written badly.
const MAX_REQUESTS: u32 = 10_000_000;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`). Unset: the controls' state
    /// lives in this process's memory, which is right for one replica only.
    pub redis_url: Option<Secret>,
    /// Prefix of every key tollgate writes, so that several deployments can share one Redis.
    pub key_prefix: String,
    /// Timeout of one connection attempt to Redis.
    pub connect_timeout_ms: u64,
    /// Timeout of one Redis command, after which its control's failure policy decides.
    pub response_timeout_ms: u64,
}

impl StateSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms)
    }

    fn validate(&self, problems: &mut Vec<String>) {
        if let Some(url) = &self.redis_url {
            let url = url.expose();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                problems.push("state.redis_url must start with redis:// or rediss://".to_owned());
            } else if redis::Client::open(url).is_err() {
                problems.push("state.redis_url is not a valid Redis URL".to_owned());
            }
        }
        if self.key_prefix.is_empty()
            || self.key_prefix.len() > 64
            || !self.key_prefix.bytes().all(|b| b.is_ascii_graphic())
        {
            problems.push(format!(
                "state.key_prefix must be 1..=64 printable ASCII characters, got {:?}",
                self.key_prefix
            ));
        }
        for (name, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("response_timeout_ms", self.response_timeout_ms),
        ] {
            if !(1..=60_000).contains(&value) {
                problems.push(format!("state.{name} must be 1..=60000, got {value}"));
            }
        }
    }
}

/// What a control does while its shared state cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Let the request through as if the control had said yes.
    FailOpen,
    /// Refuse the request: 503 `state_unavailable` with `Retry-After`.
    FailClosed,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationSettings {
    pub failure_policy: FailurePolicy,
    /// How long a revoked `jti` is remembered when the revocation names no expiry: the longest
    /// lifetime of the tokens your identity provider issues.
    pub jti_ttl_secs: u64,
}

/// One GCRA limit: `requests` per `period_secs` on average, at most `burst` at once.
/// `requests = 0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub requests: u32,
    pub period_secs: u64,
    pub burst: u32,
}

impl Rate {
    pub fn is_off(&self) -> bool {
        self.requests == 0
    }

    fn validate(&self, name: &str, problems: &mut Vec<String>) {
        if self.is_off() {
            return;
        }
        if !(1..=MAX_PERIOD_SECS).contains(&self.period_secs) {
            problems.push(format!(
                "{name}.period_secs must be 1..={MAX_PERIOD_SECS}, got {}",
                self.period_secs
            ));
        }
        if self.requests > MAX_REQUESTS || !(1..=MAX_REQUESTS).contains(&self.burst) {
            problems.push(format!(
                "{name}: requests must be 0..={MAX_REQUESTS} and burst 1..={MAX_REQUESTS}, got {} and {}",
                self.requests, self.burst
            ));
        }
    }
}

/// A tier's own limits per route class; a class not named keeps the general limit.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TierRates {
    pub playback: Option<Rate>,
    pub upload: Option<Rate>,
    pub admin: Option<Rate>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub failure_policy: FailurePolicy,
    /// Per client IP, on every route but the health checks, before authentication.
    pub ip: Rate,
    /// Per subject: playback URLs and HLS playlists.
    pub playback: Rate,
    /// Per subject: every upload route.
    pub upload: Rate,
    /// Per subject: the admin routes.
    pub admin: Rate,
    /// Per-tier overrides: a subject with several tiers gets the most generous one.
    pub tiers: BTreeMap<String, TierRates>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    pub failure_policy: FailurePolicy,
    /// Most playback sessions a subject holds at once; 0: no limit.
    pub max_concurrent: u32,
    /// Per-tier overrides (0: no limit); a subject with several tiers gets the most generous.
    pub tiers: BTreeMap<String, u32>,
}

/// The controls' sections, validated together.
pub fn validate(
    state: &StateSettings,
    revocation: &RevocationSettings,
    limits: &LimitSettings,
    streams: &StreamSettings,
    tiers: &[String],
    problems: &mut Vec<String>,
) {
    state.validate(problems);
    if !(1..=crate::config::MAX_PRESIGN_EXPIRY_SECS * 52).contains(&revocation.jti_ttl_secs) {
        problems.push(format!(
            "revocation.jti_ttl_secs must be 1 s to a year, got {}",
            revocation.jti_ttl_secs
        ));
    }
    for (name, rate) in [
        ("limits.ip", &limits.ip),
        ("limits.playback", &limits.playback),
        ("limits.upload", &limits.upload),
        ("limits.admin", &limits.admin),
    ] {
        rate.validate(name, problems);
    }
    for (tier, rates) in &limits.tiers {
        if !tiers.contains(tier) {
            problems.push(format!(
                "limits.tiers names {tier:?}, which is not in entitlement.tiers"
            ));
        }
        for (class, rate) in [
            ("playback", &rates.playback),
            ("upload", &rates.upload),
            ("admin", &rates.admin),
        ] {
            if let Some(rate) = rate {
                rate.validate(&format!("limits.tiers.{tier}.{class}"), problems);
            }
        }
    }
    for tier in streams.tiers.keys() {
        if !tiers.contains(tier) {
            problems.push(format!(
                "streams.tiers names {tier:?}, which is not in entitlement.tiers"
            ));
        }
    }
}
