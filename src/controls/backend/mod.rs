//! Where the controls' state lives: this process's memory (one replica, tests) or Redis (any
//! number of replicas). Both answer every question the same way; the API tests run against each.

mod memory;
mod redis;

pub use self::memory::Memory;
pub use self::redis::RedisState;

use super::gcra::Gcra;

/// One request's checks, answered in one round trip.
#[derive(Debug)]
pub struct Check<'a> {
    /// Microseconds since the epoch.
    pub now_us: u64,
    /// Rate limits: every one must let the request through, or none is charged.
    pub limits: Vec<(String, Gcra)>,
    pub revocation: Option<RevocationCheck<'a>>,
    pub lease: Option<LeaseCheck<'a>>,
}

#[derive(Debug)]
pub struct RevocationCheck<'a> {
    pub subject: &'a str,
    /// The token's `iat`; a token without one is refused once its subject has a not-before.
    pub issued_at: Option<i64>,
    pub token_id: Option<&'a str>,
    /// Checked for takedown (admins are not).
    pub video: Option<&'a str>,
}

#[derive(Debug)]
pub struct LeaseCheck<'a> {
    pub subject: &'a str,
    pub session: &'a str,
    /// Microseconds since the epoch.
    pub until_us: u64,
    pub max: u32,
}

/// A rate limit's state after a request it let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    pub remaining: u32,
    pub reset_us: u64,
}

/// The answer to a [`Check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Admitted(Vec<LimitState>),
    /// Limit `which` (index into `Check::limits`) refused.
    RateLimited {
        which: usize,
        retry_us: u64,
        reset_us: u64,
    },
    SubjectRevoked,
    TokenRevoked,
    VideoTakenDown,
    /// Every lease is held; the oldest ends in `retry_us`.
    TooManyStreams {
        retry_us: u64,
    },
}

/// What can be revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Tokens of this subject issued at or before `not_before` (seconds since the epoch: an
    /// `iat` has one-second grain, so the second of the revocation is refused too).
    Subject { subject: String, not_before: i64 },
    /// The token with this `jti`, until `until` (seconds since the epoch).
    Token { token_id: String, until: i64 },
    /// Video takedown: no new URL for anyone but admins.
    Video { video: String },
}

/// Which revocation to clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKey {
    Subject(String),
    Token(String),
    Video(String),
}

/// An operation on upload quotas (see `quota.lua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaOp {
    /// Hold `bytes` for the upload, if they fit.
    Reserve,
    /// Give the upload's reservation back.
    Release,
    /// Adjust the upload's reservation to `bytes`, the stored size.
    Settle,
    /// Count `bytes` already stored, once, whether they fit or not.
    Add,
    /// Only read what is used.
    Used,
}

impl QuotaOp {
    fn name(self) -> &'static str {
        match self {
            Self::Reserve => "reserve",
            Self::Release => "release",
            Self::Settle => "settle",
            Self::Add => "add",
            Self::Used => "used",
        }
    }
}

/// One quota operation.
#[derive(Debug)]
pub struct QuotaCall<'a> {
    pub op: QuotaOp,
    /// The subject's usage in the current window (`quota:{subject}:{window}`).
    pub usage: &'a str,
    /// The upload (`qres:{upload}`).
    pub reservation: &'a str,
    pub bytes: u64,
    pub quota: u64,
    pub now_us: u64,
    /// When the usage key may go (µs since the epoch).
    pub usage_until_us: u64,
    /// When a reservation may go (µs since the epoch).
    pub reservation_until_us: u64,
}

/// What is used after a quota operation, and whether it was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaAnswer {
    pub done: bool,
    pub used: u64,
}

/// What the state holds about one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectState {
    pub not_before: Option<i64>,
    /// Sessions and when their leases end (µs since the epoch).
    pub leases: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("redis answered something unexpected: {0}")]
    Unexpected(String),
}

/// The configured backend.
pub enum Backend {
    /// Boxed: its maps' locks are larger than a Redis handle, and the enum is built once.
    Memory(Box<Memory>),
    Redis(RedisState),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
        }
    }

    pub async fn check(&self, check: &Check<'_>) -> Result<Verdict, StateError> {
        match self {
            Self::Memory(m) => Ok(m.check(check)),
            Self::Redis(r) => r.check(check).await,
        }
    }

    pub async fn revoke(&self, target: &Target, now_secs: i64) -> Result<(), StateError> {
        match self {
            Self::Memory(m) => {
                m.revoke(target, now_secs);
                Ok(())
            }
            Self::Redis(r) => r.revoke(target, now_secs).await,
        }
    }

    /// Whether there was something to clear.
    pub async fn unrevoke(&self, key: &TargetKey) -> Result<bool, StateError> {
        match self {
            Self::Memory(m) => Ok(m.unrevoke(key)),
            Self::Redis(r) => r.unrevoke(key).await,
        }
    }

    pub async fn is_revoked(&self, key: &TargetKey, now_secs: i64) -> Result<bool, StateError> {
        match self {
            Self::Memory(m) => Ok(m.is_revoked(key, now_secs)),
            Self::Redis(r) => r.is_revoked(key).await,
        }
    }

    pub async fn subject(&self, subject: &str, now_us: u64) -> Result<SubjectState, StateError> {
        match self {
            Self::Memory(m) => Ok(m.subject(subject, now_us)),
            Self::Redis(r) => r.subject(subject, now_us).await,
        }
    }

    /// A limit's stored TAT, without charging it.
    pub async fn limit_tat(&self, key: &str) -> Result<Option<u64>, StateError> {
        match self {
            Self::Memory(m) => Ok(m.limit_tat(key)),
            Self::Redis(r) => r.limit_tat(key).await,
        }
    }

    /// Ends a lease early; whether it was held.
    pub async fn end_lease(&self, subject: &str, session: &str) -> Result<bool, StateError> {
        match self {
            Self::Memory(m) => Ok(m.end_lease(subject, session)),
            Self::Redis(r) => r.end_lease(subject, session).await,
        }
    }

    pub async fn quota(&self, call: &QuotaCall<'_>) -> Result<QuotaAnswer, StateError> {
        match self {
            Self::Memory(m) => Ok(m.quota(call)),
            Self::Redis(r) => r.quota(call).await,
        }
    }

    /// Tracks an upload of unknown size until it is counted; `false` when `subject` already
    /// has `max` pending.
    pub async fn pending_add(
        &self,
        subject: &str,
        key: &str,
        now_secs: i64,
        max: u32,
        lifetime_secs: u64,
    ) -> Result<bool, StateError> {
        match self {
            Self::Memory(m) => Ok(m.pending_add(subject, key, now_secs, max)),
            Self::Redis(r) => {
                r.pending_add(subject, key, now_secs, max, lifetime_secs)
                    .await
            }
        }
    }

    /// `subject`'s pending uploads: object key and when it was signed.
    pub async fn pending(&self, subject: &str) -> Result<Vec<(String, i64)>, StateError> {
        match self {
            Self::Memory(m) => Ok(m.pending(subject)),
            Self::Redis(r) => r.pending(subject).await,
        }
    }

    pub async fn pending_remove(&self, subject: &str, key: &str) -> Result<(), StateError> {
        match self {
            Self::Memory(m) => {
                m.pending_remove(subject, key);
                Ok(())
            }
            Self::Redis(r) => r.pending_remove(subject, key).await,
        }
    }

    pub async fn ping(&self) -> Result<(), StateError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(r) => r.ping().await,
        }
    }
}
