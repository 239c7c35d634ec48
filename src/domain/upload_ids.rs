use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{ParseError, ValueKind};

/// S3's id of a multipart upload, as clients send it back: 1 to 1024 characters, none of them a
/// control character. Whose upload it is, the store decides (with tollgate's own id beside it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct S3UploadId(String);

impl S3UploadId {
    pub const MAX_LEN: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN || raw.chars().any(char::is_control) {
            return Err(ParseError::new(
                ValueKind::S3UploadId,
                "upload_id must be 1 to 1024 characters, none of them a control character",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for S3UploadId {
    type Error = ParseError;

    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl utoipa::PartialSchema for S3UploadId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        // No control character (Unicode's Cc: what `char::is_control` refuses).
        super::string_schema(
            1,
            Self::MAX_LEN,
            Some("^[^\\u0000-\\u001F\\u007F-\\u009F]+$"),
        )
    }
}

impl utoipa::ToSchema for S3UploadId {}

/// A SHA-256 digest in base64, as `x-amz-checksum-sha256` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha256Base64(String);

impl Sha256Base64 {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match STANDARD.decode(raw) {
            Ok(digest) if digest.len() == 32 => Ok(Self(raw.to_owned())),
            _ => Err(ParseError::new(
                ValueKind::Sha256,
                "sha256 must be the base64 of a 32-byte SHA-256 digest",
            )),
        }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_upload_ids_are_bounded_and_printable() {
        assert!(S3UploadId::parse("").is_err());
        assert!(S3UploadId::parse(&"x".repeat(1025)).is_err());
        assert!(S3UploadId::parse("a\nb").is_err());
        assert_eq!(
            S3UploadId::parse("2~abc+/=DEF").map(|id| id.as_str().to_owned()),
            Ok("2~abc+/=DEF".to_owned())
        );
    }

    #[test]
    fn sha256_is_32_bytes_of_base64() {
        assert!(Sha256Base64::parse("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_ok());
        assert!(Sha256Base64::parse("47DEQpj8HBSa").is_err());
        assert!(Sha256Base64::parse("not base64!").is_err());
    }
}
