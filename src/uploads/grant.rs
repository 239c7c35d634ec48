//! A client's declaration about an upload, turned into what its URL will allow (a grant), or the
//! reason it is refused: the rules every upload API shares (type allowlist, size limits, known
//! tier, sanitised name, owner).

use crate::auth::Caller;
use crate::domain::{ContentType, DownloadName, Sha256Base64, Tier};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{PutObjectGrant, WrittenMetadata};

/// Longest owner metadata value (the encoded subject); S3 allows 2 KB of metadata in all.
const MAX_OWNER_BYTES: usize = 1024;
/// S3's limit on an object's user metadata: names (with `x-amz-meta-`) and values, in bytes.
const MAX_METADATA_BYTES: usize = 2048;
/// What the file name's entry costs besides its value: `x-amz-meta-filename`.
const FILENAME_ENTRY_BYTES: usize = "x-amz-meta-filename".len();

/// What a client declares about an upload; `size` and `sha256` are unknown on Uppy's protocols.
pub struct Declaration<'a> {
    pub content_type: &'a str,
    pub size: Option<u64>,
    /// Whether the upload is multipart (which maximum bounds an unknown size).
    pub multipart: bool,
    pub filename: Option<&'a str>,
    pub access: Option<&'a str>,
    pub sha256: Option<&'a str>,
}

/// The declaration turned into what the URL will allow, or the reason it is refused: the rules
/// of every upload API (type allowlist, size limits, known tier, sanitised name, owner).
pub fn authorise(
    state: &AppState,
    caller: &Caller,
    declared: &Declaration<'_>,
) -> Result<PutObjectGrant, ApiError> {
    let limits = &state.uploads;
    let content_type = ContentType::parse(declared.content_type, &limits.allowed_content_types)
        .map_err(|_| ApiError::UnsupportedMediaType)?;
    if let Some(size) = declared.size {
        if size == 0 {
            return Err(ApiError::BadRequest(
                "size must be at least 1 byte".to_owned(),
            ));
        }
        let max = if size > limits.multipart_threshold_bytes {
            limits.max_multipart_bytes
        } else {
            limits.max_size_bytes
        };
        if size > max {
            return Err(ApiError::TooLarge(max));
        }
    }
    let raw_tier = declared.access.unwrap_or(&limits.default_access);
    let tier = Tier::parse(raw_tier)?;
    if !state.policy.is_known_tier(&tier) {
        return Err(ApiError::BadRequest(format!(
            "access {raw_tier:?} is not a known tier"
        )));
    }
    // The length cannot always be signed: then the bound travels with the object, so that
    // completion and playback can refuse an object larger than this upload was allowed to be.
    let max_size = declared.size.is_none().then_some(if declared.multipart {
        limits.max_multipart_bytes
    } else {
        limits.max_size_bytes
    });
    let filename = declared
        .filename
        .map(DownloadName::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // S3 keeps at most 2 KB of user metadata per object.
    if crate::storage::owner_value(&caller.subject).len() > MAX_OWNER_BYTES {
        return Err(ApiError::BadRequest(format!(
            "the token's subject is too long to own an upload (at most {MAX_OWNER_BYTES} bytes encoded)"
        )));
    }
    let mut written = WrittenMetadata {
        owner: Some(caller.subject.clone()),
        tier: Some(tier.as_str().to_owned()),
        size: declared.size,
        max_size,
        filename: None,
    };
    // S3 keeps at most 2 KB of user metadata: the file name (informational) gets what is left.
    if let Some(name) = filename {
        let left = MAX_METADATA_BYTES.saturating_sub(written.byte_len() + FILENAME_ENTRY_BYTES);
        written.filename = name.percent_encoded_within(left);
    }
    let metadata = written.pairs();
    let checksum_sha256 = declared
        .sha256
        .map(Sha256Base64::parse)
        .transpose()?
        .map(Sha256Base64::into_string);
    Ok(PutObjectGrant {
        content_type: content_type.as_str().to_owned(),
        content_length: declared.size,
        metadata,
        checksum_sha256,
        if_none_match: limits.if_none_match,
    })
}

/// What every Uppy upload signs: type, owner, tier (from `metadata.access` when it names a known
/// tier) and the sanitised file name, by the rules of `POST /uploads`; the size is unknown.
pub fn authorise_unknown_size(
    state: &AppState,
    caller: &Caller,
    filename: &str,
    content_type: &str,
    access: Option<&str>,
    multipart: bool,
) -> Result<PutObjectGrant, ApiError> {
    if !state.policy.may_upload(caller) {
        return Err(ApiError::Forbidden("uploading needs the uploader role"));
    }
    let declared = Declaration {
        content_type,
        size: None,
        multipart,
        filename: Some(filename),
        access,
        sha256: None,
    };
    authorise(state, caller, &declared)
}
