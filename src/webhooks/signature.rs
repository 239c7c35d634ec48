//! The Standard Webhooks symmetric signature: a `whsec_` secret, and `v1,` + the base64
//! HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How the specification serialises a symmetric secret: this prefix, then its bytes in base64.
pub const SECRET_PREFIX: &str = "whsec_";
/// The specification's bounds on a symmetric secret: at least 192 bits, at most 512.
pub const MIN_SECRET_BYTES: usize = 24;
pub const MAX_SECRET_BYTES: usize = 64;

/// Why a `webhooks.secret` was refused. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("must be \"{SECRET_PREFIX}\" followed by the secret's bytes in base64")]
    MissingPrefix,
    #[error("is not base64 after \"{SECRET_PREFIX}\"")]
    NotBase64,
    #[error("must hold {MIN_SECRET_BYTES}..={MAX_SECRET_BYTES} bytes, got {0}")]
    Length(usize),
}

/// The key that signs every webhook, keyed once (keying an HMAC costs as much as a short
/// message). Never printed.
#[derive(Clone)]
pub struct WebhookSecret {
    mac: Hmac<Sha256>,
}

impl WebhookSecret {
    /// `whsec_<base64>`, as receivers' Standard Webhooks libraries take it.
    pub fn parse(raw: &str) -> Result<Self, SecretError> {
        let encoded = raw
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        let Ok(mac) = Hmac::<Sha256>::new_from_slice(&bytes) else {
            unreachable!("HMAC takes keys of any length")
        };
        Ok(Self { mac })
    }

    /// The `webhook-signature` header of message `id` sent at `timestamp` (unix seconds) with
    /// `body`: the body exactly as sent, since receivers verify the bytes they got.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of the specification's reference libraries (github.com/standard-webhooks/
    /// standard-webhooks: `libraries/javascript/src/webhook.test.ts` "sign function works",
    /// and `libraries/rust/src/lib.rs` `test_sign`).
    #[test]
    fn signs_the_specifications_test_vectors() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            secret.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn every_signed_part_counts() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signed = secret.sign("msg_1", 1_614_265_330, b"{}");
        assert_ne!(signed, secret.sign("msg_2", 1_614_265_330, b"{}"));
        assert_ne!(signed, secret.sign("msg_1", 1_614_265_331, b"{}"));
        assert_ne!(signed, secret.sign("msg_1", 1_614_265_330, b"{ }"));
        let other = WebhookSecret::parse("whsec_AfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_ne!(signed, other.sign("msg_1", 1_614_265_330, b"{}"));
    }

    #[test]
    fn secrets_must_be_prefixed_base64_of_24_to_64_bytes() {
        let encode = |n: usize| format!("{SECRET_PREFIX}{}", STANDARD.encode(vec![7u8; n]));
        assert!(WebhookSecret::parse(&encode(24)).is_ok());
        assert!(WebhookSecret::parse(&encode(64)).is_ok());
        assert_eq!(
            WebhookSecret::parse(&encode(23)).unwrap_err(),
            SecretError::Length(23)
        );
        assert_eq!(
            WebhookSecret::parse(&encode(65)).unwrap_err(),
            SecretError::Length(65)
        );
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!").unwrap_err(),
            SecretError::NotBase64
        );
        assert_eq!(
            WebhookSecret::parse("whsec_").unwrap_err(),
            SecretError::Length(0)
        );
    }

    #[test]
    fn the_secret_is_never_printed() {
        let raw = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let printed = format!("{:?}", WebhookSecret::parse(raw).unwrap());
        assert!(!printed.contains("MfKQ9r8G"), "{printed}");
        for error in [
            SecretError::MissingPrefix,
            SecretError::NotBase64,
            SecretError::Length(3),
        ] {
            assert!(!error.to_string().contains("MfKQ9r8G"));
        }
    }
}
