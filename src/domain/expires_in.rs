use std::num::NonZeroU64;

use serde::Deserialize;

use super::{ParseError, ValueKind};

/// A URL lifetime a caller asks for, in seconds: at least 1 (policy clamps it from above).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct ExpiresIn(NonZeroU64);

impl ExpiresIn {
    pub fn secs(self) -> u64 {
        self.0.get()
    }
}

impl TryFrom<u64> for ExpiresIn {
    type Error = ParseError;

    fn try_from(secs: u64) -> Result<Self, ParseError> {
        NonZeroU64::new(secs).map(Self).ok_or(ParseError::new(
            ValueKind::ExpiresIn,
            "the lifetime must be at least 1 second",
        ))
    }
}

impl utoipa::PartialSchema for ExpiresIn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(u64::MAX))
            .description(Some(
                "Seconds (≥ 1); a longer lifetime than policy allows is clamped",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ExpiresIn {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_refused_and_anything_else_kept() {
        assert!(ExpiresIn::try_from(0).is_err());
        assert_eq!(ExpiresIn::try_from(60).map(ExpiresIn::secs), Ok(60));
        let parsed: Result<ExpiresIn, _> = serde_json::from_str("0");
        assert!(
            parsed
                .unwrap_err()
                .to_string()
                .contains("at least 1 second")
        );
    }
}
