//! The controls' state in Redis, shared by every replica: one multiplexed connection (the
//! connection manager pipelines concurrent requests on it and reconnects with backoff), one
//! script call per request.
//!
//! Keys, under `state.key_prefix`: `rl:ip:{ip}` and `rl:{class}:{subject}` (GCRA TAT, µs,
//! expiring when it no longer matters), `rev:sub:{subject}` (not-before, s), `rev:jti:{jti}`
//! (expires with the token), `rev:video:{id}`, `lease:{subject}` (sorted set: session → end, µs),
//! `quota:{subject}:{window}` (bytes used), `qres:{upload}` (its reservation) and
//! `qpend:{subject}` (uploads of unknown size not yet counted).

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script, Value};

use super::{
    Check, LimitState, QuotaAnswer, QuotaCall, StateError, SubjectState, Target, TargetKey, Verdict,
};
use crate::controls::settings::StateSettings;

pub struct RedisState {
    connection: ConnectionManager,
    prefix: String,
    admit: Script,
    quota: Script,
    pending: Script,
}

impl RedisState {
    /// Connects lazily: tollgate starts while Redis is down (`/readyz` says so) and connects
    /// once it is up.
    pub fn new(url: &str, settings: &StateSettings) -> Result<Self, StateError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout()))
            .set_response_timeout(Some(settings.response_timeout()))
            // Reconnection is retried in the background on the next command; a request never
            // waits for more than one attempt.
            .set_number_of_retries(1)
            .set_max_delay(std::time::Duration::from_secs(1));
        Ok(Self {
            connection: ConnectionManager::new_lazy_with_config(client, config)?,
            prefix: settings.key_prefix.clone(),
            admit: Script::new(include_str!("admit.lua")),
            quota: Script::new(include_str!("quota.lua")),
            pending: Script::new(include_str!("pending.lua")),
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push_str(part);
        }
        key
    }

    fn target_key(&self, key: &TargetKey) -> String {
        match key {
            TargetKey::Subject(s) => self.key(&["rev:sub:", s]),
            TargetKey::Token(j) => self.key(&["rev:jti:", j]),
            TargetKey::Video(v) => self.key(&["rev:video:", v]),
        }
    }

    pub async fn check(&self, check: &Check<'_>) -> Result<Verdict, StateError> {
        let mut call = self.admit.prepare_invoke();
        for (key, _) in &check.limits {
            call.key(self.key(&["rl:", key]));
        }
        let revocation = check.revocation.as_ref();
        let subject = revocation
            .map(|r| r.subject)
            .or(check.lease.as_ref().map(|l| l.subject))
            .unwrap_or_default();
        call.key(self.key(&["rev:sub:", subject]))
            .key(self.key(&[
                "rev:jti:",
                revocation.and_then(|r| r.token_id).unwrap_or_default(),
            ]))
            .key(self.key(&[
                "rev:video:",
                revocation.and_then(|r| r.video).unwrap_or_default(),
            ]))
            .key(self.key(&["lease:", subject]));
        call.arg(check.now_us).arg(check.limits.len());
        for (_, gcra) in &check.limits {
            call.arg(gcra.t).arg(gcra.tau);
        }
        let flag = |on: bool| if on { "1" } else { "0" };
        call.arg(flag(revocation.is_some()))
            .arg(
                revocation
                    .and_then(|r| r.issued_at)
                    .map(|iat| iat.to_string())
                    .unwrap_or_default(),
            )
            .arg(flag(revocation.is_some_and(|r| r.token_id.is_some())))
            .arg(flag(revocation.is_some_and(|r| r.video.is_some())));
        match &check.lease {
            Some(lease) => call.arg(lease.max).arg(lease.session).arg(lease.until_us),
            None => call.arg(0).arg("").arg(0),
        };
        let mut connection = self.connection.clone();
        let answer: Vec<i64> = call.invoke_async(&mut connection).await?;
        verdict(&answer)
    }

    pub async fn revoke(&self, target: &Target, now_secs: i64) -> Result<(), StateError> {
        let mut connection = self.connection.clone();
        match target {
            Target::Subject {
                subject,
                not_before,
            } => {
                let () = connection
                    .set(self.key(&["rev:sub:", subject]), not_before)
                    .await?;
            }
            Target::Token { token_id, until } => {
                let secs = u64::try_from(until.saturating_sub(now_secs)).unwrap_or(0);
                if secs > 0 {
                    let () = connection
                        .set_ex(self.key(&["rev:jti:", token_id]), 1, secs)
                        .await?;
                }
            }
            Target::Video { video } => {
                let () = connection.set(self.key(&["rev:video:", video]), 1).await?;
            }
        }
        Ok(())
    }

    pub async fn unrevoke(&self, key: &TargetKey) -> Result<bool, StateError> {
        let mut connection = self.connection.clone();
        let removed: u64 = connection.del(self.target_key(key)).await?;
        Ok(removed > 0)
    }

    pub async fn is_revoked(&self, key: &TargetKey) -> Result<bool, StateError> {
        let mut connection = self.connection.clone();
        Ok(connection.exists(self.target_key(key)).await?)
    }

    pub async fn subject(&self, subject: &str, now_us: u64) -> Result<SubjectState, StateError> {
        let mut connection = self.connection.clone();
        let (not_before, leases): (Option<i64>, Vec<(String, u64)>) = redis::pipe()
            .get(self.key(&["rev:sub:", subject]))
            .zrangebyscore_withscores(self.key(&["lease:", subject]), format!("({now_us}"), "+inf")
            .query_async(&mut connection)
            .await?;
        let mut leases = leases;
        leases.sort();
        Ok(SubjectState { not_before, leases })
    }

    pub async fn limit_tat(&self, key: &str) -> Result<Option<u64>, StateError> {
        let mut connection = self.connection.clone();
        Ok(connection.get(self.key(&["rl:", key])).await?)
    }

    pub async fn end_lease(&self, subject: &str, session: &str) -> Result<bool, StateError> {
        let mut connection = self.connection.clone();
        let removed: u64 = connection
            .zrem(self.key(&["lease:", subject]), session)
            .await?;
        Ok(removed > 0)
    }

    pub async fn quota(&self, call: &QuotaCall<'_>) -> Result<QuotaAnswer, StateError> {
        let ttl_ms = |until_us: u64| (until_us.saturating_sub(call.now_us) / 1000).max(1);
        let mut connection = self.connection.clone();
        let answer: Vec<i64> = self
            .quota
            .key(self.key(&[call.usage]))
            .key(self.key(&[call.reservation]))
            .arg(call.op.name())
            .arg(call.bytes)
            .arg(call.quota)
            .arg(ttl_ms(call.usage_until_us))
            .arg(ttl_ms(call.reservation_until_us))
            .invoke_async(&mut connection)
            .await?;
        match answer[..] {
            [done, used] => Ok(QuotaAnswer {
                done: done == 1,
                used: u64::try_from(used).unwrap_or(0),
            }),
            _ => Err(StateError::Unexpected(format!("{answer:?}"))),
        }
    }

    pub async fn pending_add(
        &self,
        subject: &str,
        key: &str,
        now_secs: i64,
        max: u32,
        lifetime_secs: u64,
    ) -> Result<bool, StateError> {
        let mut connection = self.connection.clone();
        let tracked: i64 = self
            .pending
            .key(self.key(&["qpend:", subject]))
            .arg(key)
            .arg(now_secs)
            .arg(max)
            .arg(lifetime_secs.max(1))
            .invoke_async(&mut connection)
            .await?;
        Ok(tracked == 1)
    }

    pub async fn pending(&self, subject: &str) -> Result<Vec<(String, i64)>, StateError> {
        let mut connection = self.connection.clone();
        let mut list: Vec<(String, i64)> =
            connection.hgetall(self.key(&["qpend:", subject])).await?;
        list.sort();
        Ok(list)
    }

    pub async fn pending_remove(&self, subject: &str, key: &str) -> Result<(), StateError> {
        let mut connection = self.connection.clone();
        let _: u64 = connection.hdel(self.key(&["qpend:", subject]), key).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), StateError> {
        let mut connection = self.connection.clone();
        match redis::cmd("PING").query_async(&mut connection).await? {
            Value::SimpleString(pong) if pong == "PONG" => Ok(()),
            other => Err(StateError::Unexpected(format!("{other:?}"))),
        }
    }
}

/// The script's answer (see `admit.lua`).
fn verdict(answer: &[i64]) -> Result<Verdict, StateError> {
    let unexpected = || StateError::Unexpected(format!("{answer:?}"));
    let positive = |v: i64| u64::try_from(v).unwrap_or(0);
    match answer {
        [0, 0, rest @ ..] if rest.len() % 2 == 0 => Ok(Verdict::Admitted(
            rest.chunks_exact(2)
                .map(|pair| LimitState {
                    remaining: u32::try_from(pair[0].max(0)).unwrap_or(u32::MAX),
                    reset_us: positive(pair[1]),
                })
                .collect(),
        )),
        [1, which, retry, reset] if *which >= 1 => Ok(Verdict::RateLimited {
            which: usize::try_from(which - 1).map_err(|_| unexpected())?,
            retry_us: positive(*retry),
            reset_us: positive(*reset),
        }),
        [2, _] => Ok(Verdict::SubjectRevoked),
        [3, _] => Ok(Verdict::TokenRevoked),
        [4, _] => Ok(Verdict::VideoTakenDown),
        [5, retry] => Ok(Verdict::TooManyStreams {
            retry_us: positive(*retry),
        }),
        _ => Err(unexpected()),
    }
}
