//! S3 POST policies: the form fields that let a browser upload one object with a
//! `multipart/form-data` POST to the bucket. The policy names every field the form may carry
//! (key, type, metadata, the signature's own fields) and a `content-length-range`, so that the
//! store refuses another object, type, owner or tier, and a body of another size, before it
//! stores anything. A presigned PUT cannot bound a length it does not know; a policy can.
//!
//! The signature is aws-sigv4's own signing key and HMAC over the base64 policy, as S3's
//! "Browser-Based Uploads Using POST (AWS Signature Version 4)" describes.

use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use base64::Engine;
use serde_json::{Value, json};

use super::PutObjectGrant;
use super::fast::{Endpoint, amz_date};
use crate::storage::{StorageError, StorageErrorKind};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

fn error(detail: impl Into<String>) -> StorageError {
    StorageError::new(StorageErrorKind::Presign, detail)
}

/// A form upload: POST `fields` and then the file (as the form's last part, `file`) to `url`.
#[derive(Debug, Clone)]
pub struct PresignedPost {
    pub url: String,
    /// In the order the form should carry them.
    pub fields: Vec<(String, String)>,
    pub expires_at: SystemTime,
    pub expires_in: u64,
}

/// What one form upload may write: exactly this key, and the grant's type and metadata, with a
/// body whose length is in `lengths`.
pub(super) struct PostRequest<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub grant: &'a PutObjectGrant,
    pub lengths: RangeInclusive<u64>,
}

/// The form fields besides the policy and its signature: what the policy pins with `eq`.
fn pinned_fields(request: &PostRequest<'_>) -> Vec<(String, String)> {
    let grant = request.grant;
    let mut fields = Vec::with_capacity(2 + grant.metadata.len());
    fields.push(("key".to_owned(), request.key.to_owned()));
    fields.push(("Content-Type".to_owned(), grant.content_type.clone()));
    // Not over an existing object: the embedded store (s3s) honours the field; Garage 2.5
    // ignores it, as it ignores the header.
    if grant.if_none_match {
        fields.push(("If-None-Match".to_owned(), "*".to_owned()));
    }
    fields.extend(super::metadata_headers(grant));
    fields
}

/// Signs a policy for `request`, valid `expires_in` seconds from `start`, for `endpoint`.
pub(super) fn presign_post(
    endpoint: &Endpoint,
    request: &PostRequest<'_>,
    start: SystemTime,
    expires_in: u64,
    credentials: &Credentials,
) -> Result<PresignedPost, StorageError> {
    // A form cannot carry these: the store would not check them.
    if request.grant.checksum_sha256.is_some() {
        return Err(error("a POST policy cannot sign a checksum"));
    }
    let date_bytes = amz_date(start)?;
    let date = std::str::from_utf8(&date_bytes).map_err(|_| error("amz date"))?;
    let credential = format!(
        "{}/{}/{}/s3/aws4_request",
        credentials.access_key_id(),
        &date[..8],
        endpoint.region()
    );
    let expires_at = start + Duration::from_secs(expires_in);
    let mut fields = pinned_fields(request);
    fields.push(("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()));
    fields.push(("x-amz-credential".to_owned(), credential));
    fields.push(("x-amz-date".to_owned(), date.to_owned()));
    if let Some(token) = credentials.session_token() {
        fields.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }

    let mut conditions = vec![json!({ "bucket": request.bucket })];
    conditions.extend(
        fields
            .iter()
            .map(|(name, value)| json!(["eq", format!("${name}"), value])),
    );
    conditions.push(json!([
        "content-length-range",
        request.lengths.start(),
        request.lengths.end()
    ]));
    let policy = json!({
        "expiration": humantime::format_rfc3339_millis(expires_at).to_string(),
        "conditions": Value::Array(conditions),
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signing_key = generate_signing_key(
        credentials.secret_access_key(),
        start,
        endpoint.region(),
        "s3",
    );
    let signature = calculate_signature(signing_key, encoded.as_bytes());
    fields.push(("policy".to_owned(), encoded));
    fields.push(("x-amz-signature".to_owned(), signature));

    // The bucket's URL: path style puts the bucket in the path, virtual-hosted style in the host.
    let path = match endpoint.path_prefix() {
        "" => "/",
        prefix => prefix,
    };
    Ok(PresignedPost {
        url: format!("{}{path}", endpoint.origin()),
        fields,
        expires_at,
        expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint::from_presigned(
            "http://127.0.0.1:9000/videos/probe?X-Amz-Credential=AKID%2F20261130%2Fus-east-1%2Fs3%2Faws4_request",
            "probe",
        )
        .unwrap()
    }

    fn grant() -> PutObjectGrant {
        PutObjectGrant {
            content_type: "video/mp4".to_owned(),
            content_length: None,
            metadata: vec![("owner".to_owned(), "ursula".to_owned())],
            checksum_sha256: None,
            if_none_match: true,
        }
    }

    fn policy(post: &PresignedPost) -> Value {
        let encoded = &post.fields.iter().find(|(n, _)| n == "policy").unwrap().1;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn every_field_but_the_signature_is_pinned_and_the_length_bounded() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let credentials = Credentials::new("AKID", "secret", None, None, "test");
        let grant = grant();
        let request = PostRequest {
            bucket: "videos",
            key: "videos/abc",
            grant: &grant,
            lengths: 1..=6_291_456,
        };
        let post = presign_post(&endpoint(), &request, start, 900, &credentials).unwrap();
        assert_eq!(post.url, "http://127.0.0.1:9000/videos");
        let policy = policy(&post);
        assert_eq!(policy["expiration"], "2026-11-30T01:08:20.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        for (name, value) in &post.fields {
            if name == "policy" || name == "x-amz-signature" {
                continue;
            }
            assert!(
                conditions.contains(&json!(["eq", format!("${name}"), value])),
                "{name} is not pinned: {policy}"
            );
        }
        assert!(conditions.contains(&json!({"bucket": "videos"})));
        assert!(conditions.contains(&json!(["content-length-range", 1, 6_291_456])));
        assert!(conditions.contains(&json!(["eq", "$x-amz-meta-owner", "ursula"])));
        assert!(conditions.contains(&json!(["eq", "$If-None-Match", "*"])));
        let signature = &post.fields.last().unwrap();
        assert_eq!(signature.0, "x-amz-signature");
        assert_eq!(signature.1.len(), 64);
    }

    #[test]
    fn a_checksum_is_refused_rather_than_left_unchecked() {
        let credentials = Credentials::new("AKID", "secret", None, None, "test");
        let mut grant = grant();
        grant.checksum_sha256 = Some("x".to_owned());
        let request = PostRequest {
            bucket: "videos",
            key: "videos/abc",
            grant: &grant,
            lengths: 1..=10,
        };
        assert!(presign_post(&endpoint(), &request, SystemTime::now(), 60, &credentials).is_err());
    }
}
