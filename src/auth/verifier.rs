use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};

use super::token_cache::{TokenCache, Verified};
use super::{AuthError, Caller, JwksCache, TokenClaims};

/// Longest `jti` accepted: it becomes a key in the shared state.
pub const MAX_JTI_BYTES: usize = 256;
use crate::clock::{SharedClock, unix_secs};
use crate::config::AuthSettings;

/// Algorithms whose keys come from the JWKS. HS256 is accepted only with the configured secret,
/// so a public key can never be used as an HMAC secret (algorithm confusion).
pub(super) const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Verifies bearer tokens: size, header, signature, `iss`/`aud`, then `exp`/`nbf` against the
/// injectable clock, and turns the claims into a [`Caller`].
pub struct TokenVerifier {
    hmac: Option<Arc<DecodingKey>>,
    jwks: Option<Arc<JwksCache>>,
    /// One prepared `Validation` per accepted algorithm (building one allocates).
    validations: Vec<(Algorithm, Validation)>,
    clock: SharedClock,
    leeway_secs: i64,
    max_token_bytes: usize,
    entitlements_claim: String,
    roles_claim: String,
    /// Already verified tokens (`None`: `auth.token_cache_ttl_secs = 0` or a zero bound).
    verified: Option<TokenCache>,
}

impl TokenVerifier {
    pub fn new(settings: &AuthSettings, jwks: Option<Arc<JwksCache>>, clock: SharedClock) -> Self {
        let hmac = settings
            .hmac_secret
            .as_ref()
            .map(|s| Arc::new(DecodingKey::from_secret(s.expose().as_bytes())));
        let mut algorithms = Vec::new();
        if hmac.is_some() {
            algorithms.push(Algorithm::HS256);
        }
        if jwks.is_some() {
            algorithms.extend(ASYMMETRIC);
        }
        let validations = algorithms
            .into_iter()
            .map(|alg| (alg, validation_for(alg, settings)))
            .collect();
        Self {
            hmac,
            jwks,
            validations,
            clock,
            leeway_secs: i64::try_from(settings.leeway_secs).unwrap_or(300),
            max_token_bytes: settings.max_token_bytes,
            entitlements_claim: settings.entitlements_claim.clone(),
            roles_claim: settings.roles_claim.clone(),
            verified: (settings.token_cache_ttl_secs > 0
                && settings.token_cache_capacity > 0
                && settings.token_cache_max_bytes > 0)
                .then(|| {
                    TokenCache::new(
                        super::token_cache::Bounds {
                            entries: settings.token_cache_capacity,
                            bytes: settings.token_cache_max_bytes,
                        },
                        std::time::Duration::from_secs(settings.token_cache_ttl_secs),
                    )
                }),
        }
    }

    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        self.jwks.as_ref()
    }

    /// The caller a token proves, from the cache of verified tokens when it is there.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        // Cheap checks before any parsing or hashing.
        if token.len() > self.max_token_bytes {
            return Err(AuthError::TooLarge(self.max_token_bytes));
        }
        let Some(cache) = &self.verified else {
            let verified = Box::pin(self.verify_signature_and_claims(token)).await?;
            self.check_time(&verified)?;
            return Ok(verified.caller);
        };
        let generation = self.jwks.as_ref().map_or(0, |jwks| jwks.generation());
        let digest = TokenCache::digest(token);
        // A hit skips the signature, never the clock; revocation is checked after this, on hits
        // and misses alike (`controls`).
        let hit = cache.get(&digest, generation).await;
        crate::metrics::Metrics::global().cache_lookup("token", hit.is_some());
        if let Some(entry) = hit {
            self.check_time(&entry.verified)?;
            return Ok(entry.verified.caller.clone());
        }
        // The slow path lives in its own allocation, so that the hit path's future stays small.
        Box::pin(self.verify_and_remember(cache, token, digest, generation)).await
    }

    async fn verify_and_remember(
        &self,
        cache: &TokenCache,
        token: &str,
        digest: super::token_cache::TokenDigest<'_>,
        generation: u64,
    ) -> Result<Caller, AuthError> {
        let verified = self.verify_signature_and_claims(token).await?;
        let secs_left = self.check_time(&verified)?;
        let caller = verified.caller.clone();
        cache.insert(digest, generation, verified, secs_left).await;
        Ok(caller)
    }

    /// Step 4, on every request: `exp` and `nbf` against our clock. Returns the seconds the
    /// token has left (leeway included).
    fn check_time(&self, verified: &Verified) -> Result<u64, AuthError> {
        let now = unix_secs(self.clock.now());
        let end = verified.exp.saturating_add(self.leeway_secs);
        if now >= end {
            return Err(AuthError::Expired);
        }
        if verified
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway_secs))
        {
            return Err(AuthError::NotYetValid);
        }
        Ok(u64::try_from(end - now).unwrap_or(0))
    }

    /// Steps 1–3 and 5: header, key, signature, `iss`/`aud`, and the claims tollgate uses.
    async fn verify_signature_and_claims(&self, token: &str) -> Result<Verified, AuthError> {
        let header = decode_header(token).map_err(AuthError::Rejected)?;
        // RFC 7515 §4.1.11: an extension we do not understand must make the token invalid.
        if header.crit.is_some() {
            return Err(AuthError::CriticalHeader);
        }
        let validation = self
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, v)| v)
            .ok_or(AuthError::UnsupportedAlgorithm(header.alg))?;

        // Step 2: the key is chosen by the algorithm family first, then by `kid`.
        let key = match (header.alg, &self.hmac, &self.jwks) {
            (Algorithm::HS256, Some(secret), _) => Arc::clone(secret),
            (alg, _, Some(jwks)) if alg != Algorithm::HS256 => {
                jwks.key_for(header.kid.as_deref(), alg).await?
            }
            (alg, _, _) => return Err(AuthError::UnsupportedAlgorithm(alg)),
        };

        // Step 3: signature, `iss`, `aud`, presence of `exp` and `sub`.
        let claims = decode::<Map<String, Value>>(token, &key, validation)
            .map_err(AuthError::Rejected)?
            .claims;
        let exp = numeric_date(claims.get("exp")).ok_or(AuthError::BadClaim("exp"))?;
        let nbf = match claims.get("nbf") {
            Some(nbf) => Some(numeric_date(Some(nbf)).ok_or(AuthError::BadClaim("nbf"))?),
            None => None,
        };

        // Step 5: the caller.
        let subject = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(AuthError::BadClaim("sub")),
        };
        let iat = match claims.get("iat") {
            Some(iat) => Some(numeric_date(Some(iat)).ok_or(AuthError::BadClaim("iat"))?),
            None => None,
        };
        let jti = match claims.get("jti") {
            Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_BYTES => {
                Some(jti.clone())
            }
            Some(_) => return Err(AuthError::BadClaim("jti")),
            None => None,
        };
        let caller = Caller::from_token(
            subject,
            string_list(claims.get(&self.entitlements_claim))
                .ok_or(AuthError::BadClaim("entitlements"))?,
            string_list(claims.get(&self.roles_claim)).ok_or(AuthError::BadClaim("roles"))?,
            TokenClaims { exp, iat, jti },
        );
        Ok(Verified { caller, exp, nbf })
    }
}

fn validation_for(alg: Algorithm, settings: &AuthSettings) -> Validation {
    let mut v = Validation::new(alg);
    // exp/nbf are checked against the injectable clock in `verify`.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = 0;
    let mut required = vec!["exp", "sub"];
    if let Some(iss) = &settings.issuer {
        v.set_issuer(&[iss]);
        required.push("iss");
    }
    match &settings.audience {
        Some(aud) => {
            v.set_audience(&[aud]);
            required.push("aud");
        }
        None => v.validate_aud = false,
    }
    v.set_required_spec_claims(&required);
    v
}

/// RFC 7519 NumericDate: seconds, possibly fractional.
fn numeric_date(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| {
            #[allow(clippy::cast_possible_truncation)]
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        }),
        _ => None,
    }
}

/// A claim that lists names: an array of strings, or one space-separated string (as OAuth
/// `scope`). Absent means empty; anything else is malformed.
fn string_list(value: Option<&Value>) -> Option<Vec<String>> {
    match value {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::String(s)) => Some(s.split_whitespace().map(str::to_owned).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_dates_accept_integers_and_fractions() {
        assert_eq!(
            numeric_date(Some(&json!(1_700_000_000))),
            Some(1_700_000_000)
        );
        assert_eq!(
            numeric_date(Some(&json!(1_700_000_000.7))),
            Some(1_700_000_000)
        );
        assert_eq!(numeric_date(Some(&json!("1700000000"))), None);
        assert_eq!(numeric_date(None), None);
    }

    #[test]
    fn string_lists_accept_arrays_and_space_separated_strings() {
        assert_eq!(
            string_list(Some(&json!(["a", "b"]))),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            string_list(Some(&json!("a b"))),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(string_list(None), Some(vec![]));
        assert_eq!(string_list(Some(&json!(["a", 1]))), None);
        assert_eq!(string_list(Some(&json!({"a": 1}))), None);
    }
}
