//! S3's own limits, which tollgate's settings and signers keep within.

/// S3's hard limit on a presigned URL's lifetime (7 days).
pub const MAX_PRESIGN_EXPIRY_SECS: u64 = 604_800;
/// S3's smallest part (all but the last).
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's largest number of parts, and so its largest part number.
pub const MAX_PARTS: u64 = 10_000;
/// S3's limit for one PUT.
pub const MAX_SINGLE_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
