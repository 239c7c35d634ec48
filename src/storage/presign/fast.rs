//! tollgate's own SigV4 query signer for GetObject, PutObject and UploadPart URLs.
//!
//! It writes the URLs aws-sdk-s3 writes, byte for byte (the tests below compare them over fixed
//! and random inputs), without the SDK's request pipeline: one pass that appends the URL and
//! feeds the canonical request straight into SHA-256, and a signing key derived once per
//! (UTC day, credentials) instead of four HMACs per URL, with the URL's credential scope and
//! session token encoded once along with it. Where the SDK would put the bucket (path or host)
//! is learnt from the SDK itself at startup, so endpoint rules stay the SDK's.

use std::ops::Range;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::encoding::{KEY_PATH_ENCODER, QUERY_ENCODER, push_encoded};
use super::{ObjectRequest, Signed};
use crate::storage::{StorageError, StorageErrorKind};

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "s3";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

fn error(detail: impl Into<String>) -> StorageError {
    StorageError::new(StorageErrorKind::Presign, detail)
}

/// Where URLs point: learnt from one URL the SDK presigned for this bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme and authority, e.g. `http://127.0.0.1:9000`.
    origin: String,
    /// Path before the key: `/bucket` (path style) or empty (virtual-hosted style).
    path_prefix: String,
    /// The `host` header as signed (no default port).
    host: String,
    region: String,
}

impl Endpoint {
    /// Scheme and authority, e.g. `http://127.0.0.1:9000`.
    pub(super) fn origin(&self) -> &str {
        &self.origin
    }

    /// Path before the key: `/bucket` (path style) or empty (virtual-hosted style).
    pub(super) fn path_prefix(&self) -> &str {
        &self.path_prefix
    }

    /// The `host` header as signed.
    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// The region the SDK signs for.
    pub(super) fn region(&self) -> &str {
        &self.region
    }

    /// Reads the endpoint from `url`, an SDK-presigned GetObject URL for key `probe_key`.
    pub fn from_presigned(url: &str, probe_key: &str) -> Result<Self, StorageError> {
        let uri: axum::http::Uri = url.parse().map_err(|e| error(format!("{e}")))?;
        let scheme = uri.scheme_str().ok_or_else(|| error("URL has no scheme"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| error("URL has no host"))?
            .clone();
        let default_port = matches!(
            (scheme, authority.port_u16()),
            ("http", Some(80)) | ("https", Some(443))
        );
        let host = if default_port {
            authority.host().to_owned()
        } else {
            authority.as_str().to_owned()
        };
        let path_prefix = uri
            .path()
            .strip_suffix(&format!("/{probe_key}"))
            .ok_or_else(|| error("the key is not the end of the SDK's URL path"))?
            .to_owned();
        let credential = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
            .ok_or_else(|| error("the SDK's URL has no X-Amz-Credential"))?;
        // `{key id}%2F{date}%2F{region}%2F{service}%2Faws4_request`
        let scope: Vec<&str> = credential.split("%2F").collect();
        let [_, _, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(error("unexpected credential scope in the SDK's URL"));
        };
        if *service != SERVICE {
            return Err(error(format!(
                "the SDK signs for service {service}; set storage.signer = \"sdk\""
            )));
        }
        Ok(Self {
            origin: format!("{scheme}://{}", authority.as_str()),
            path_prefix,
            host,
            region: (*region).to_owned(),
        })
    }
}

/// The day's signing key for one set of credentials, as an HMAC ready to sign with, and what
/// every URL signed with it carries, already encoded.
struct DayKey {
    day: [u8; 8],
    access_key_id: String,
    secret: String,
    session_token: Option<String>,
    mac: HmacSha256,
    /// `X-Amz-Credential`'s value: `{key id}%2F{day}%2F{region}%2Fs3%2Faws4_request`.
    credential: String,
    /// `X-Amz-Security-Token`'s value (a session token is often over 1 KB).
    encoded_token: Option<String>,
}

pub struct FastSigner {
    endpoint: Endpoint,
    /// `/{region}/s3/aws4_request`.
    scope_tail: String,
    key: RwLock<Option<Arc<DayKey>>>,
}

impl std::fmt::Debug for FastSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastSigner")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// `YYYYMMDDTHHMMSSZ` for `time` (UTC).
pub(super) fn amz_date(time: SystemTime) -> Result<[u8; 16], StorageError> {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| error("signing time before 1970"))?
        .as_secs();
    let at = time::OffsetDateTime::from_unix_timestamp(
        i64::try_from(secs).map_err(|_| error("signing time out of range"))?,
    )
    .map_err(|_| error("signing time out of range"))?;
    let year = u32::try_from(at.year())
        .ok()
        .filter(|y| *y <= 9999)
        .ok_or_else(|| error("signing time out of range"))?;
    let mut out = *b"00000000T000000Z";
    let mut put = |at: usize, digits: usize, mut value: u32| {
        for i in (at..at + digits).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(4, 2, u32::from(u8::from(at.month())));
    put(6, 2, u32::from(at.day()));
    put(9, 2, u32::from(at.hour()));
    put(11, 2, u32::from(at.minute()));
    put(13, 2, u32::from(at.second()));
    Ok(out)
}

/// A header value as SigV4 canonicalises it: outer spaces dropped, inner runs of spaces
/// collapsed to one.
fn update_trimmed(hasher: &mut Sha256, value: &str) {
    let mut previous_space = false;
    let trimmed = value.trim_matches(' ');
    let mut start = 0;
    for (i, byte) in trimmed.bytes().enumerate() {
        if byte == b' ' && previous_space {
            hasher.update(&trimmed.as_bytes()[start..i]);
            start = i + 1;
        }
        previous_space = byte == b' ';
    }
    hasher.update(&trimmed.as_bytes()[start..]);
}

/// Header names and values the SDK would refuse to send are refused here too (the `http`
/// crate's rules: names are tokens, values have no control character but tab).
fn check_header(name: &str, value: &str) -> Result<(), StorageError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(error(format!("invalid header name {name:?}")));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
    {
        return Err(error(format!("invalid value for header {name}")));
    }
    Ok(())
}

/// Decimal digits of `value`, on the stack.
struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    fn new(mut value: u64) -> Self {
        let mut digits = [b'0'; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.digits[self.start..]).unwrap_or("0")
    }
}

/// Query parameters of one URL at most: the operation's three and the five of the signature.
const MAX_PARAMS: usize = 10;

/// Signed headers kept on the stack (more go to the heap): `host`, and those of an upload with
/// a few metadata pairs.
const INLINE_HEADERS: usize = 12;

/// A URL under construction: the ranges of each encoded query name and value, for the
/// canonical query string.
struct UrlWriter {
    url: String,
    params: [(Range<usize>, Range<usize>); MAX_PARAMS],
    count: usize,
    /// More parameters than `MAX_PARAMS`: the URL cannot be signed.
    overflow: bool,
}

/// Whether `text` reads the same percent-encoded.
fn needs_no_encoding(text: &str) -> bool {
    let mut encoded = String::new();
    push_encoded(&mut encoded, text, &QUERY_ENCODER);
    encoded == text
}

impl UrlWriter {
    /// Appends `name=`, then the value `write` appends. Parameter names are unreserved.
    fn param_with(&mut self, name: &'static str, write: impl FnOnce(&mut String)) {
        debug_assert!(needs_no_encoding(name), "{name}");
        self.url.push(if self.count == 0 { '?' } else { '&' });
        let name_start = self.url.len();
        self.url.push_str(name);
        let name_end = self.url.len();
        self.url.push('=');
        let value_start = self.url.len();
        write(&mut self.url);
        match self.params.get_mut(self.count) {
            Some(slot) => {
                *slot = (name_start..name_end, value_start..self.url.len());
                self.count += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Appends `name=value`, `value` encoded.
    fn param(&mut self, name: &'static str, value: &str) {
        self.param_with(name, |url| push_encoded(url, value, &QUERY_ENCODER));
    }

    /// Appends `name=value`, `value` being unreserved characters only (the algorithm, dates,
    /// numbers, operation names).
    fn param_raw(&mut self, name: &'static str, value: &str) {
        debug_assert!(needs_no_encoding(value), "{value}");
        self.param_with(name, |url| url.push_str(value));
    }

    /// Appends `name=value`, `value` being percent-encoded already.
    fn param_encoded(&mut self, name: &'static str, value: &str) {
        self.param_with(name, |url| url.push_str(value));
    }

    /// The parameters as written, encoded.
    fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params[..self.count]
            .iter()
            .map(|(n, v)| (&self.url[n.clone()], &self.url[v.clone()]))
    }
}

/// The query the SDK writes before the signature: the operation, then its query members.
fn write_operation_query(request: &ObjectRequest<'_>, writer: &mut UrlWriter) {
    match request {
        ObjectRequest::Get {
            content_disposition,
            ..
        } => {
            writer.param_raw("x-id", "GetObject");
            if let Some(disposition) = content_disposition {
                writer.param("response-content-disposition", disposition);
            }
        }
        ObjectRequest::Put { .. } => writer.param_raw("x-id", "PutObject"),
        ObjectRequest::UploadPart {
            upload_id,
            part_number,
            ..
        } => {
            writer.param_raw("x-id", "UploadPart");
            writer.param_raw("partNumber", Decimal::new(*part_number).as_str());
            writer.param("uploadId", upload_id);
        }
        // What aws-sigv4 signs for the operations the SDK cannot presign (`sigv4.rs`).
        ObjectRequest::CreateMultipart { .. } => writer.param_raw("uploads", ""),
        ObjectRequest::ListParts { upload_id, .. }
        | ObjectRequest::CompleteMultipart { upload_id, .. }
        | ObjectRequest::AbortMultipart { upload_id, .. } => writer.param("uploadId", upload_id),
    }
}

impl FastSigner {
    /// Where its URLs point (the equality tests sign the same request with aws-sigv4 there).
    #[cfg(test)]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            scope_tail: format!("/{}/{SERVICE}/aws4_request", endpoint.region),
            endpoint,
            key: RwLock::new(None),
        }
    }

    /// The day's key for `credentials`, derived when the day or the credentials change.
    fn day_key(&self, day: &str, credentials: &Credentials) -> Result<Arc<DayKey>, StorageError> {
        let current = |slot: &Option<Arc<DayKey>>| {
            slot.as_ref()
                .filter(|key| {
                    key.day == day.as_bytes()
                        && key.access_key_id == credentials.access_key_id()
                        && key.secret == credentials.secret_access_key()
                        && key.session_token.as_deref() == credentials.session_token()
                })
                .cloned()
        };
        if let Some(key) = self.key.read().ok().and_then(|slot| current(&slot)) {
            return Ok(key);
        }
        let keyed = |key: &[u8]| {
            HmacSha256::new_from_slice(key).map_err(|_| error("HMAC refused the signing key"))
        };
        let derive = |key: &[u8], data: &[u8]| -> Result<Vec<u8>, StorageError> {
            let mut mac = keyed(key)?;
            mac.update(data);
            Ok(mac.finalize().into_bytes().to_vec())
        };
        let secret = format!("AWS4{}", credentials.secret_access_key());
        let k_date = derive(secret.as_bytes(), day.as_bytes())?;
        let k_region = derive(&k_date, self.endpoint.region.as_bytes())?;
        let k_service = derive(&k_region, SERVICE.as_bytes())?;
        let k_signing = derive(&k_service, b"aws4_request")?;
        let mut day_bytes = [0; 8];
        day_bytes.copy_from_slice(day.as_bytes());
        let mut credential = String::new();
        for piece in [credentials.access_key_id(), "/", day, &self.scope_tail] {
            push_encoded(&mut credential, piece, &QUERY_ENCODER);
        }
        let encoded_token = credentials.session_token().map(|token| {
            let mut encoded = String::with_capacity(token.len() * 2);
            push_encoded(&mut encoded, token, &QUERY_ENCODER);
            encoded
        });
        let key = Arc::new(DayKey {
            day: day_bytes,
            access_key_id: credentials.access_key_id().to_owned(),
            secret: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().map(str::to_owned),
            mac: keyed(&k_signing)?,
            credential,
            encoded_token,
        });
        if let Ok(mut slot) = self.key.write() {
            *slot = Some(Arc::clone(&key));
        }
        Ok(key)
    }

    /// Signs `request` for `expires_in` seconds from `start` with `credentials`.
    pub fn presign(
        &self,
        request: &ObjectRequest<'_>,
        start: SystemTime,
        expires_in: u64,
        credentials: &Credentials,
    ) -> Result<Signed, StorageError> {
        let date = amz_date(start)?;
        let date = std::str::from_utf8(&date).map_err(|_| error("date"))?;
        let day = &date[..8];
        let headers = request.headers();
        for (name, value) in &headers {
            check_header(name, value)?;
        }
        // Signed headers: `host` and the request's, sorted by name; on the stack when few.
        let mut inline = [("", ""); INLINE_HEADERS];
        let mut spilled = Vec::new();
        let signed: &mut [(&str, &str)] = if headers.len() < INLINE_HEADERS {
            &mut inline[..=headers.len()]
        } else {
            spilled.resize(headers.len() + 1, ("", ""));
            &mut spilled
        };
        signed[0] = ("host", &self.endpoint.host);
        for (slot, (name, value)) in signed[1..].iter_mut().zip(&headers) {
            *slot = (name, value);
        }
        signed.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let signed_names: std::borrow::Cow<'static, str> = if signed.len() == 1 {
            "host".into()
        } else {
            let mut names = String::with_capacity(signed.iter().map(|h| h.0.len() + 1).sum());
            for (i, (name, _)) in signed.iter().enumerate() {
                if i > 0 {
                    names.push(';');
                }
                names.push_str(name);
            }
            names.into()
        };
        let day_key = self.day_key(day, credentials)?;

        let mut writer = UrlWriter {
            url: String::with_capacity(
                512 + request.key().len() * 3
                    + day_key.encoded_token.as_ref().map_or(0, String::len),
            ),
            params: Default::default(),
            count: 0,
            overflow: false,
        };
        writer.url.push_str(&self.endpoint.origin);
        let path_start = writer.url.len();
        writer.url.push_str(&self.endpoint.path_prefix);
        writer.url.push('/');
        push_encoded(&mut writer.url, request.key(), &KEY_PATH_ENCODER);
        let path = path_start..writer.url.len();
        write_operation_query(request, &mut writer);
        writer.param_raw("X-Amz-Algorithm", ALGORITHM);
        writer.param_encoded("X-Amz-Credential", &day_key.credential);
        writer.param_raw("X-Amz-Date", date);
        writer.param_raw("X-Amz-Expires", Decimal::new(expires_in).as_str());
        writer.param("X-Amz-SignedHeaders", &signed_names);
        if writer.overflow {
            return Err(error("too many query parameters"));
        }

        let mut query = [("", ""); MAX_PARAMS + 1];
        let mut count = 0;
        for (slot, param) in query.iter_mut().zip(writer.params()) {
            *slot = param;
            count += 1;
        }
        if let Some(token) = &day_key.encoded_token {
            query[count] = ("X-Amz-Security-Token", token);
            count += 1;
        }
        let canonical = CanonicalRequest {
            method: request.method(),
            path: &writer.url[path],
            query: &mut query[..count],
            headers: signed,
            signed_names: &signed_names,
        }
        .hash();
        let hex = self.signature(&day_key, date, &canonical);

        let mut url = writer.url;
        url.push_str("&X-Amz-Signature=");
        url.push_str(std::str::from_utf8(&hex).map_err(|_| error("hex"))?);
        if let Some(token) = &day_key.encoded_token {
            url.push_str("&X-Amz-Security-Token=");
            url.push_str(token);
        }
        Ok(Signed { url, headers })
    }

    /// The hex HMAC of the string to sign, with the day's key.
    fn signature(&self, day_key: &DayKey, date: &str, canonical_hash: &[u8]) -> [u8; 64] {
        let day = &date[..8];
        let mut mac = day_key.mac.clone();
        mac.update(ALGORITHM.as_bytes());
        mac.update(b"\n");
        mac.update(date.as_bytes());
        mac.update(b"\n");
        mac.update(day.as_bytes());
        mac.update(self.scope_tail.as_bytes());
        mac.update(b"\n");
        let mut hex = [0u8; 64];
        hex_encode(canonical_hash, &mut hex);
        mac.update(&hex);
        hex_encode(&mac.finalize().into_bytes(), &mut hex);
        hex
    }
}

/// The parts of a SigV4 canonical request, already encoded as the URL carries them.
struct CanonicalRequest<'a> {
    method: &'a str,
    path: &'a str,
    /// Unsorted; sorted in place.
    query: &'a mut [(&'a str, &'a str)],
    /// Sorted by name.
    headers: &'a [(&'a str, &'a str)],
    signed_names: &'a str,
}

impl CanonicalRequest<'_> {
    /// SHA-256 of the canonical request, fed piece by piece rather than written out.
    fn hash(self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.method.as_bytes());
        hasher.update(b"\n");
        hasher.update(self.path.as_bytes());
        hasher.update(b"\n");
        self.query.sort_unstable();
        for (i, (name, value)) in self.query.iter().enumerate() {
            if i > 0 {
                hasher.update(b"&");
            }
            hasher.update(name.as_bytes());
            hasher.update(b"=");
            hasher.update(value.as_bytes());
        }
        hasher.update(b"\n");
        for (name, value) in self.headers {
            hasher.update(name.as_bytes());
            hasher.update(b":");
            update_trimmed(&mut hasher, value);
            hasher.update(b"\n");
        }
        hasher.update(b"\n");
        hasher.update(self.signed_names.as_bytes());
        hasher.update(b"\n");
        hasher.update(UNSIGNED_PAYLOAD.as_bytes());
        hasher.finalize().into()
    }
}

fn hex_encode(bytes: &[u8], out: &mut [u8; 64]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in bytes.iter().take(32).enumerate() {
        out[2 * i] = DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_match_to_string() {
        for value in [0, 7, 10, 604_800, 10_000, u64::MAX] {
            assert_eq!(Decimal::new(value).as_str(), value.to_string());
        }
    }

    #[test]
    fn header_checks_agree_with_the_http_crate_on_every_byte() {
        for byte in 0..=u8::MAX {
            let text = String::from_utf8_lossy(&[b'a', byte, b'z']).into_owned();
            let name_ok = axum::http::HeaderName::from_bytes(text.as_bytes()).is_ok();
            assert_eq!(
                check_header(&text, "v").is_ok(),
                name_ok,
                "name byte {byte}"
            );
            let value_ok = axum::http::HeaderValue::from_str(&text).is_ok();
            assert_eq!(
                check_header("x", &text).is_ok(),
                value_ok,
                "value byte {byte}"
            );
        }
    }

    #[test]
    fn amz_dates_are_utc() {
        let at = |secs| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        assert_eq!(&amz_date(at(0)).unwrap(), b"19700101T000000Z");
        assert_eq!(&amz_date(at(951_782_399)).unwrap(), b"20000228T235959Z");
        assert_eq!(&amz_date(at(1_795_046_400)).unwrap(), b"20261119T000000Z");
    }
}
