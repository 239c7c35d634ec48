//! Playback grants: the capability a player carries in `?grant=` to fetch a video's nested
//! playlists without headers (Safari's native player sends none). A grant is issued once the
//! access rule has said yes; it names the caller, the video, the tallest rendition allowed and
//! an expiry, and is MAC'd with `hls.grant_secret`, so that any replica can check it.
//!
//! Format: `base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`, where the payload
//! is a small JSON object. It carries no secret: a leaked grant plays that one video until it
//! expires, which is what a leaked playlist would do anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest grant accepted, before any decoding.
const MAX_GRANT_BYTES: usize = 4096;

/// What a grant says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The caller's subject.
    #[serde(rename = "s")]
    pub subject: String,
    /// The video.
    #[serde(rename = "v")]
    pub video: String,
    /// The tallest rendition the caller may get; `None`: any.
    #[serde(rename = "h", skip_serializing_if = "Option::is_none", default)]
    pub max_height: Option<u32>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(rename = "e")]
    pub expires_at: u64,
    /// The `iat` of the token it was granted on, held against its subject's revocation.
    #[serde(rename = "i", skip_serializing_if = "Option::is_none", default)]
    pub issued_at: Option<i64>,
    /// That token's `jti`, held against the deny list.
    #[serde(rename = "j", skip_serializing_if = "Option::is_none", default)]
    pub token_id: Option<String>,
    /// Granted to an admin (exempt from takedowns).
    #[serde(rename = "a", skip_serializing_if = "std::ops::Not::not", default)]
    pub admin: bool,
    /// That token's tiers, for the per-tier limits.
    #[serde(rename = "t", skip_serializing_if = "Vec::is_empty", default)]
    pub tiers: Vec<String>,
    /// The playback session whose lease its playlists renew.
    #[serde(rename = "ss", skip_serializing_if = "Option::is_none", default)]
    pub session: Option<String>,
}

/// Why a grant is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("the grant is malformed or its signature does not match")]
    Invalid,
    #[error("the grant has expired")]
    Expired,
    #[error("the grant is for another video")]
    OtherVideo,
}

/// Issues and checks grants with one secret.
pub struct Grants {
    mac: HmacSha256,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Grants(..)")
    }
}

impl Grants {
    /// `secret` is at least 32 bytes (checked at start-up); HMAC takes any length.
    pub fn new(secret: &[u8]) -> Self {
        let Ok(mac) = HmacSha256::new_from_slice(secret) else {
            unreachable!("HMAC takes keys of any length")
        };
        Self { mac }
    }

    fn tag(&self, payload: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }

    pub fn issue(&self, grant: &Grant) -> String {
        // Serialising a struct of strings and numbers cannot fail.
        let payload = serde_json::to_vec(grant).unwrap_or_default();
        let mut out = URL_SAFE_NO_PAD.encode(&payload);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(self.tag(&payload)));
        out
    }

    /// The grant in `raw`, when its MAC holds, it is for `video` and it has not expired at
    /// `now` (seconds since the epoch).
    pub fn check(&self, raw: &str, video: &str, now: u64) -> Result<Grant, GrantError> {
        if raw.len() > MAX_GRANT_BYTES {
            return Err(GrantError::Invalid);
        }
        let (payload, tag) = raw.split_once('.').ok_or(GrantError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| GrantError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| GrantError::Invalid)?;
        let mut mac = self.mac.clone();
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| GrantError::Invalid)?;
        let grant: Grant = serde_json::from_slice(&payload).map_err(|_| GrantError::Invalid)?;
        if grant.video != video {
            return Err(GrantError::OtherVideo);
        }
        if now >= grant.expires_at {
            return Err(GrantError::Expired);
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            subject: "bob".to_owned(),
            video: "v1".to_owned(),
            max_height: Some(720),
            expires_at: 1_000,
            issued_at: Some(10),
            token_id: Some("t-1".to_owned()),
            admin: false,
            tiers: vec!["premium".to_owned()],
            session: Some("s-1".to_owned()),
        }
    }

    #[test]
    fn an_issued_grant_checks_until_it_expires() {
        let grants = Grants::new(b"a-secret-of-at-least-thirty-two-bytes!");
        let raw = grants.issue(&grant());
        assert!(
            raw.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{raw}"
        );
        assert_eq!(grants.check(&raw, "v1", 999), Ok(grant()));
        assert_eq!(grants.check(&raw, "v1", 1_000), Err(GrantError::Expired));
        assert_eq!(grants.check(&raw, "v2", 999), Err(GrantError::OtherVideo));
    }

    #[test]
    fn a_tampered_or_foreign_grant_is_invalid() {
        let grants = Grants::new(b"a-secret-of-at-least-thirty-two-bytes!");
        let raw = grants.issue(&grant());
        let (payload, tag) = raw.split_once('.').unwrap();
        let mut richer = grant();
        richer.max_height = None;
        richer.expires_at = u64::MAX;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&richer).unwrap());
        let other = Grants::new(b"another-secret-of-at-least-32-bytes!!").issue(&grant());
        for bad in [
            format!("{forged_payload}.{tag}"),
            format!("{payload}.{}", &tag[1..]),
            format!("{payload}x.{tag}"),
            payload.to_owned(),
            other,
            String::new(),
            ".".to_owned(),
            "a".repeat(5000),
        ] {
            assert_eq!(
                grants.check(&bad, "v1", 0),
                Err(GrantError::Invalid),
                "{bad}"
            );
        }
    }
}
