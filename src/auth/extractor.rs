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
    let value = std::str::from_utf8(value).map_err(|_| AuthError::MalformedHeader)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MalformedHeader)?;
    let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || !token.bytes().all(token68) {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
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
        ] {
            assert!(bearer_token(raw).is_err(), "{raw:?}");
        }
    }
}
