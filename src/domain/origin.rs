use super::{ParseError, ValueKind};

/// An allowed browser origin: `scheme://host[:port]` exactly, or `scheme://host:*` for any port
/// of that host (development servers pick their own ports), or `*` for any origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    Any,
    Exact(String),
    /// `scheme://host`, any port (or none).
    AnyPort(String),
}

impl OriginPattern {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw == "*" {
            return Ok(Self::Any);
        }
        if let Some(base) = raw.strip_suffix(":*") {
            return is_origin(base)
                .then(|| Self::AnyPort(base.to_owned()))
                .ok_or(invalid());
        }
        is_origin(raw)
            .then(|| Self::Exact(raw.to_owned()))
            .ok_or(invalid())
    }

    /// Whether a browser's `Origin` header value is allowed.
    pub fn matches(&self, origin: &[u8]) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(allowed) => origin == allowed.as_bytes(),
            Self::AnyPort(base) => origin.strip_prefix(base.as_bytes()).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix(b":")
                        .is_some_and(|port| !port.is_empty() && port.iter().all(u8::is_ascii_digit))
            }),
        }
    }
}

fn invalid() -> ParseError {
    ParseError::new(
        ValueKind::Origin,
        "not an origin like https://app.example.com, http://localhost:* or \"*\"",
    )
}

/// `scheme://host[:port]`, exactly as browsers send it in `Origin`: lowercase, no default port,
/// punycode, no user info. A pattern in another form could never match.
fn is_origin(raw: &str) -> bool {
    reqwest::Url::parse(raw).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none()
            && !raw.contains('*')
            && url.origin().ascii_serialization() == raw
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_origins_and_any_port_of_a_host() {
        let local = OriginPattern::parse("http://localhost:*").unwrap();
        assert!(local.matches(b"http://localhost:5173"));
        assert!(local.matches(b"http://localhost"));
        assert!(!local.matches(b"http://localhost.evil.example"));
        assert!(!local.matches(b"http://localhost:5173.evil.example"));
        assert!(!local.matches(b"https://localhost:5173"));
        let exact = OriginPattern::parse("https://app.example.com").unwrap();
        assert!(exact.matches(b"https://app.example.com"));
        assert!(!exact.matches(b"https://app.example.com:8443"));
        for bad in [
            "https://a.example/",
            "a.example",
            "ftp://a.example",
            "http://*:*",
            "http://a:*:*",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
