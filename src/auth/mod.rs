//! Who is calling: `Authorization: Bearer <jwt>` verified with HS256 (shared secret) or
//! RS256 / ES256 / EdDSA (keys from a JWKS URL).

mod extractor;
mod jwks;
mod mint;
mod token_cache;
mod verifier;

pub use extractor::authenticate;
pub use jwks::{JwksCache, JwksError};
pub use mint::{MintError, TokenRequest, mint_hs256};
pub use verifier::{MAX_JTI_BYTES, TokenVerifier};

/// An authenticated caller, as the entitlement policy sees it. Shared, so that handing the same
/// verified token's caller to every request costs no copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(std::sync::Arc<Identity>);

/// What a verified token says about its bearer.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`.
    pub subject: String,
    /// Tiers the caller paid for (claim `auth.entitlements_claim`).
    pub entitlements: Vec<String>,
    /// Roles (claim `auth.roles_claim`).
    pub roles: Vec<String>,
    /// The token's `exp` (seconds since the epoch), when the caller came from a token: nothing
    /// handed out on its strength (an HLS grant) outlives it.
    pub expires_at: Option<i64>,
    /// The token's `iat`, held against its subject's revocation (not-before).
    pub issued_at: Option<i64>,
    /// The token's `jti`, held against the deny list.
    pub token_id: Option<String>,
}

/// What a verified token says beyond who its bearer is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenClaims {
    pub exp: i64,
    pub iat: Option<i64>,
    pub jti: Option<String>,
}

impl Caller {
    pub fn new(subject: String, entitlements: Vec<String>, roles: Vec<String>) -> Self {
        Self(std::sync::Arc::new(Identity {
            subject,
            entitlements,
            roles,
            expires_at: None,
            issued_at: None,
            token_id: None,
        }))
    }

    /// The caller of a token with these claims.
    pub fn from_token(
        subject: String,
        entitlements: Vec<String>,
        roles: Vec<String>,
        claims: TokenClaims,
    ) -> Self {
        Self(std::sync::Arc::new(Identity {
            subject,
            entitlements,
            roles,
            expires_at: Some(claims.exp),
            issued_at: claims.iat,
            token_id: claims.jti,
        }))
    }
}

impl std::ops::Deref for Caller {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.0
    }
}

/// Why a token was refused. Logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Authorization header is not `Bearer <token>`")]
    MalformedHeader,
    #[error("token is longer than {0} bytes")]
    TooLarge(usize),
    #[error("token header carries `crit`, which tollgate does not understand")]
    CriticalHeader,
    #[error("algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(jsonwebtoken::Algorithm),
    #[error("no JWKS key matches kid {0:?}")]
    UnknownKey(Option<String>),
    #[error("JWKS key {0:?} is for another algorithm")]
    AlgorithmMismatch(String),
    #[error("token rejected")]
    Rejected(#[source] jsonwebtoken::errors::Error),
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    #[error("claim {0:?} is missing or malformed")]
    BadClaim(&'static str),
}
