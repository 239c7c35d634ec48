//! Keys for RS256 / ES256 / EdDSA tokens, fetched from a JWKS URL and cached.
//!
//! - refreshed every `jwks_refresh_secs` in the background;
//! - a token with an unknown `kid` (key rotation) causes at most one refetch per
//!   `jwks_min_refetch_secs`, so garbage `kid`s cannot turn tollgate into a JWKS flooder;
//! - when the JWKS endpoint fails, the keys already loaded keep being served.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AuthError;
use super::verifier::ASYMMETRIC;

/// A JWKS larger than this is refused (real ones are a few KiB).
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// After a failed refresh (the IdP down at start-up, say), the next try comes this soon, then
/// twice as late each time up to [`MAX_RETRY_DELAY`] (or the refresh period when shorter), each
/// with jitter so that replicas started together do not retry in step.
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("JWKS request failed")]
    Http(#[from] reqwest::Error),
    #[error("JWKS endpoint answered {0}")]
    Status(reqwest::StatusCode),
    #[error("JWKS is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("JWKS is not a JSON key set")]
    Malformed(#[from] serde_json::Error),
    #[error("JWKS holds no usable signing key")]
    NoUsableKey,
}

struct CachedKey {
    kid: Option<String>,
    alg: Algorithm,
    key: Arc<DecodingKey>,
}

pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    min_refetch: Duration,
    keys: RwLock<Arc<Vec<CachedKey>>>,
    /// SHA-256 of the JWKS document the keys came from.
    digest: Mutex<[u8; 32]>,
    /// Bumped whenever the key set changes: tokens verified under an older set are verified
    /// again (a key removed from the JWKS stops working at once, even for cached tokens).
    generation: AtomicU64,
    /// When an unknown `kid` last caused a refetch.
    last_unknown_kid_refetch: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

impl JwksCache {
    pub fn new(
        url: String,
        fetch_timeout: Duration,
        min_refetch: Duration,
    ) -> Result<Self, JwksError> {
        let http = reqwest::Client::builder()
            .timeout(fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            url,
            http,
            min_refetch,
            keys: RwLock::new(Arc::new(Vec::new())),
            digest: Mutex::new([0; 32]),
            generation: AtomicU64::new(0),
            last_unknown_kid_refetch: tokio::sync::Mutex::new(None),
        })
    }

    /// True once at least one key has been loaded (readiness).
    pub fn is_loaded(&self) -> bool {
        !self.snapshot().is_empty()
    }

    /// Which key set is current; changes whenever a refresh brings different keys.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn snapshot(&self) -> Arc<Vec<CachedKey>> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Fetches the JWKS and replaces the cached keys; on error the old keys stay.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let result = self.fetch().await;
        crate::metrics::Metrics::global().jwks_refresh(result.is_ok());
        result
    }

    async fn fetch(&self) -> Result<usize, JwksError> {
        let response = self.http.get(&self.url).send().await?;
        if !response.status().is_success() {
            return Err(JwksError::Status(response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(JwksError::TooLarge);
        }
        // Read chunk by chunk and stop at the limit: a missing or false Content-Length must
        // not make tollgate buffer an endless body.
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(JwksError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        self.load(&body)
    }

    /// Replaces the cached keys with those of a JWKS document (unchanged when it is the same
    /// document); returns how many usable keys it holds.
    pub fn load(&self, body: &[u8]) -> Result<usize, JwksError> {
        let raw: RawKeySet = serde_json::from_slice(body)?;
        let keys: Vec<CachedKey> = raw.keys.into_iter().filter_map(usable_key).collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        let count = keys.len();
        let digest: [u8; 32] = Sha256::digest(body).into();
        let mut last = self.digest.lock().unwrap_or_else(|p| p.into_inner());
        if *last == digest {
            return Ok(count);
        }
        match self.keys.write() {
            Ok(mut slot) => *slot = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
        *last = digest;
        self.generation.fetch_add(1, Ordering::AcqRel);
        tracing::debug!(count, "JWKS loaded");
        Ok(count)
    }

    /// The key for a token's `kid` and `alg`, refetching once (rate-limited) for an unknown `kid`.
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<DecodingKey>, AuthError> {
        match self.lookup(kid, alg) {
            Err(AuthError::UnknownKey(_)) => {}
            found => return found,
        }
        let mut last = self.last_unknown_kid_refetch.lock().await;
        // Another request may have refetched while this one waited for the lock.
        match self.lookup(kid, alg) {
            Err(AuthError::UnknownKey(_)) => {}
            found => return found,
        }
        if last.is_some_and(|at| at.elapsed() < self.min_refetch) {
            return Err(AuthError::UnknownKey(kid.map(str::to_owned)));
        }
        *last = Some(Instant::now());
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %crate::error::error_chain(&e), "JWKS refetch for an unknown kid failed");
        }
        self.lookup(kid, alg)
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Result<Arc<DecodingKey>, AuthError> {
        let keys = self.snapshot();
        let found = match kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            // Without `kid`, only an unambiguous key will do.
            None => {
                let mut candidates = keys.iter().filter(|k| k.alg == alg);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        };
        match found {
            Some(k) if k.alg == alg => Ok(Arc::clone(&k.key)),
            Some(k) => Err(AuthError::AlgorithmMismatch(
                k.kid.clone().unwrap_or_default(),
            )),
            None => Err(AuthError::UnknownKey(kid.map(str::to_owned))),
        }
    }

    /// Refreshes in the background until the cache is dropped.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut delay = match weak.upgrade() {
                Some(cache) if !cache.is_loaded() => FIRST_RETRY_DELAY.min(every),
                _ => every,
            };
            let mut failures = 0_u32;
            loop {
                tokio::time::sleep(delay).await;
                let Some(cache) = weak.upgrade() else { break };
                delay = match cache.refresh().await {
                    Ok(_) => {
                        failures = 0;
                        every
                    }
                    Err(e) => {
                        tracing::warn!(error = %crate::error::error_chain(&e), "JWKS refresh failed; serving cached keys");
                        failures = failures.saturating_add(1);
                        retry_delay(failures, every)
                    }
                };
            }
        })
    }
}

/// The pause after the `failures`-th failed refresh in a row: exponential from
/// [`FIRST_RETRY_DELAY`], capped, with "equal jitter" (half fixed, half random).
fn retry_delay(failures: u32, every: Duration) -> Duration {
    let cap = MAX_RETRY_DELAY.min(every);
    let exponential = FIRST_RETRY_DELAY.saturating_mul(1 << failures.saturating_sub(1).min(16));
    let ceiling = exponential.min(cap);
    ceiling / 2 + ceiling.mul_f64(crate::jitter::random_unit() / 2.0)
}

/// A signing key we accept, with the one algorithm it may verify. Symmetric (`oct`) keys and
/// encryption keys are ignored: a JWKS is public, so an HMAC key in it would be a forgery kit.
fn usable_key(raw: serde_json::Value) -> Option<CachedKey> {
    let jwk: Jwk = serde_json::from_value(raw).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let inferred = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }?;
    let alg = match jwk.common.key_algorithm {
        Some(declared) => Algorithm::try_from(declared).ok()?,
        None => inferred,
    };
    if !ASYMMETRIC.contains(&alg) {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(CachedKey {
        kid: jwk.common.key_id,
        alg,
        key: Arc::new(key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_the_cap() {
        let every = Duration::from_secs(300);
        for (failures, ceiling) in [(1, 1), (2, 2), (3, 4), (5, 16), (6, 30), (40, 30)] {
            let ceiling = Duration::from_secs(ceiling);
            let delays: Vec<Duration> = (0..50).map(|_| retry_delay(failures, every)).collect();
            for d in &delays {
                assert!(*d >= ceiling / 2 && *d <= ceiling, "{failures}: {d:?}");
            }
            // Jittered: not all the same.
            assert!(delays.iter().any(|d| *d != delays[0]), "{failures}");
        }
        // A refresh period shorter than the cap caps the retries too.
        assert!(retry_delay(10, Duration::from_secs(4)) <= Duration::from_secs(4));
    }

    /// A JWKS endpoint that answers `chunks` × 64 KiB of whitespace, chunked, with no
    /// Content-Length.
    async fn chunked_server(chunks: usize) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = vec![b' '; 64 * 1024];
                    for _ in 0..chunks {
                        let frame =
                            [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                        if socket.write_all(&frame).await.is_err() {
                            return;
                        }
                    }
                    let _ = socket.write_all(b"0\r\n\r\n").await;
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn a_jwks_body_without_length_is_cut_at_the_limit() {
        // An endless body (64 GiB, chunked): refused as too large once the limit is passed, not
        // read until the fetch timeout.
        let url = chunked_server(1_000_000).await;
        let cache = JwksCache::new(url, Duration::from_secs(2), Duration::from_secs(30)).unwrap();
        assert!(matches!(cache.refresh().await, Err(JwksError::TooLarge)));
        // Under the limit the same path reads the whole body (not JSON here).
        let url = chunked_server(2).await;
        let cache = JwksCache::new(url, Duration::from_secs(5), Duration::from_secs(30)).unwrap();
        assert!(matches!(
            cache.refresh().await,
            Err(JwksError::Malformed(_))
        ));
    }

    #[test]
    fn symmetric_and_encryption_keys_are_ignored() {
        assert!(
            usable_key(json!({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "h"}))
                .is_none()
        );
        let enc = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "use": "enc"});
        assert!(usable_key(enc).is_none());
        assert!(usable_key(json!({"kty": "weird"})).is_none());
    }

    #[test]
    fn okp_key_without_alg_is_eddsa() {
        let key = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "e"});
        let cached = usable_key(key).expect("usable");
        assert_eq!(cached.alg, Algorithm::EdDSA);
        assert_eq!(cached.kid.as_deref(), Some("e"));
    }
}
