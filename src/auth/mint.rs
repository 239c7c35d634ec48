//! HS256 tokens for trying tollgate locally (`tollgate token`) and for tests.

use std::time::{Duration, SystemTime};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Map, Value, json};

use crate::clock::unix_secs;
use crate::config::AuthSettings;

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("auth.hmac_secret is not configured: tollgate cannot mint HS256 tokens")]
    NoSecret,
    #[error("could not sign the token")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// What goes into a minted token.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub subject: String,
    pub entitlements: Vec<String>,
    pub roles: Vec<String>,
    pub ttl: Duration,
}

/// Signs `request` with the configured secret; `iss`/`aud` are the configured ones, so the token
/// passes this configuration's checks.
pub fn mint_hs256(
    settings: &AuthSettings,
    request: &TokenRequest,
    now: SystemTime,
) -> Result<String, MintError> {
    let secret = settings.hmac_secret.as_ref().ok_or(MintError::NoSecret)?;
    let iat = unix_secs(now);
    let ttl = i64::try_from(request.ttl.as_secs()).unwrap_or(i64::MAX);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(request.subject));
    claims.insert("iat".into(), json!(iat));
    // A jti, so that one token can be revoked without its subject's others.
    claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    claims.insert("exp".into(), json!(iat.saturating_add(ttl)));
    claims.insert(
        settings.entitlements_claim.clone(),
        json!(request.entitlements),
    );
    claims.insert(settings.roles_claim.clone(), json!(request.roles));
    if let Some(iss) = &settings.issuer {
        claims.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = &settings.audience {
        claims.insert("aud".into(), json!(aud));
    }
    let key = EncodingKey::from_secret(secret.expose().as_bytes());
    Ok(encode(&Header::default(), &Value::Object(claims), &key)?)
}
