use super::ParseError;

/// An upload's content type: one of the configured, allowed types (lowercase `type/subtype`,
/// no parameters), so that what the store serves back is known and never active content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType(String);

impl ContentType {
    pub fn parse(raw: &str, allowed: &[String]) -> Result<Self, ParseError> {
        let normalised = raw.trim().to_ascii_lowercase();
        if allowed.contains(&normalised) {
            Ok(Self(normalised))
        } else {
            Err(ParseError("this content type may not be uploaded"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["video/mp4".to_owned(), "image/png".to_owned()]
    }

    #[test]
    fn allowed_types_are_normalised() {
        assert_eq!(
            ContentType::parse(" Video/MP4 ", &allowed())
                .unwrap()
                .as_str(),
            "video/mp4"
        );
    }

    #[test]
    fn others_are_refused() {
        for raw in [
            "text/html",
            "image/svg+xml",
            "video/mp4; codecs=avc1",
            "video/*",
            "",
            "application/octet-stream",
        ] {
            assert!(ContentType::parse(raw, &allowed()).is_err(), "{raw}");
        }
    }
}
