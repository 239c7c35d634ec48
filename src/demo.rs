//! The `/demo` page's one rule: whether it may hand out tokens itself. It mints them only while
//! `auth.hmac_secret` is the development secret this repository publishes, since anyone can mint
//! those anyway; with any other secret the page asks the developer for a token.

use std::time::{Duration, SystemTime};

use crate::auth::{MintError, TokenRequest, mint_hs256};
use crate::config::{AuthSettings, PUBLISHED_DEV_SECRETS};

/// The subject, role and lifetime of the tokens the page mints: an uploader, for an hour.
pub const SUBJECT: &str = "demo";
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// What the demo page may do, when `demo.enabled`.
#[derive(Debug)]
pub struct Demo {
    /// The auth settings to mint with, only while they hold the published secret.
    mint_with: Option<AuthSettings>,
    /// Where uploads go (`storage.key_prefix`): the page turns a key into an id.
    pub key_prefix: String,
}

impl Demo {
    pub fn new(auth: &AuthSettings, key_prefix: &str) -> Self {
        // Exactly a published value: a private secret that merely looks like one (a marker
        // in its name) protects something, and minting with it would hand out its tokens.
        let published = auth
            .hmac_secret
            .as_ref()
            .is_some_and(|secret| PUBLISHED_DEV_SECRETS.contains(&secret.expose()));
        Self {
            mint_with: published.then(|| auth.clone()),
            key_prefix: key_prefix.to_owned(),
        }
    }

    /// A token for the page, or `None` when this tollgate does not mint (a secret of its own).
    pub fn token(&self, uploader_role: &str, now: SystemTime) -> Result<Option<String>, MintError> {
        let Some(auth) = &self.mint_with else {
            return Ok(None);
        };
        let request = TokenRequest {
            subject: SUBJECT.to_owned(),
            entitlements: Vec::new(),
            roles: vec![uploader_role.to_owned()],
            ttl: TOKEN_TTL,
        };
        mint_hs256(auth, &request, now).map(Some)
    }

    pub fn token_ttl_secs(&self) -> u64 {
        TOKEN_TTL.as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Environment, PUBLISHED_DEV_SECRETS, Settings};
    use crate::secret::Secret;

    fn auth(secret: &str) -> AuthSettings {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut auth = Settings::load_from(&dir, Environment::Local)
            .expect("local config is valid")
            .auth;
        auth.hmac_secret = Some(Secret::new(secret.to_owned()));
        auth
    }

    #[test]
    fn tokens_are_minted_only_with_the_published_secret() {
        let published = Demo::new(&auth(PUBLISHED_DEV_SECRETS[0]), "videos/");
        let token = published.token("uploader", SystemTime::now()).unwrap();
        assert!(token.is_some_and(|t| t.split('.').count() == 3));

        let own = Demo::new(
            &auth("a-secret-of-this-deployment-0123456789abcdef"),
            "videos/",
        );
        assert!(own.token("uploader", SystemTime::now()).unwrap().is_none());

        let mut none = auth("x");
        none.hmac_secret = None;
        assert!(
            Demo::new(&none, "videos/")
                .token("uploader", SystemTime::now())
                .unwrap()
                .is_none()
        );
    }
}
