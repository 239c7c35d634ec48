//! What was handed out, controlled across replicas: revocation (subjects, tokens, videos), rate
//! limits (GCRA per client IP, per subject by route class and tier), concurrent-stream leases,
//! upload quotas.
//!
//! Every request's checks go to the state in one call ([`Controls::admit`]): one round trip to
//! Redis, or one pass over this process's maps. When the state cannot be reached, each control
//! follows its failure policy.

mod backend;
mod client_ip;
mod gcra;
pub mod settings;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};

use self::backend::{
    Backend, Check, LeaseCheck, LimitState, QuotaAnswer, QuotaCall, QuotaOp, RedisState,
    RevocationCheck,
};
pub use self::backend::{StateError, SubjectState, Target, TargetKey};
pub use self::client_ip::TrustedProxies;
use self::gcra::Gcra;
use self::settings::{FailurePolicy, LimitSettings, Rate, RevocationSettings, StreamSettings};
use crate::clock::{SharedClock, unix_secs};

/// Which per-subject limit a route counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Playback,
    Upload,
    Admin,
}

impl RouteClass {
    pub const ALL: [Self; 3] = [Self::Playback, Self::Upload, Self::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Self::Playback => "playback",
            Self::Upload => "upload",
            Self::Admin => "admin",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Who asks, as the controls see it: from a verified token, or from a playback grant.
#[derive(Debug, Clone, Copy)]
pub struct Principal<'a> {
    pub subject: &'a str,
    /// The token's `iat`.
    pub issued_at: Option<i64>,
    /// The token's `jti`.
    pub token_id: Option<&'a str>,
    /// Admins are exempt from takedowns.
    pub admin: bool,
    /// The caller's tiers, for per-tier limits.
    pub tiers: &'a [String],
}

/// One request, as the controls see it.
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    pub class: RouteClass,
    /// The client's address (see [`TrustedProxies`]); `None` where there is no socket (tests
    /// driving the router in-process).
    pub ip: Option<IpAddr>,
    /// `None`: not authenticated (the IP limit only).
    pub principal: Option<Principal<'a>>,
    /// A video asked for: refused when taken down.
    pub video: Option<&'a str>,
    /// A playback session to hold a lease for, until (seconds since the epoch).
    pub lease: Option<(&'a str, i64)>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    RateLimited {
        limit: RateLimitInfo,
        retry_after_secs: u64,
    },
    /// The subject's tokens issued at or before its not-before, or this token's `jti`.
    Revoked,
    VideoTakenDown,
    TooManyStreams {
        retry_after_secs: u64,
    },
    /// The shared state is unreachable and a control it needs fails closed.
    Unavailable,
    /// The subject has [`MAX_PENDING_UPLOADS`] uploads of unknown size not yet in the store.
    TooManyUploads,
    /// The upload does not fit in the subject's quota.
    QuotaExceeded {
        remaining_bytes: u64,
        resets_in_secs: u64,
    },
}

/// The `RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) of the
/// closest limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub policy: &'static str,
    pub quota: u32,
    pub window_secs: u64,
    pub remaining: u32,
    pub reset_secs: u64,
}

impl IntoResponseParts for RateLimitInfo {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        let headers = res.headers_mut();
        let policy = format!(
            "\"{}\";q={};w={}",
            self.policy, self.quota, self.window_secs
        );
        let state = format!(
            "\"{}\";r={};t={}",
            self.policy, self.remaining, self.reset_secs
        );
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        Ok(res)
    }
}

/// A request let through, with what its response should say of the limits.
#[derive(Debug, Default)]
pub struct Admitted {
    pub limit: Option<RateLimitInfo>,
}

/// The limits of one tier (or the general ones), by route class.
type ClassLimits = [Option<Gcra>; 3];

pub struct Controls {
    backend: Backend,
    clock: SharedClock,
    trusted_proxies: TrustedProxies,
    ip_limit: Option<Gcra>,
    class_limits: ClassLimits,
    tier_limits: BTreeMap<String, ClassLimits>,
    max_streams: u32,
    tier_streams: BTreeMap<String, u32>,
    revocation_policy: FailurePolicy,
    limits_policy: FailurePolicy,
    streams_policy: FailurePolicy,
    jti_ttl_secs: u64,
    quota: QuotaSettings,
    /// Whether the last call to the state succeeded, so that a change is logged once.
    reachable: AtomicBool,
}

/// How controls are set up.
pub struct ControlSettings<'a> {
    pub state: &'a settings::StateSettings,
    pub revocation: &'a RevocationSettings,
    pub limits: &'a LimitSettings,
    pub streams: &'a StreamSettings,
    pub trusted_proxies: &'a [String],
    pub quota: QuotaSettings,
}

/// Upload quotas (`uploads.quota_*`).
#[derive(Debug, Clone, Copy)]
pub struct QuotaSettings {
    /// Bytes per subject per period; 0: no quota.
    pub bytes: u64,
    pub period_secs: u64,
    pub failure_policy: FailurePolicy,
    /// How long a reservation is kept: as long as its upload id may complete.
    pub reservation_secs: u64,
}

impl QuotaSettings {
    pub fn from_uploads(uploads: &crate::config::UploadSettings) -> Self {
        Self {
            bytes: uploads.quota_bytes,
            period_secs: uploads.quota_period_secs.max(1),
            failure_policy: uploads.quota_failure_policy,
            reservation_secs: uploads.id_max_age_secs,
        }
    }
}

/// What a subject has used of its upload quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUse {
    pub quota_bytes: u64,
    pub used_bytes: u64,
    pub remaining_bytes: u64,
    pub resets_in_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlsError {
    #[error("state.redis_url: {0}")]
    Redis(#[source] StateError),
    #[error("server.trusted_proxies: {0:?} is neither an IP address nor a network")]
    TrustedProxy(String),
}

fn class_limits(playback: &Rate, upload: &Rate, admin: &Rate) -> ClassLimits {
    [
        Gcra::from_rate(playback),
        Gcra::from_rate(upload),
        Gcra::from_rate(admin),
    ]
}

impl Controls {
    pub fn new(settings: &ControlSettings<'_>, clock: SharedClock) -> Result<Self, ControlsError> {
        let backend = match &settings.state.redis_url {
            Some(url) => Backend::Redis(
                RedisState::new(url.expose(), settings.state).map_err(ControlsError::Redis)?,
            ),
            None => Backend::Memory(Box::default()),
        };
        let limits = settings.limits;
        let general = class_limits(&limits.playback, &limits.upload, &limits.admin);
        let tier_limits = limits
            .tiers
            .iter()
            .map(|(tier, rates)| {
                let or = |own: Option<Rate>, general: Option<Gcra>| match own {
                    Some(rate) => Gcra::from_rate(&rate),
                    None => general,
                };
                (
                    tier.clone(),
                    [
                        or(rates.playback, general[0]),
                        or(rates.upload, general[1]),
                        or(rates.admin, general[2]),
                    ],
                )
            })
            .collect();
        Ok(Self {
            backend,
            clock,
            trusted_proxies: TrustedProxies::parse(settings.trusted_proxies)
                .map_err(ControlsError::TrustedProxy)?,
            ip_limit: Gcra::from_rate(&limits.ip),
            class_limits: general,
            tier_limits,
            max_streams: settings.streams.max_concurrent,
            tier_streams: settings.streams.tiers.clone(),
            revocation_policy: settings.revocation.failure_policy,
            limits_policy: limits.failure_policy,
            streams_policy: settings.streams.failure_policy,
            jti_ttl_secs: settings.revocation.jti_ttl_secs,
            quota: settings.quota,
            reachable: AtomicBool::new(true),
        })
    }

    /// `memory` or `redis`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted_proxies
    }

    fn now_us(&self) -> u64 {
        self.clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// The limit a subject with `tiers` has for `class`: the most generous of its tiers' own
    /// limits, or the general one. `None`: unlimited.
    fn subject_limit(&self, class: RouteClass, tiers: &[String]) -> Option<Gcra> {
        let general = self.class_limits[class.index()];
        let mut best: Option<Option<Gcra>> = None;
        for limits in tiers.iter().filter_map(|t| self.tier_limits.get(t)) {
            let candidate = limits[class.index()];
            best = Some(match (best, candidate) {
                (None, c) => c,
                (Some(None), _) | (Some(_), None) => None,
                (Some(Some(b)), Some(c)) => {
                    Some(if (c.t, u64::MAX - c.tau) < (b.t, u64::MAX - b.tau) {
                        c
                    } else {
                        b
                    })
                }
            });
        }
        best.unwrap_or(general)
    }

    /// Most sessions a subject with `tiers` may hold; 0: no limit.
    fn stream_limit(&self, tiers: &[String]) -> u32 {
        let own: Vec<u32> = tiers
            .iter()
            .filter_map(|t| self.tier_streams.get(t).copied())
            .collect();
        if own.is_empty() {
            self.max_streams
        } else if own.contains(&0) {
            0
        } else {
            own.into_iter().max().unwrap_or(0)
        }
    }

    /// Whether sessions are limited for a subject with `tiers` (a lease is worth taking).
    pub fn streams_limited(&self, tiers: &[String]) -> bool {
        self.stream_limit(tiers) > 0
    }

    /// Every control for one request, in one call to the state.
    pub async fn admit(&self, admission: &Admission<'_>) -> Result<Admitted, Refusal> {
        let now_us = self.now_us();
        // Allocated only when a limit applies: most requests check revocation alone.
        let mut limits = Vec::new();
        let mut policies = Vec::new();
        if let (Some(gcra), Some(ip)) = (self.ip_limit, admission.ip) {
            limits.push((format!("ip:{}", client_ip::bucket(ip)), gcra));
            policies.push("ip");
        }
        let principal = admission.principal.as_ref();
        if let Some(p) = principal
            && let Some(gcra) = self.subject_limit(admission.class, p.tiers)
        {
            limits.push((format!("{}:{}", admission.class.name(), p.subject), gcra));
            policies.push(admission.class.name());
        }
        let revocation = principal.map(|p| RevocationCheck {
            subject: p.subject,
            issued_at: p.issued_at,
            token_id: p.token_id,
            video: admission.video.filter(|_| !p.admin),
        });
        let lease = match (principal, admission.lease) {
            (Some(p), Some((session, until))) => {
                let max = self.stream_limit(p.tiers);
                (max > 0).then(|| LeaseCheck {
                    subject: p.subject,
                    session,
                    until_us: u64::try_from(until).unwrap_or(0).saturating_mul(1_000_000),
                    max,
                })
            }
            _ => None,
        };
        if limits.is_empty() && revocation.is_none() && lease.is_none() {
            return Ok(Admitted::default());
        }
        let fails_closed = (revocation.is_some()
            && self.revocation_policy == FailurePolicy::FailClosed)
            || (!limits.is_empty() && self.limits_policy == FailurePolicy::FailClosed)
            || (lease.is_some() && self.streams_policy == FailurePolicy::FailClosed);
        let check = Check {
            now_us,
            limits,
            revocation,
            lease,
        };
        let verdict = match self.backend.check(&check).await {
            Ok(verdict) => {
                self.reached();
                verdict
            }
            Err(e) => {
                self.unreachable(&e);
                return if fails_closed {
                    Err(Refusal::Unavailable)
                } else {
                    Ok(Admitted::default())
                };
            }
        };
        let info = |which: usize, remaining: u32, reset_us: u64| {
            let gcra = check.limits[which].1;
            RateLimitInfo {
                policy: policies[which],
                quota: gcra.quota,
                window_secs: gcra.window_secs,
                remaining,
                reset_secs: reset_us.div_ceil(1_000_000),
            }
        };
        match verdict {
            backend::Verdict::Admitted(states) => Ok(Admitted {
                limit: closest(&states).map(|(which, s)| info(which, s.remaining, s.reset_us)),
            }),
            backend::Verdict::RateLimited {
                which,
                retry_us,
                reset_us,
            } => Err(Refusal::RateLimited {
                limit: info(which, 0, reset_us),
                retry_after_secs: retry_us.div_ceil(1_000_000).max(1),
            }),
            backend::Verdict::SubjectRevoked | backend::Verdict::TokenRevoked => {
                Err(Refusal::Revoked)
            }
            backend::Verdict::VideoTakenDown => Err(Refusal::VideoTakenDown),
            backend::Verdict::TooManyStreams { retry_us } => Err(Refusal::TooManyStreams {
                retry_after_secs: retry_us.div_ceil(1_000_000).max(1),
            }),
        }
    }

    fn reached(&self) {
        crate::metrics::Metrics::global().state_call(true);
        if !self.reachable.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                backend = self.backend.name(),
                "shared state reachable again"
            );
        }
    }

    fn unreachable(&self, error: &StateError) {
        crate::metrics::Metrics::global().state_call(false);
        if self.reachable.swap(false, Ordering::Relaxed) {
            tracing::error!(
                backend = self.backend.name(),
                error = %error,
                "shared state unreachable: each control follows its failure policy"
            );
        } else {
            tracing::debug!(error = %error, "shared state still unreachable");
        }
    }

    /// Runs `op` against the state, logging a change of reachability.
    async fn call<T>(
        &self,
        op: impl Future<Output = Result<T, StateError>>,
    ) -> Result<T, StateError> {
        match op.await {
            Ok(value) => {
                self.reached();
                Ok(value)
            }
            Err(e) => {
                self.unreachable(&e);
                Err(e)
            }
        }
    }

    /// Whether a control refuses requests while the state is unreachable.
    pub fn any_fails_closed(&self) -> bool {
        let mut policies = vec![
            self.revocation_policy,
            self.limits_policy,
            self.streams_policy,
        ];
        if self.quotas_on() {
            policies.push(self.quota.failure_policy);
        }
        policies.contains(&FailurePolicy::FailClosed)
    }

    /// Whether uploads are metered.
    pub fn quotas_on(&self) -> bool {
        self.quota.bytes > 0
    }

    /// One quota operation for `subject`'s upload `upload`: `None` when quotas are off, or the
    /// state is unreachable and quotas fail open.
    async fn quota_call(
        &self,
        op: QuotaOp,
        subject: &str,
        upload: &str,
        bytes: u64,
    ) -> Result<Option<(QuotaAnswer, QuotaUse)>, Refusal> {
        if !self.quotas_on() {
            return Ok(None);
        }
        let now_us = self.now_us();
        let period_us = self.quota.period_secs.saturating_mul(1_000_000);
        let window = now_us / period_us;
        let window_end_us = (window + 1).saturating_mul(period_us);
        let usage = format!("quota:{subject}:{window}");
        let reservation = format!("qres:{upload}");
        let call = QuotaCall {
            op,
            usage: &usage,
            reservation: &reservation,
            bytes,
            quota: self.quota.bytes,
            now_us,
            // A window's usage is kept one period past its end: a release or settlement of a
            // reservation made in it still finds it.
            usage_until_us: window_end_us.saturating_add(period_us),
            reservation_until_us: now_us
                .saturating_add(self.quota.reservation_secs.saturating_mul(1_000_000)),
        };
        let answer = self.quota_state(self.backend.quota(&call)).await?;
        Ok(answer.map(|answer| {
            let quota = QuotaUse {
                quota_bytes: self.quota.bytes,
                used_bytes: answer.used,
                remaining_bytes: self.quota.bytes.saturating_sub(answer.used),
                resets_in_secs: window_end_us.saturating_sub(now_us).div_ceil(1_000_000),
            };
            (answer, quota)
        }))
    }

    /// Refused when `answer` says the bytes did not fit.
    fn fits(answer: Option<(QuotaAnswer, QuotaUse)>) -> Result<Option<QuotaUse>, Refusal> {
        match answer {
            Some((answer, quota)) if !answer.done => Err(Refusal::QuotaExceeded {
                remaining_bytes: quota.remaining_bytes,
                resets_in_secs: quota.resets_in_secs,
            }),
            other => Ok(other.map(|(_, quota)| quota)),
        }
    }

    /// Holds `bytes` of `subject`'s quota for upload `upload` (its declared size), or refuses.
    /// Admins are exempt.
    pub async fn reserve_upload(
        &self,
        subject: &str,
        admin: bool,
        upload: &str,
        bytes: u64,
    ) -> Result<(), Refusal> {
        if admin {
            return Ok(());
        }
        Self::fits(
            self.quota_call(QuotaOp::Reserve, subject, upload, bytes)
                .await?,
        )
        .map(|_| ())
    }

    /// Gives an aborted upload's reservation back.
    pub async fn release_upload(&self, subject: &str, upload: &str) -> Result<(), Refusal> {
        self.quota_call(QuotaOp::Release, subject, upload, 0)
            .await
            .map(|_| ())
    }

    /// Settles a completed upload's reservation to its stored size.
    pub async fn settle_upload(
        &self,
        subject: &str,
        upload: &str,
        bytes: u64,
    ) -> Result<(), Refusal> {
        self.quota_call(QuotaOp::Settle, subject, upload, bytes)
            .await
            .map(|_| ())
    }

    /// Refuses `bytes` that do not fit in what `subject` has left. Admins are exempt.
    pub async fn ensure_fits(&self, subject: &str, admin: bool, bytes: u64) -> Result<(), Refusal> {
        match self.upload_budget(subject, admin).await? {
            Some(budget) if bytes > budget.remaining_bytes => Err(Refusal::QuotaExceeded {
                remaining_bytes: budget.remaining_bytes,
                resets_in_secs: budget.resets_in_secs,
            }),
            _ => Ok(()),
        }
    }

    /// Runs `op` under the quotas' failure policy: `None` when quotas are off, or the state is
    /// unreachable and quotas fail open.
    async fn quota_state<T>(
        &self,
        op: impl Future<Output = Result<T, StateError>>,
    ) -> Result<Option<T>, Refusal> {
        if !self.quotas_on() {
            return Ok(None);
        }
        match self.call(op).await {
            Ok(value) => Ok(Some(value)),
            Err(_) if self.quota.failure_policy == FailurePolicy::FailOpen => Ok(None),
            Err(_) => Err(Refusal::Unavailable),
        }
    }

    /// Tracks an upload of unknown size (Uppy's) under `key` until the store holds it and it is
    /// counted ([`Controls::count_stored`]). Refused past [`MAX_PENDING_UPLOADS`].
    pub async fn track_upload(&self, subject: &str, admin: bool, key: &str) -> Result<(), Refusal> {
        if admin {
            return Ok(());
        }
        let now = unix_secs(self.clock.now());
        let tracked = self
            .quota_state(self.backend.pending_add(
                subject,
                key,
                now,
                MAX_PENDING_UPLOADS,
                self.quota.reservation_secs,
            ))
            .await?;
        if tracked == Some(false) {
            return Err(Refusal::TooManyUploads);
        }
        Ok(())
    }

    /// `subject`'s uploads of unknown size not yet counted: object key, when it was signed.
    pub async fn pending_uploads(&self, subject: &str) -> Result<Vec<(String, i64)>, Refusal> {
        Ok(self
            .quota_state(self.backend.pending(subject))
            .await?
            .unwrap_or_default())
    }

    /// Counts a tracked upload's `bytes`, now in the store, once (whether they fit or not: they
    /// are stored), and stops tracking it.
    pub async fn count_stored(&self, subject: &str, key: &str, bytes: u64) -> Result<(), Refusal> {
        self.quota_call(QuotaOp::Add, subject, &format!("obj:{key}"), bytes)
            .await?;
        self.forget_upload(subject, key).await
    }

    /// Stops tracking an upload that never reached the store.
    pub async fn forget_upload(&self, subject: &str, key: &str) -> Result<(), Refusal> {
        self.quota_state(self.backend.pending_remove(subject, key))
            .await
            .map(|_| ())
    }

    /// What `subject` has left: `None` when it is not metered (quotas off, an admin, or the
    /// state unreachable with quotas failing open).
    pub async fn upload_budget(
        &self,
        subject: &str,
        admin: bool,
    ) -> Result<Option<QuotaUse>, Refusal> {
        if admin {
            return Ok(None);
        }
        let answer = self.quota_call(QuotaOp::Used, subject, "", 0).await?;
        Ok(answer.map(|(_, quota)| quota))
    }

    /// `/readyz`'s `state` check.
    pub async fn ping(&self) -> Result<(), StateError> {
        self.call(self.backend.ping()).await
    }

    /// Records a revocation. A token revocation without an end lasts `revocation.jti_ttl_secs`.
    pub async fn revoke(&self, target: Revoke) -> Result<Target, RevokeError> {
        let now = unix_secs(self.clock.now());
        let target = match target {
            Revoke::Token {
                until: Some(until), ..
            } if until <= now => {
                return Err(RevokeError::Invalid(InvalidTarget(
                    "expires_at is not in the future: the token has expired already".to_owned(),
                )));
            }
            Revoke::Subject {
                subject,
                not_before,
            } => Target::Subject {
                subject,
                not_before: not_before.unwrap_or(now),
            },
            Revoke::Token { token_id, until } => Target::Token {
                token_id,
                // No token lives for decades: a later end is kept as this one (Redis refuses
                // expiries beyond its range).
                until: until
                    .unwrap_or_else(|| {
                        now.saturating_add(i64::try_from(self.jti_ttl_secs).unwrap_or(i64::MAX))
                    })
                    .min(now.saturating_add(MAX_JTI_SECS)),
            },
            Revoke::Video { video } => Target::Video { video },
        };
        self.call(self.backend.revoke(&target, now)).await?;
        Ok(target)
    }

    pub async fn unrevoke(&self, key: &TargetKey) -> Result<bool, StateError> {
        self.call(self.backend.unrevoke(key)).await
    }

    pub async fn is_revoked(&self, key: &TargetKey) -> Result<bool, StateError> {
        let now = unix_secs(self.clock.now());
        self.call(self.backend.is_revoked(key, now)).await
    }

    /// Ends a session's lease early; whether it was held.
    pub async fn end_session(&self, subject: &str, session: &str) -> Result<bool, StateError> {
        self.call(self.backend.end_lease(subject, session)).await
    }

    /// What the state says of `subject`, and its rate limits as a subject with `tiers`.
    pub async fn subject(
        &self,
        subject: &str,
        tiers: &[String],
    ) -> Result<SubjectView, StateError> {
        let now_us = self.now_us();
        let state = self.call(self.backend.subject(subject, now_us)).await?;
        let mut limits = Vec::new();
        for class in RouteClass::ALL {
            let Some(gcra) = self.subject_limit(class, tiers) else {
                continue;
            };
            let key = format!("{}:{subject}", class.name());
            let tat = self
                .call(self.backend.limit_tat(&key))
                .await?
                .unwrap_or(now_us);
            limits.push(RateLimitInfo {
                policy: class.name(),
                quota: gcra.quota,
                window_secs: gcra.window_secs,
                remaining: gcra.remaining(tat, now_us),
                reset_secs: tat.saturating_sub(now_us).div_ceil(1_000_000),
            });
        }
        let quota = match self.quota_call(QuotaOp::Used, subject, "", 0).await {
            Ok(answer) => answer.map(|(_, quota)| quota),
            Err(_) => {
                return Err(StateError::Unexpected(
                    "the state is unreachable".to_owned(),
                ));
            }
        };
        Ok(SubjectView {
            state,
            limits,
            max_streams: self.stream_limit(tiers),
            quota,
        })
    }
}

/// A revocation as asked for; the controls fill in what is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke {
    /// `not_before` unset: now ("log out everywhere").
    Subject {
        subject: String,
        not_before: Option<i64>,
    },
    /// `until` unset: `revocation.jti_ttl_secs` from now.
    Token {
        token_id: String,
        until: Option<i64>,
    },
    Video {
        video: String,
    },
}

/// Most uploads of unknown size (Uppy's) a subject may have signed and not yet counted.
pub const MAX_PENDING_UPLOADS: u32 = 32;

/// Longest a revoked `jti` is remembered: ten years.
const MAX_JTI_SECS: i64 = 10 * 366 * 86_400;

/// Why a revocation was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error(transparent)]
    Invalid(#[from] InvalidTarget),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Longest subject a revocation may name: it becomes a key in the shared state.
pub const MAX_SUBJECT_BYTES: usize = 1024;

/// Why a revocation's target is refused; safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTarget(String);

/// A subject a revocation or the admin view may name.
pub fn subject_id(raw: &str) -> Result<String, InvalidTarget> {
    if raw.is_empty() || raw.len() > MAX_SUBJECT_BYTES || raw.chars().any(char::is_control) {
        return Err(InvalidTarget(format!(
            "a subject is 1 to {MAX_SUBJECT_BYTES} bytes without control characters"
        )));
    }
    Ok(raw.to_owned())
}

fn token_id(raw: &str) -> Result<String, InvalidTarget> {
    let max = crate::auth::MAX_JTI_BYTES;
    if raw.is_empty() || raw.len() > max || raw.chars().any(char::is_control) {
        return Err(InvalidTarget(format!(
            "a jti is 1 to {max} bytes without control characters"
        )));
    }
    Ok(raw.to_owned())
}

fn video_id(raw: &str) -> Result<String, InvalidTarget> {
    crate::domain::VideoId::parse(raw)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| InvalidTarget(e.to_string()))
}

impl Revoke {
    /// As [`TargetKey::describe`].
    pub fn describe(&self) -> String {
        match self {
            Self::Subject { subject, .. } => TargetKey::Subject(subject.clone()).describe(),
            Self::Token { token_id, .. } => TargetKey::Token(token_id.clone()).describe(),
            Self::Video { video } => TargetKey::Video(video.clone()).describe(),
        }
    }

    pub fn subject(raw: &str, not_before: Option<i64>) -> Result<Self, InvalidTarget> {
        Ok(Self::Subject {
            subject: subject_id(raw)?,
            not_before,
        })
    }

    pub fn token(raw: &str, until: Option<i64>) -> Result<Self, InvalidTarget> {
        Ok(Self::Token {
            token_id: token_id(raw)?,
            until,
        })
    }

    pub fn video(raw: &str) -> Result<Self, InvalidTarget> {
        Ok(Self::Video {
            video: video_id(raw)?,
        })
    }
}

impl TargetKey {
    /// `subject:bob`, `jti:…`, `video:…`: what the audit trail records.
    pub fn describe(&self) -> String {
        match self {
            Self::Subject(s) => format!("subject:{s}"),
            Self::Token(j) => format!("jti:{j}"),
            Self::Video(v) => format!("video:{v}"),
        }
    }

    pub fn subject(raw: &str) -> Result<Self, InvalidTarget> {
        subject_id(raw).map(Self::Subject)
    }

    pub fn token(raw: &str) -> Result<Self, InvalidTarget> {
        token_id(raw).map(Self::Token)
    }

    pub fn video(raw: &str) -> Result<Self, InvalidTarget> {
        video_id(raw).map(Self::Video)
    }
}

/// What an operator sees of one subject.
#[derive(Debug)]
pub struct SubjectView {
    pub state: SubjectState,
    pub limits: Vec<RateLimitInfo>,
    pub max_streams: u32,
    /// `None` when quotas are off.
    pub quota: Option<QuotaUse>,
}

/// The limit closest to refusing (fewest requests left), with its index.
fn closest(states: &[LimitState]) -> Option<(usize, LimitState)> {
    states
        .iter()
        .copied()
        .enumerate()
        .min_by_key(|(_, s)| s.remaining)
}
