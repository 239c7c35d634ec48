//! Tokens whose signature and claims were already verified, so that a player polling with the
//! same RS256/ES256 token does not pay for public-key verification on every request.
//!
//! - keyed by the SHA-256 of the whole token: another byte is another entry;
//! - bounded in entries; an entry lives until the token's `exp` (plus leeway), never longer than
//!   `auth.token_cache_ttl_secs`;
//! - a hit still checks `exp` and `nbf` against the clock, and counts only under the key set it
//!   was verified with (a JWKS change verifies again);
//! - only successes are cached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use sha2::{Digest, Sha256};

use super::Caller;

/// What verification established about one token.
#[derive(Debug, Clone)]
pub struct Verified {
    pub caller: Caller,
    /// `exp`, seconds since the epoch.
    pub exp: i64,
    /// `nbf`, when present.
    pub nbf: Option<i64>,
}

#[derive(Debug)]
pub struct Entry {
    pub verified: Verified,
    /// The key set generation it was verified under.
    generation: u64,
    lifetime: Duration,
}

struct EntryLifetime;

impl Expiry<[u8; 32], Arc<Entry>> for EntryLifetime {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.lifetime)
    }
}

pub struct TokenCache {
    entries: Cache<[u8; 32], Arc<Entry>>,
    ttl: Duration,
}

impl TokenCache {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(capacity)
                .expire_after(EntryLifetime)
                .build(),
            ttl,
        }
    }

    pub fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The entry for `digest` if it was verified under key set `generation`.
    pub async fn get(&self, digest: &[u8; 32], generation: u64) -> Option<Arc<Entry>> {
        self.entries
            .get(digest)
            .await
            .filter(|entry| entry.generation == generation)
    }

    /// Remembers `verified` for at most `secs_left` seconds (the token's remaining life) and
    /// never longer than the TTL.
    pub async fn insert(
        &self,
        digest: [u8; 32],
        generation: u64,
        verified: Verified,
        secs_left: u64,
    ) {
        let lifetime = self.ttl.min(Duration::from_secs(secs_left));
        if lifetime.is_zero() {
            return;
        }
        let entry = Entry {
            verified,
            generation,
            lifetime,
        };
        self.entries.insert(digest, Arc::new(entry)).await;
    }

    /// Entries held, after pending maintenance.
    #[cfg(test)]
    pub async fn len(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(sub: &str) -> Verified {
        Verified {
            caller: Caller::new(sub.to_owned(), vec!["gold".to_owned()], Vec::new()),
            exp: i64::MAX,
            nbf: None,
        }
    }

    #[tokio::test]
    async fn a_hit_needs_the_same_token_and_key_set() {
        let cache = TokenCache::new(10, Duration::from_secs(60));
        let digest = TokenCache::digest("a.b.c");
        cache.insert(digest, 1, verified("alice"), 600).await;
        let hit = cache.get(&digest, 1).await.expect("hit");
        assert_eq!(hit.verified.caller.subject, "alice");
        assert!(cache.get(&digest, 2).await.is_none(), "another key set");
        assert!(
            cache.get(&TokenCache::digest("a.b.d"), 1).await.is_none(),
            "another token"
        );
    }

    #[tokio::test]
    async fn entries_end_with_the_token_or_the_ttl_whichever_is_first() {
        let cache = TokenCache::new(10, Duration::from_secs(1));
        let (long, short, spent) = (
            TokenCache::digest("long"),
            TokenCache::digest("short"),
            TokenCache::digest("spent"),
        );
        cache.insert(long, 0, verified("a"), 3600).await;
        cache.insert(short, 0, verified("b"), 1).await;
        cache.insert(spent, 0, verified("c"), 0).await;
        assert!(cache.get(&long, 0).await.is_some());
        assert!(
            cache.get(&spent, 0).await.is_none(),
            "no life left: not cached"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(
            cache.get(&long, 0).await.is_none(),
            "TTL bounds a long-lived token"
        );
        assert!(cache.get(&short, 0).await.is_none(), "exp bounds the entry");
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let cache = TokenCache::new(100, Duration::from_secs(60));
        for i in 0..1000 {
            let token = format!("token-{i}");
            cache
                .insert(TokenCache::digest(&token), 0, verified(&token), 600)
                .await;
        }
        assert!(cache.len().await <= 100, "{}", cache.len().await);
    }
}
