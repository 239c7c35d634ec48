use std::fmt;

use super::{ParseError, ValueKind};

/// A video id: 1 to 128 of `[A-Za-z0-9_-]`, so that it is safe in a key, a URL and a log line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VideoId(String);

impl VideoId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(ParseError::new(
                ValueKind::VideoId,
                "video id must be 1 to 128 characters",
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ParseError::new(
                ValueKind::VideoId,
                "video id may contain only A-Z, a-z, 0-9, '_' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VideoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl utoipa::PartialSchema for VideoId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::string_schema(1, Self::MAX_LEN, Some("^[A-Za-z0-9_-]+$"))
    }
}

impl utoipa::ToSchema for VideoId {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        assert!(VideoId::parse("abc-DEF_123").is_ok());
        assert!(VideoId::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn rejects_hostile_ids() {
        for raw in [
            "",
            "../x",
            "a/b",
            "a\0b",
            "a b",
            "é",
            "a.b",
            "%2e%2e",
            &"a".repeat(129),
        ] {
            assert!(VideoId::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    proptest! {
        #[test]
        fn valid_ids_round_trip(raw in "[A-Za-z0-9_-]{1,128}") {
            prop_assert_eq!(VideoId::parse(&raw).map(|id| id.to_string()), Ok(raw));
        }

        #[test]
        fn any_other_byte_is_rejected(prefix in "[a-z]{0,10}", bad in "[^A-Za-z0-9_-]", suffix in "[a-z]{0,10}") {
            let raw = format!("{prefix}{bad}{suffix}");
            prop_assert!(VideoId::parse(&raw).is_err());
        }
    }
}
