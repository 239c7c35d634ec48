//! Tokens whose signature and claims were already verified, so that a player polling with the
//! same RS256/ES256 token does not pay for public-key verification on every request.
//!
//! - found by a keyed hash of the token (foldhash, seeded from the OS's randomness once per
//!   process): a SHA-256 of every token cost more than the rest of the lookup, and without the
//!   seed nobody can aim a token at another's slot;
//! - the entry keeps the whole token, compared in constant time on every hit: a hash collision
//!   is a miss, never another caller;
//! - bounded in entries and in bytes (a token may be `auth.max_token_bytes` long); an entry
//!   lives until the token's `exp` (plus leeway), never longer than `auth.token_cache_ttl_secs`;
//! - a hit still checks `exp` and `nbf` against the clock, and counts only under the key set it
//!   was verified with (a JWKS change verifies again);
//! - only successes are cached.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;
use moka::Expiry;
use moka::future::Cache;
use subtle::ConstantTimeEq;

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
    /// The token itself: the hash only finds the slot.
    token: Box<str>,
    pub verified: Verified,
    /// The key set generation it was verified under.
    generation: u64,
    lifetime: Duration,
}

/// Bytes an entry holds besides its token and claim text: the entry, the caller, allocator
/// rounding and moka's own bookkeeping. Measured: 100,000 entries of 200-byte tokens grew the
/// process by 883 bytes each, 242 of them token and claim text.
const ENTRY_OVERHEAD: usize = 640;

impl Entry {
    /// The bytes this entry keeps alive, for the cache's byte bound.
    fn bytes(&self) -> usize {
        let caller = &self.verified.caller;
        let list = |items: &[String]| {
            items
                .iter()
                .map(|item| item.len() + std::mem::size_of::<String>())
                .sum::<usize>()
        };
        ENTRY_OVERHEAD
            + self.token.len()
            + caller.subject.len()
            + caller.token_id.as_ref().map_or(0, String::len)
            + list(&caller.entitlements)
            + list(&caller.roles)
    }
}

struct EntryLifetime;

impl Expiry<u64, Arc<Entry>> for EntryLifetime {
    fn expire_after_create(
        &self,
        _key: &u64,
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.lifetime)
    }
}

/// The slot hash's key. foldhash's own seeding draws on address-space layout and the time;
/// std's `RandomState` is seeded by the OS.
static SLOT_HASHER: LazyLock<SeedableRandomState> = LazyLock::new(|| {
    SeedableRandomState::with_seed(
        RandomState::new().hash_one(0_u8),
        SharedSeed::global_random(),
    )
});

/// A token and the slot it goes in.
#[derive(Debug, Clone, Copy)]
pub struct TokenDigest<'a> {
    slot: u64,
    token: &'a str,
}

/// Whether `a` and `b` hold the same bytes, in a time that depends on their length only. Eight
/// bytes at a time: subtle's comparison of slices fences every byte, some 13 instructions each.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let ((a_words, a_tail), (b_words, b_tail)) = (a.as_chunks::<8>(), b.as_chunks::<8>());
    let words = a_words.iter().zip(b_words).fold(0, |diff, (x, y)| {
        diff | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    });
    let tail = a_tail
        .iter()
        .zip(b_tail)
        .fold(0, |diff, (x, y)| diff | u64::from(x ^ y));
    (words | tail).ct_eq(&0).into()
}

/// How much the cache may hold: at most `entries` entries and `bytes` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub entries: u64,
    pub bytes: u64,
}

pub struct TokenCache {
    entries: Cache<u64, Arc<Entry>, SeedableRandomState>,
    ttl: Duration,
}

impl TokenCache {
    /// moka bounds one weight; both bounds hold with the weight of an entry being its bytes,
    /// but never less than `bytes / entries`: then no more than `entries` entries fit in
    /// `bytes`.
    pub fn new(bounds: Bounds, ttl: Duration) -> Self {
        let floor = bounds.bytes.div_ceil(bounds.entries.max(1));
        let floor = u32::try_from(floor).unwrap_or(u32::MAX);
        Self {
            entries: Cache::builder()
                .max_capacity(bounds.bytes)
                .weigher(move |_, entry: &Arc<Entry>| {
                    u32::try_from(entry.bytes()).unwrap_or(u32::MAX).max(floor)
                })
                .expire_after(EntryLifetime)
                // The keys are already hashes.
                .build_with_hasher(SLOT_HASHER.clone()),
            ttl,
        }
    }

    pub fn digest(token: &str) -> TokenDigest<'_> {
        TokenDigest {
            slot: SLOT_HASHER.hash_one(token.as_bytes()),
            token,
        }
    }

    /// The entry for `digest`'s token if it was verified under key set `generation`.
    pub async fn get(&self, digest: &TokenDigest<'_>, generation: u64) -> Option<Arc<Entry>> {
        self.entries.get(&digest.slot).await.filter(|entry| {
            same_bytes(entry.token.as_bytes(), digest.token.as_bytes())
                && entry.generation == generation
        })
    }

    /// Remembers `verified` for `digest`'s token for at most `secs_left` seconds (the token's
    /// remaining life) and never longer than the TTL.
    pub async fn insert(
        &self,
        digest: TokenDigest<'_>,
        generation: u64,
        verified: Verified,
        secs_left: u64,
    ) {
        let lifetime = self.ttl.min(Duration::from_secs(secs_left));
        if lifetime.is_zero() {
            return;
        }
        let entry = Entry {
            token: digest.token.into(),
            verified,
            generation,
            lifetime,
        };
        self.entries.insert(digest.slot, Arc::new(entry)).await;
    }

    /// Entries held and their weight, after pending maintenance.
    #[cfg(test)]
    pub async fn held(&self) -> (u64, u64) {
        self.entries.run_pending_tasks().await;
        (self.entries.entry_count(), self.entries.weighted_size())
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

    const ROOMY: Bounds = Bounds {
        entries: 10,
        bytes: 1 << 20,
    };

    fn digest(token: &str) -> TokenDigest<'_> {
        TokenCache::digest(token)
    }

    #[tokio::test]
    async fn a_hit_needs_the_same_token_and_key_set() {
        let cache = TokenCache::new(ROOMY, Duration::from_secs(60));
        cache
            .insert(digest("a.b.c"), 1, verified("alice"), 600)
            .await;
        let hit = cache.get(&digest("a.b.c"), 1).await.expect("hit");
        assert_eq!(hit.verified.caller.subject, "alice");
        assert!(
            cache.get(&digest("a.b.c"), 2).await.is_none(),
            "another key set"
        );
        assert!(
            cache.get(&digest("a.b.d"), 1).await.is_none(),
            "another token"
        );
    }

    #[tokio::test]
    async fn a_token_in_the_same_slot_is_a_miss() {
        let cache = TokenCache::new(ROOMY, Duration::from_secs(60));
        cache
            .insert(digest("alice.token"), 0, verified("alice"), 600)
            .await;
        let slot = digest("alice.token").slot;
        for other in ["alice.tokeN", "alice.toke", "alice.token.", ""] {
            let collision = TokenDigest { slot, token: other };
            assert!(cache.get(&collision, 0).await.is_none(), "{other:?}");
        }
        assert!(cache.get(&digest("alice.token"), 0).await.is_some());
    }

    #[test]
    fn same_bytes_compares_every_byte() {
        let token = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
        assert!(same_bytes(token, token));
        assert!(same_bytes(b"", b""));
        for i in 0..token.len() {
            let mut other = *token;
            other[i] ^= 1;
            assert!(!same_bytes(token, &other), "byte {i}");
        }
        assert!(!same_bytes(token, &token[..token.len() - 1]));
    }

    #[tokio::test]
    async fn entries_end_with_the_token_or_the_ttl_whichever_is_first() {
        let cache = TokenCache::new(ROOMY, Duration::from_secs(1));
        cache.insert(digest("long"), 0, verified("a"), 3600).await;
        cache.insert(digest("short"), 0, verified("b"), 1).await;
        cache.insert(digest("spent"), 0, verified("c"), 0).await;
        assert!(cache.get(&digest("long"), 0).await.is_some());
        assert!(
            cache.get(&digest("spent"), 0).await.is_none(),
            "no life left: not cached"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(
            cache.get(&digest("long"), 0).await.is_none(),
            "TTL bounds a long-lived token"
        );
        assert!(
            cache.get(&digest("short"), 0).await.is_none(),
            "exp bounds the entry"
        );
    }

    #[tokio::test]
    async fn the_cache_is_bounded_in_entries() {
        let bounds = Bounds {
            entries: 100,
            bytes: 1 << 30,
        };
        let cache = TokenCache::new(bounds, Duration::from_secs(60));
        for i in 0..1000 {
            let token = format!("token-{i}");
            cache.insert(digest(&token), 0, verified(&token), 600).await;
        }
        let (entries, _) = cache.held().await;
        assert!(entries <= 100, "{entries}");
    }

    #[tokio::test]
    async fn the_cache_is_bounded_in_bytes() {
        // Room for 100 short tokens, but for 7 of 8 KiB only.
        let bounds = Bounds {
            entries: 100,
            bytes: 64 << 10,
        };
        let cache = TokenCache::new(bounds, Duration::from_secs(60));
        for i in 0..200 {
            let token = format!("{i:08}{}", "x".repeat(8 << 10));
            cache
                .insert(digest(&token), 0, verified("alice"), 600)
                .await;
        }
        let (entries, bytes) = cache.held().await;
        assert!(bytes <= 64 << 10, "{bytes} bytes");
        assert!((1..=7).contains(&entries), "{entries} entries");
        assert!(bytes >= entries * (8 << 10), "an entry weighs its token");
    }
}
