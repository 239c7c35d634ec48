//! The store under test: the embedded store or an external one (`TOLLGATE_TEST_S3_*`), what
//! differs between stores ([`StoreProfile`]), and its keys.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use axum::http::StatusCode;
use std::sync::LazyLock;

/// An S3-compatible store outside this process (Garage in CI, MinIO by hand).
#[derive(Clone)]
pub struct ExternalStore {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub read_write: (String, String),
    pub write_only: Option<(String, String)>,
    pub read_only: Option<(String, String)>,
}

static EXTERNAL: LazyLock<Option<ExternalStore>> = LazyLock::new(|| {
    let var = |name: &str| std::env::var(format!("TOLLGATE_TEST_S3_{name}")).ok();
    let endpoint = var("ENDPOINT")?;
    Some(ExternalStore {
        endpoint,
        region: var("REGION").unwrap_or_else(|| "us-east-1".to_owned()),
        bucket: var("BUCKET").unwrap_or_else(|| "videos".to_owned()),
        // Defaults: the DEV-ONLY users that docker-compose.yml creates in MinIO.
        read_write: (
            var("ACCESS_KEY").unwrap_or_else(|| "tollgate-dev-access-key".to_owned()),
            var("SECRET_KEY")
                .unwrap_or_else(|| "tollgate-dev-secret-key-not-for-production".to_owned()),
        ),
        write_only: Some((
            var("WRITE_ONLY_ACCESS_KEY").unwrap_or_else(|| "tollgate-upload-key".to_owned()),
            var("WRITE_ONLY_SECRET_KEY")
                .unwrap_or_else(|| "tollgate-upload-secret-dev-only".to_owned()),
        )),
        read_only: Some((
            var("READ_ONLY_ACCESS_KEY").unwrap_or_else(|| "tollgate-read-key".to_owned()),
            var("READ_ONLY_SECRET_KEY")
                .unwrap_or_else(|| "tollgate-read-secret-dev-only".to_owned()),
        )),
    })
});
pub fn external_store() -> Option<&'static ExternalStore> {
    EXTERNAL.as_ref()
}

/// What differs between stores, declared in one place rather than skipped.
pub struct StoreProfile {
    pub name: &'static str,
    /// Status of a GET with an expired presigned URL (AWS and s3s-fs: 403; Garage: 400).
    pub expired_url: StatusCode,
    /// Whether the store refuses signatures made for another region (s3s-fs ignores regions).
    pub checks_region: bool,
    /// Status of a second PUT through an upload URL signed with `If-None-Match: *`
    /// (412 where the store enforces it; Garage 2.5 does not).
    pub overwrite_with_if_none_match: StatusCode,
    /// s3s-fs 0.14 writes a PUT body before checking its `x-amz-checksum-sha256`: it answers 400
    /// but keeps the bytes (without the signed metadata).
    pub keeps_body_of_a_refused_checksum: bool,
    /// Status of a presigned request carrying an `x-amz-*` header its signature does not cover
    /// (`x-amz-meta-*`, `x-amz-copy-source`, …): refused by the embedded store (403, as AWS
    /// answers) and Garage (400). s3s-fs alone would execute it.
    pub unsigned_amz_header: StatusCode,
    /// Status of a form upload (POST policy) sent with an unsigned `x-amz-copy-source`: a form
    /// is never a copy; the embedded store refuses the unsigned header (403), Garage stores the
    /// form (204).
    pub form_with_unsigned_amz_header: StatusCode,
    /// Status of a form posted again over the object it wrote: the embedded store honours the
    /// policy's `If-None-Match` field (412); Garage ignores it and replaces the object (204).
    pub form_posted_again: StatusCode,
    /// Status of `GET /uploads/{id}/parts` after an abort: NoSuchUpload (404) on Garage and AWS,
    /// and on the embedded store, which answers for s3s-fs (that lists an aborted upload as empty).
    pub parts_after_abort: StatusCode,
    /// Whether the store implements ListMultipartUploads (s3s-fs 0.14 answers 501).
    pub lists_multipart_uploads: bool,
    /// Whether ListParts gives ETags and CompleteMultipartUpload checks them (s3s-fs 0.14 does
    /// neither).
    pub checks_part_etags: bool,
    /// Whether the store answers a request it refuses from its headers and closes the
    /// connection before reading a large body (Garage), so that the client never sees the status.
    pub refuses_before_reading_the_body: bool,
    /// Whether CompleteMultipartUpload refuses parts out of order or a part below 5 MiB that is
    /// not the last (s3s-fs and AWS do; Garage 2.5 assembles them).
    pub refuses_small_or_unordered_parts: bool,
    /// What tollgate answers for an abort of an upload the store no longer knows: 404
    /// `upload_not_found`, as every store says NoSuchUpload (the embedded store answers it for
    /// s3s-fs, whose own AccessDenied tollgate would take for a refused key).
    pub forgotten_upload_id: (StatusCode, &'static str),
}

pub fn profile() -> StoreProfile {
    match (
        external_store(),
        std::env::var("TOLLGATE_TEST_STORE").as_deref(),
    ) {
        (None, _) => StoreProfile {
            name: "s3s-fs (embedded)",
            expired_url: StatusCode::FORBIDDEN,
            checks_region: false,
            overwrite_with_if_none_match: StatusCode::PRECONDITION_FAILED,
            keeps_body_of_a_refused_checksum: true,
            unsigned_amz_header: StatusCode::FORBIDDEN,
            form_with_unsigned_amz_header: StatusCode::FORBIDDEN,
            form_posted_again: StatusCode::PRECONDITION_FAILED,
            parts_after_abort: StatusCode::NOT_FOUND,
            lists_multipart_uploads: false,
            checks_part_etags: false,
            refuses_before_reading_the_body: false,
            refuses_small_or_unordered_parts: true,
            forgotten_upload_id: (StatusCode::NOT_FOUND, "upload_not_found"),
        },
        (Some(_), Ok("garage")) => StoreProfile {
            name: "garage",
            refuses_before_reading_the_body: true,
            refuses_small_or_unordered_parts: false,
            forgotten_upload_id: (StatusCode::NOT_FOUND, "upload_not_found"),
            expired_url: StatusCode::BAD_REQUEST,
            checks_region: true,
            overwrite_with_if_none_match: StatusCode::OK,
            keeps_body_of_a_refused_checksum: false,
            unsigned_amz_header: StatusCode::BAD_REQUEST,
            // Garage reads a form's fields and ignores the header: it stores the form's bytes.
            form_with_unsigned_amz_header: StatusCode::NO_CONTENT,
            form_posted_again: StatusCode::NO_CONTENT,
            parts_after_abort: StatusCode::NOT_FOUND,
            lists_multipart_uploads: true,
            checks_part_etags: true,
        },
        // MinIO and AWS behave alike here.
        (Some(_), _) => StoreProfile {
            name: "s3",
            refuses_before_reading_the_body: false,
            refuses_small_or_unordered_parts: true,
            forgotten_upload_id: (StatusCode::NOT_FOUND, "upload_not_found"),
            expired_url: StatusCode::FORBIDDEN,
            checks_region: true,
            overwrite_with_if_none_match: StatusCode::PRECONDITION_FAILED,
            keeps_body_of_a_refused_checksum: false,
            // AWS documents 403 AccessDenied; not measured here (no Docker engine for MinIO, no
            // AWS account): adjust when run.
            unsigned_amz_header: StatusCode::FORBIDDEN,
            // Not measured either: assumed to store the form (a form is never a copy).
            form_with_unsigned_amz_header: StatusCode::NO_CONTENT,
            // Not measured: whether AWS's POST honours (or accepts) the field is unknown.
            form_posted_again: StatusCode::PRECONDITION_FAILED,
            parts_after_abort: StatusCode::NOT_FOUND,
            lists_multipart_uploads: true,
            checks_part_etags: true,
        },
    }
}

/// The keys of the store under test.
#[derive(Clone)]
pub struct StoreKeys {
    pub read_write: (String, String),
    pub write_only: (String, String),
    pub read_only: (String, String),
}

/// A plain SDK client for `key` (access key, secret) at `endpoint`.
pub fn s3_client(region: &str, endpoint: &str, key: &(String, String)) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(&key.0, &key.1, None, None, "tests");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .force_path_style(true)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
