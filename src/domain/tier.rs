use super::{ParseError, ValueKind};

/// An entitlement tier's name (what an object's `x-amz-meta-access` and a caller's
/// entitlements claim carry, called `access` in upload requests): 1 to 64 of
/// `[A-Za-z0-9._-]`, so that it is safe as a header value everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tier(String);

impl Tier {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new(
                ValueKind::Tier,
                "a tier is 1 to 64 of A-Z a-z 0-9 . _ -",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_short_header_safe_names() {
        for good in ["free", "premium", "gold-2026", "a.b_c"] {
            assert_eq!(
                Tier::parse(good).map(|t| t.as_str().to_owned()),
                Ok(good.to_owned())
            );
        }
        for bad in ["", "with space", "ünï", "a\nb", &"x".repeat(65)] {
            assert!(Tier::parse(bad).is_err(), "{bad:?}");
        }
    }
}
