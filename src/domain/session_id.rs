//! A playback session's id: chosen by the player (`?session=`), or by tollgate (a UUID).

use super::{ParseError, ValueKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    pub const MAX_LEN: usize = 64;

    /// 1 to 64 of `[A-Za-z0-9._~-]`: it names a lease in the shared state and a URL path segment.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let safe = |b: u8| b.is_ascii_alphanumeric() || b"._~-".contains(&b);
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.bytes().all(safe) {
            return Err(ParseError::new(
                ValueKind::SessionId,
                "a session is 1 to 64 of A-Z a-z 0-9 . _ ~ -",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A new random session.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl utoipa::PartialSchema for SessionId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::string_schema(1, Self::MAX_LEN, Some("^[A-Za-z0-9._~-]+$"))
    }
}

impl utoipa::ToSchema for SessionId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_short_and_url_safe() {
        assert!(SessionId::parse("tab-1.a_b~c").is_ok());
        assert_eq!(SessionId::new().as_str().len(), 36);
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65), "a%20"] {
            let error = SessionId::parse(bad).unwrap_err();
            assert_eq!(error.kind, ValueKind::SessionId, "{bad:?}");
        }
    }
}
