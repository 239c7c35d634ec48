//! The Bearer token of a request, verified. The extractors that also run the controls live in
//! `routes/admission.rs`.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::{AuthError, Caller, TokenVerifier};
use crate::error::ApiError;

/// The caller that `headers`' one `Authorization: Bearer` token proves.
pub async fn authenticate(
    headers: &HeaderMap,
    verifier: &TokenVerifier,
) -> Result<Caller, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(ApiError::MissingToken)?;
    if values.next().is_some() {
        return Err(ApiError::InvalidToken(AuthError::MalformedHeader));
    }
    let token = bearer_token(value.as_bytes()).map_err(ApiError::InvalidToken)?;
    verifier.verify(token).await.map_err(ApiError::InvalidToken)
}

/// `Bearer <token68>`; the scheme is case-insensitive (RFC 7235 §2.1).
fn bearer_token(value: &[u8]) -> Result<&str, AuthError> {
    const SCHEME: &[u8] = b"bearer ";
    let token = match value.split_at_checked(SCHEME.len()) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case(SCHEME) => token,
        _ => return Err(AuthError::MalformedHeader),
    };
    // Every byte is checked, without an early exit, so that the loop is vectorised: a token is
    // hundreds of bytes, and a byte at a time cost more than the cache lookup.
    let token68 = token
        .iter()
        .fold(!token.is_empty(), |ok, &b| ok & is_token68(b));
    if !token68 {
        return Err(AuthError::MalformedHeader);
    }
    // token68 is ASCII.
    std::str::from_utf8(token).map_err(|_| AuthError::MalformedHeader)
}

/// RFC 7235 §2.1's token68 characters (`=` is accepted anywhere, not only at the end).
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() | matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_case_insensitively() {
        assert_eq!(bearer_token(b"Bearer a.b.c").unwrap(), "a.b.c");
        assert_eq!(bearer_token(b"bearer a.b.c").unwrap(), "a.b.c");
    }

    #[test]
    fn rejects_other_schemes_and_junk() {
        for raw in [
            &b"Basic dXNlcjpwYXNz"[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer a b",
            b"Bearer  a",
            b"a.b.c",
            b"Bearer \xff",
            b"Bearer\ta.b.c",
            b"Bearer: a.b.c",
            b"Bearerx a.b.c",
        ] {
            assert!(bearer_token(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn accepts_exactly_the_token68_bytes() {
        for byte in 0..=u8::MAX {
            let token68 = byte.is_ascii_alphanumeric() || b"-._~+/=".contains(&byte);
            let raw = [b"Bearer a".as_slice(), &[byte], b"z"].concat();
            assert_eq!(bearer_token(&raw).is_ok(), token68, "byte {byte}");
        }
    }
}
