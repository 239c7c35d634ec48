//! Typed settings, layered as `config/default.toml` → `config/{TOLLGATE_ENV}.toml` →
//! `TOLLGATE__SECTION__KEY` environment variables, and validated once at start-up.

use crate::controls::settings::{LimitSettings, RevocationSettings, StateSettings, StreamSettings};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

pub use crate::secret::Secret;
pub use crate::storage::limits::{
    MAX_PARTS, MAX_PRESIGN_EXPIRY_SECS, MAX_SINGLE_PUT_BYTES, MIN_PART_BYTES,
};
pub use crate::storage::settings::{EmbeddedStoreSettings, StorageSettings, StoreKeySettings};
use crate::storage::settings::{check_url, is_loopback_host};
pub use crate::telemetry::{LogFormat, LogSettings};

/// Shortest HMAC secret accepted for HS256 (RFC 7518 §3.2: at least the hash size).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;
/// Longest `server.header_read_timeout_secs`: beyond this the timeout no longer protects
/// against clients that hold connections open by trickling a request head.
pub const MAX_HEADER_READ_TIMEOUT_SECS: u64 = 300;
/// Longest `server.request_timeout_secs`: tollgate's slowest request is a few store round trips.
pub const MAX_REQUEST_TIMEOUT_SECS: u64 = 600;
/// Largest `server.max_connections`: far above any file-descriptor limit, so only a typo gets here.
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// The base layer, compiled in so that the binary runs even without a `config/` folder.
const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Every secret value this repository publishes (`config/local.toml`, `config/compose.toml`,
/// `docker-compose.yml`; a unit test holds the files to this list). Anyone can read them, so a
/// tollgate using one is open to anyone who can reach it: they are refused in production, and
/// in any environment while tollgate listens beyond loopback
/// (see `server.allow_dev_secrets_on_public_address`).
pub const PUBLISHED_DEV_SECRETS: [&str; 7] = [
    "dev-only-insecure-hmac-secret-change-me-0123456789",
    "dev-only-insecure-upload-id-secret-0123456789",
    "dev-only-insecure-hls-grant-secret-0123456789",
    "tollgate-dev-secret-key-not-for-production",
    "tollgate-dev-upload-secret-not-for-production",
    "tollgate-read-secret-dev-only",
    "tollgate-upload-secret-dev-only",
];

/// The markers every published dev value carries, so that an edited copy of one (a character
/// appended to pass a length check) is refused as well.
const DEV_SECRET_MARKERS: [&str; 2] = ["dev-only", "not-for-production"];

fn is_published_dev_secret(value: &str) -> bool {
    let lowercase = value.to_ascii_lowercase();
    PUBLISHED_DEV_SECRETS.contains(&value)
        || DEV_SECRET_MARKERS.iter().any(|m| lowercase.contains(m))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    UnknownEnvironment(#[from] UnknownEnvironment),
    #[error("could not read configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// Where tollgate runs, from `TOLLGATE_ENV`. It picks `config/{name}.toml` and decides which
/// checks apply, so a misspelt name is a start-up error rather than a silent fall back to the
/// defaults without any production check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `cargo run` on a workstation (`TOLLGATE_ENV` unset).
    #[default]
    Local,
    /// The `docker compose` stack: tollgate in its container, or on the host next to it.
    Compose,
    /// A deployment: every production check applies.
    Production,
}

impl Environment {
    pub const ALL: [Self; 3] = [Self::Local, Self::Compose, Self::Production];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Compose => "compose",
            Self::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `TOLLGATE_ENV` names no environment tollgate knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown environment {:?} in TOLLGATE_ENV; valid environments: {}",
    .0,
    Environment::ALL.map(Environment::as_str).join(", ")
)]
pub struct UnknownEnvironment(pub String);

impl TryFrom<&str> for Environment {
    type Error = UnknownEnvironment;

    fn try_from(name: &str) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == name)
            .ok_or_else(|| UnknownEnvironment(name.to_owned()))
    }
}

impl std::str::FromStr for Environment {
    type Err = UnknownEnvironment;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::try_from(name)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The environment, from `TOLLGATE_ENV` (default `local`); not read from files.
    #[serde(skip_deserializing)]
    pub environment: Environment,
    pub server: ServerSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub entitlement: EntitlementSettings,
    pub storage: StorageSettings,
    pub presign: PresignSettings,
    pub uploads: UploadSettings,
    pub cors: CorsSettings,
    pub demo: DemoSettings,
    pub hls: HlsSettings,
    pub state: StateSettings,
    pub revocation: RevocationSettings,
    pub limits: LimitSettings,
    pub streams: StreamSettings,
    pub audit: crate::audit::AuditSettings,
    pub webhooks: crate::webhooks::WebhookSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HlsSettings {
    /// Key of the HMAC that signs playback grants (HLS is off without it).
    pub grant_secret: Option<Secret>,
    /// tollgate's URL as players reach it (`https://api.example.com`), written into playlist
    /// URLs; unset: `http://` and each request's `Host`.
    pub public_url: Option<String>,
    /// How long a grant (the capability to fetch a video's nested playlists) lives.
    pub grant_ttl_secs: u64,
    /// Added to a VOD playlist's duration for its segment URLs' lifetime.
    pub expiry_margin_secs: u64,
    /// Longest lifetime of a segment URL.
    pub max_expires_secs: u64,
    /// Largest playlist tollgate reads.
    pub max_playlist_bytes: u64,
    /// Tallest rendition (pixels) per tier; tiers not named: any.
    pub max_height: std::collections::BTreeMap<String, u32>,
}

impl HlsSettings {
    fn validate(&self, tiers: &[String], problems: &mut Vec<String>) {
        if let Some(url) = &self.public_url
            && (!(url.starts_with("http://") || url.starts_with("https://"))
                || url.ends_with('/')
                || url.contains(['?', '#', ' ']))
        {
            problems.push(format!(
                "hls.public_url must be an http(s) origin or path without a trailing '/', got {url:?}"
            ));
        }
        if let Some(secret) = &self.grant_secret
            && secret.expose().len() < MIN_HMAC_SECRET_BYTES
        {
            problems.push(format!(
                "hls.grant_secret must be at least {MIN_HMAC_SECRET_BYTES} bytes"
            ));
        }
        for (name, value) in [
            ("grant_ttl_secs", self.grant_ttl_secs),
            ("max_expires_secs", self.max_expires_secs),
        ] {
            if value == 0 || value > MAX_PRESIGN_EXPIRY_SECS {
                problems.push(format!(
                    "hls.{name} must be 1..={MAX_PRESIGN_EXPIRY_SECS}, got {value}"
                ));
            }
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_playlist_bytes) {
            problems.push(format!(
                "hls.max_playlist_bytes must be 1 KiB..=64 MiB, got {}",
                self.max_playlist_bytes
            ));
        }
        for tier in self.max_height.keys() {
            if !tiers.contains(tier) {
                problems.push(format!(
                    "hls.max_height names {tier:?}, which is not in entitlement.tiers"
                ));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    /// Serve the `/demo` page (development only; refused in production).
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins allowed to call tollgate from a browser; `["*"]` for any; empty for none.
    pub allowed_origins: Vec<String>,
    /// Seconds a preflight answer may be cached.
    pub max_age_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address the HTTP API listens on.
    pub host: String,
    /// Port of the HTTP API; 0 picks a free one (tests).
    pub port: u16,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
    /// Seconds a client gets to send a whole request head (request line and headers), counted
    /// from the connection's opening or from the end of the previous response: a connection
    /// that stalls mid-head, or idles without starting a request, is closed (Slowloris).
    pub header_read_timeout_secs: u64,
    /// Seconds a response write may make no progress (the client stopped reading) before the
    /// connection is closed: hyper has no write timeout of its own.
    pub write_timeout_secs: u64,
    /// Seconds a request may take, handler and reading of its body included; a slower one is
    /// answered `408 request_timeout` and its work dropped.
    pub request_timeout_secs: u64,
    /// Most connections open at once; further ones wait in the kernel's listen backlog until
    /// one closes.
    pub max_connections: usize,
    /// Most requests served at once; one more is answered `503 overloaded` with `Retry-After`
    /// at once instead of waiting. `/healthz` and `/metrics` are never shed.
    pub max_in_flight: usize,
    /// Accept the repository's published dev secrets although `host` is not a loopback
    /// address. For a development container only (docker-compose.yml binds 0.0.0.0 inside its
    /// network and publishes the port on the host's loopback); refused in production.
    pub allow_dev_secrets_on_public_address: bool,
    /// Proxies (addresses or networks) whose `X-Forwarded-For` names the client, for the
    /// limits per client IP. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// A port of its own for `/metrics` (and `/healthz`), on `host`; unset: `/metrics` is on
    /// `port` beside the API. 0 picks a free one (tests).
    pub admin_port: Option<u16>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 shared secret, at least 32 bytes.
    pub hmac_secret: Option<Secret>,
    /// JWKS URL for RS256 / ES256 / EdDSA tokens.
    pub jwks_url: Option<String>,
    /// Seconds between JWKS refreshes.
    pub jwks_refresh_secs: u64,
    /// Minimum seconds between two refetches caused by an unknown `kid`.
    pub jwks_min_refetch_secs: u64,
    /// Timeout of one JWKS fetch, in seconds.
    pub jwks_fetch_timeout_secs: u64,
    /// Required `iss` value.
    pub issuer: Option<String>,
    /// Required `aud` value.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Tokens longer than this are rejected unparsed.
    pub max_token_bytes: usize,
    /// Claim holding the caller's entitlements.
    pub entitlements_claim: String,
    /// Claim holding the caller's roles.
    pub roles_claim: String,
    /// Role that may read every video.
    pub admin_role: String,
    /// Longest time a verified token is remembered (its `exp` ends it sooner); 0 disables.
    pub token_cache_ttl_secs: u64,
    /// Most verified tokens remembered; 0 disables.
    pub token_cache_capacity: u64,
    /// Most bytes the remembered tokens may hold: an entry keeps its whole token (up to
    /// `max_token_bytes`) and claims, plus a fixed overhead. Both bounds hold at once: long
    /// tokens meet this one first, short ones `token_cache_capacity`. 0 disables.
    pub token_cache_max_bytes: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementSettings {
    /// Every tier tollgate knows.
    pub tiers: Vec<String>,
    /// Tiers every authenticated caller may watch.
    pub open_tiers: Vec<String>,
    /// Tier of objects without `x-amz-meta-access`.
    pub default_tier: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PresignSettings {
    /// Longest lifetime of a presigned GET URL, in seconds.
    pub get_max_expires_secs: u64,
    /// Longest lifetime of a presigned PUT URL, in seconds.
    pub put_max_expires_secs: u64,
    /// Longest lifetime of a form upload's POST policy, in seconds.
    pub form_max_expires_secs: u64,
    /// Cache-stable GET URLs: the signing time is rounded down to a multiple of this many
    /// seconds (0: off), so that URLs signed within one window are byte-identical.
    pub time_window_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSettings {
    /// Role that may upload (admins may too).
    pub uploader_role: String,
    /// Content types a client may upload, each in a `MediaFamily` (video, audio, raster
    /// images, HLS playlists and fMP4 segments): anything else could run script when the
    /// bucket serves it.
    pub allowed_content_types: Vec<String>,
    /// Largest single-request upload, in bytes.
    pub max_size_bytes: u64,
    /// Tier of an upload that names none.
    pub default_access: String,
    /// Sign `If-None-Match: *` into upload URLs.
    pub if_none_match: bool,
    /// Key of the MAC binding an upload id to its owner (uploads are refused without it).
    pub id_secret: Option<Secret>,
    /// Declared sizes above this use a multipart upload.
    pub multipart_threshold_bytes: u64,
    /// Largest multipart upload.
    pub max_multipart_bytes: u64,
    /// Part size tollgate chooses.
    pub part_size_bytes: u64,
    /// An upload id may be used (parts, completion, abort) this long after it was issued.
    pub id_max_age_secs: u64,
    /// Bytes a subject may upload per `quota_period_secs`; 0: no quota.
    pub quota_bytes: u64,
    /// The quota's period: fixed windows of this many seconds.
    pub quota_period_secs: u64,
    /// What quotas do while the shared state is unreachable.
    pub quota_failure_policy: crate::controls::settings::FailurePolicy,
}

impl Settings {
    /// Reads the layers for the environment named by `TOLLGATE_ENV` (unset: `local`; any other
    /// unknown name is an error) from `config_dir` (`TOLLGATE_CONFIG_DIR`, default `./config`)
    /// and validates them.
    pub fn load() -> Result<Self, ConfigError> {
        let environment = match std::env::var("TOLLGATE_ENV") {
            Ok(name) => Environment::try_from(name.as_str())?,
            Err(std::env::VarError::NotPresent) => Environment::default(),
            Err(std::env::VarError::NotUnicode(raw)) => {
                return Err(UnknownEnvironment(raw.to_string_lossy().into_owned()).into());
            }
        };
        let config_dir = std::env::var_os("TOLLGATE_CONFIG_DIR")
            .map_or_else(|| PathBuf::from("config"), PathBuf::from);
        Self::load_from(&config_dir, environment)
    }

    /// Layers defaults, `{config_dir}/{environment}.toml` (when present) and the environment
    /// variables, then validates.
    pub fn load_from(config_dir: &Path, environment: Environment) -> Result<Self, ConfigError> {
        let env_file = config_dir.join(format!("{environment}.toml"));
        let mut settings: Self = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .merge(Toml::file(&env_file))
            .merge(Env::prefixed("TOLLGATE__").split("__"))
            .extract()
            .map_err(Box::new)?;
        settings.environment = environment;
        settings.validate()?;
        Ok(settings)
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// Every problem at once, so that an operator fixes the file in one go.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.server.validate(&mut problems);
        self.refuse_published_secrets(&mut problems);
        self.auth.validate(self.is_production(), &mut problems);
        self.storage.validate(
            self.is_production(),
            self.uploads.id_secret.is_some(),
            &mut problems,
        );
        for (name, max) in [
            ("get_max_expires_secs", self.presign.get_max_expires_secs),
            ("put_max_expires_secs", self.presign.put_max_expires_secs),
            ("form_max_expires_secs", self.presign.form_max_expires_secs),
        ] {
            if max == 0 || max > MAX_PRESIGN_EXPIRY_SECS {
                problems.push(format!(
                    "presign.{name} must be 1..={MAX_PRESIGN_EXPIRY_SECS} (S3's 7-day limit), got {max}"
                ));
            }
        }
        self.validate_tiers(&mut problems);
        self.hls.validate(&self.entitlement.tiers, &mut problems);
        crate::controls::settings::validate(
            &self.state,
            &self.revocation,
            &self.limits,
            &self.streams,
            &self.entitlement.tiers,
            &mut problems,
        );
        self.audit.validate(&mut problems);
        self.webhooks.validate(&mut problems);
        if let Err(entry) = crate::controls::TrustedProxies::parse(&self.server.trusted_proxies) {
            problems.push(format!(
                "server.trusted_proxies: {entry:?} is neither an IP address nor a network (10.0.0.0/8)"
            ));
        }
        if self.presign.time_window_secs >= self.presign.get_max_expires_secs {
            problems.push(format!(
                "presign.time_window_secs ({}) must be below presign.get_max_expires_secs ({}): a URL signed at a window's start would expire within it",
                self.presign.time_window_secs, self.presign.get_max_expires_secs
            ));
        }
        if self.demo.enabled && self.is_production() {
            problems.push(
                "demo.enabled is refused in production: the demo page is for development"
                    .to_owned(),
            );
        }
        if self.demo.enabled && !cfg!(feature = "demo") {
            problems.push("demo.enabled needs a build with the `demo` feature".to_owned());
        }
        if self.uploads.id_max_age_secs < self.presign.put_max_expires_secs {
            problems.push(format!(
                "uploads.id_max_age_secs ({}) must be at least presign.put_max_expires_secs ({}): a new upload's URLs would outlive its id",
                self.uploads.id_max_age_secs, self.presign.put_max_expires_secs
            ));
        }
        check_origins(
            "cors.allowed_origins",
            &self.cors.allowed_origins,
            &mut problems,
        );
        check_origins(
            "storage.embedded.cors_origins",
            &self.storage.embedded.cors_origins,
            &mut problems,
        );
        self.uploads.validate(&mut problems);
        if self.storage.embedded.enabled && !self.uploads.if_none_match {
            problems.push(
                "uploads.if_none_match must be true with the embedded store: s3s-fs writes the body of a PUT before it checks its SHA-256, so a refused PUT could replace a completed upload"
                    .to_owned(),
            );
        }

        if self.entitlement.default_tier.trim().is_empty() {
            problems.push("entitlement.default_tier must not be empty".to_owned());
        }
        if self
            .entitlement
            .open_tiers
            .iter()
            .any(|t| t.trim().is_empty())
        {
            problems.push("entitlement.open_tiers must not contain empty names".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Every secret setting by name, for the rules that apply to all of them.
    pub fn secrets(&self) -> [(&'static str, Option<&Secret>); 6] {
        [
            ("auth.hmac_secret", self.auth.hmac_secret.as_ref()),
            ("uploads.id_secret", self.uploads.id_secret.as_ref()),
            ("hls.grant_secret", self.hls.grant_secret.as_ref()),
            (
                "storage.secret_access_key",
                self.storage.secret_access_key.as_ref(),
            ),
            (
                "storage.upload_secret_access_key",
                self.storage.upload_secret_access_key.as_ref(),
            ),
            ("webhooks.secret", self.webhooks.secret.as_ref()),
        ]
    }

    /// A published secret protects nothing: refused in production, and wherever tollgate can
    /// be reached from other machines unless a development container opts in. The message
    /// names the setting, never the value.
    fn refuse_published_secrets(&self, problems: &mut Vec<String>) {
        let opted_in = self.server.allow_dev_secrets_on_public_address;
        if self.is_production() && opted_in {
            problems.push(
                "server.allow_dev_secrets_on_public_address must be false in production".to_owned(),
            );
        }
        let refused_because = if self.is_production() {
            "in production".to_owned()
        } else if !is_loopback_host(&self.server.host) && !opted_in {
            format!(
                "while server.host ({}) is not a loopback address (listen on 127.0.0.1, or, for a development container only, set server.allow_dev_secrets_on_public_address = true)",
                self.server.host
            )
        } else {
            return;
        };
        for (name, secret) in self.secrets() {
            if secret.is_some_and(|s| is_published_dev_secret(s.expose())) {
                problems.push(format!(
                    "{name} is a development value published in this repository, refused {refused_because}: set a secret of your own"
                ));
            }
        }
    }

    fn validate_tiers(&self, problems: &mut Vec<String>) {
        let known = &self.entitlement.tiers;
        if known.is_empty() {
            problems.push("entitlement.tiers must name at least one tier".to_owned());
        }
        let named = self
            .entitlement
            .open_tiers
            .iter()
            .map(|t| ("entitlement.open_tiers", t))
            .chain([
                ("entitlement.default_tier", &self.entitlement.default_tier),
                ("uploads.default_access", &self.uploads.default_access),
            ]);
        for (setting, tier) in known
            .iter()
            .map(|t| ("entitlement.tiers", t))
            .chain(named.clone())
        {
            if let Err(e) = crate::domain::Tier::parse(tier) {
                problems.push(format!("{setting}: {tier:?}: {e}"));
            }
        }
        for (setting, tier) in named {
            if !known.contains(tier) {
                problems.push(format!(
                    "{setting}: {tier:?} is not in entitlement.tiers {known:?}"
                ));
            }
        }
    }

    /// The effective configuration as JSON, secrets masked by `Secret`'s `Serialize`
    /// (for `tollgate check-config`).
    pub fn to_masked_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("<unprintable: {e}>"))
    }
}

impl ServerSettings {
    fn validate(&self, problems: &mut Vec<String>) {
        for (name, value, max) in [
            (
                "header_read_timeout_secs",
                self.header_read_timeout_secs,
                MAX_HEADER_READ_TIMEOUT_SECS,
            ),
            (
                "request_timeout_secs",
                self.request_timeout_secs,
                MAX_REQUEST_TIMEOUT_SECS,
            ),
            (
                "write_timeout_secs",
                self.write_timeout_secs,
                MAX_HEADER_READ_TIMEOUT_SECS,
            ),
        ] {
            if !(1..=max).contains(&value) {
                problems.push(format!("server.{name} must be 1..={max}, got {value}"));
            }
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            problems.push(format!(
                "server.max_connections must be 1..={MAX_CONNECTIONS}, got {}",
                self.max_connections
            ));
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_in_flight) {
            problems.push(format!(
                "server.max_in_flight must be 1..={MAX_CONNECTIONS}, got {}",
                self.max_in_flight
            ));
        }
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

impl AuthSettings {
    fn validate(&self, production: bool, problems: &mut Vec<String>) {
        if self.hmac_secret.is_none() && self.jwks_url.is_none() {
            problems.push(
                "auth: set auth.hmac_secret (HS256) and/or auth.jwks_url (RS256/ES256/EdDSA); no token could be verified"
                    .to_owned(),
            );
        }
        if let Some(secret) = &self.hmac_secret {
            let len = secret.expose().len();
            if len < MIN_HMAC_SECRET_BYTES {
                problems.push(format!(
                    "auth.hmac_secret must be at least {MIN_HMAC_SECRET_BYTES} bytes, got {len}"
                ));
            }
        }
        if let Some(Err(e)) = self.jwks_url.as_deref().map(|url| check_url(url, true)) {
            problems.push(format!("auth.jwks_url: {e}"));
        }
        if production && (self.issuer.is_none() || self.audience.is_none()) {
            problems.push("auth.issuer and auth.audience are required in production".to_owned());
        }
        if self.leeway_secs > 300 {
            problems.push(format!(
                "auth.leeway_secs must be at most 300, got {}",
                self.leeway_secs
            ));
        }
        if self.max_token_bytes == 0 {
            problems.push("auth.max_token_bytes must be positive".to_owned());
        }
        if self.token_cache_ttl_secs > 3600 {
            problems.push(format!(
                "auth.token_cache_ttl_secs must be at most 3600, got {}",
                self.token_cache_ttl_secs
            ));
        }
        if self.jwks_refresh_secs == 0 || self.jwks_fetch_timeout_secs == 0 {
            problems.push(
                "auth.jwks_refresh_secs and auth.jwks_fetch_timeout_secs must be positive"
                    .to_owned(),
            );
        }
        for (name, value) in [
            ("entitlements_claim", &self.entitlements_claim),
            ("roles_claim", &self.roles_claim),
            ("admin_role", &self.admin_role),
        ] {
            if value.trim().is_empty() {
                problems.push(format!("auth.{name} must not be empty"));
            }
        }
    }

    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.leeway_secs)
    }
}

impl UploadSettings {
    fn validate(&self, problems: &mut Vec<String>) {
        if self.max_size_bytes == 0 || self.max_size_bytes > MAX_SINGLE_PUT_BYTES {
            problems.push(format!(
                "uploads.max_size_bytes must be 1..={MAX_SINGLE_PUT_BYTES} (S3's single-PUT limit), got {}",
                self.max_size_bytes
            ));
        }
        if self.id_max_age_secs == 0 {
            problems.push("uploads.id_max_age_secs must be positive".to_owned());
        }
        if !(60..=366 * 86_400).contains(&self.quota_period_secs) {
            problems.push(format!(
                "uploads.quota_period_secs must be a minute to a year, got {}",
                self.quota_period_secs
            ));
        }
        if self.uploader_role.trim().is_empty() {
            problems.push("uploads.uploader_role must not be empty".to_owned());
        }
        if let Some(secret) = &self.id_secret
            && secret.expose().len() < MIN_HMAC_SECRET_BYTES
        {
            problems.push(format!(
                "uploads.id_secret must be at least {MIN_HMAC_SECRET_BYTES} bytes"
            ));
        }
        if !(MIN_PART_BYTES..=MAX_SINGLE_PUT_BYTES).contains(&self.part_size_bytes) {
            problems.push(format!(
                "uploads.part_size_bytes must be {MIN_PART_BYTES}..={MAX_SINGLE_PUT_BYTES}, got {}",
                self.part_size_bytes
            ));
        }
        if self.multipart_threshold_bytes < MIN_PART_BYTES
            || self.multipart_threshold_bytes > self.max_size_bytes
        {
            problems.push(format!(
                "uploads.multipart_threshold_bytes must be between {MIN_PART_BYTES} and uploads.max_size_bytes"
            ));
        }
        if self.max_multipart_bytes > MAX_SINGLE_PUT_BYTES * MAX_PARTS {
            problems
                .push("uploads.max_multipart_bytes is above S3's 10000 parts of 5 GiB".to_owned());
        }
        for ct in &self.allowed_content_types {
            let Some((kind, subtype)) = ct.split_once('/') else {
                problems.push(format!(
                    "uploads.allowed_content_types: {ct:?} is not type/subtype"
                ));
                continue;
            };
            let token = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
            };
            if !token(kind) || !token(subtype) || ct.chars().any(|c| c.is_ascii_uppercase()) {
                problems.push(format!(
                    "uploads.allowed_content_types: {ct:?} is not a lowercase type/subtype"
                ));
            } else if crate::domain::MediaFamily::of(ct).is_none() {
                problems.push(format!(
                    "uploads.allowed_content_types: {ct:?} is never uploadable: only video/*, audio/*, raster images and HLS playlists and fMP4 segments are, since a browser may run anything else as script from the bucket's origin"
                ));
            }
        }
    }
}

/// Each entry an origin pattern, and `*` alone.
fn check_origins(setting: &str, origins: &[String], problems: &mut Vec<String>) {
    for origin in origins {
        if let Err(e) = crate::domain::OriginPattern::parse(origin) {
            problems.push(format!("{setting}: {origin:?} is {e}"));
        }
    }
    if origins.len() > 1 && origins.iter().any(|o| o == "*") {
        problems.push(format!("{setting}: \"*\" must stand alone"));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn base() -> Settings {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        Settings::load_from(&dir, Environment::Local).expect("local config is valid")
    }

    fn repo_file(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `section.key` → value of every leaf of `value`.
    fn flatten(value: &serde_json::Value) -> BTreeMap<String, String> {
        fn walk(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, value) in map {
                        let path = if prefix.is_empty() {
                            key.clone()
                        } else {
                            format!("{prefix}.{key}")
                        };
                        walk(&path, value, out);
                    }
                }
                serde_json::Value::String(s) => {
                    out.insert(prefix.to_owned(), s.clone());
                }
                other => {
                    out.insert(prefix.to_owned(), other.to_string());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk("", value, &mut out);
        out
    }

    /// A config file's settings as `section.key` → value, straight from the file (no layering,
    /// no validation).
    fn file_settings(name: &str) -> BTreeMap<String, String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        let value: serde_json::Value = Figment::from(Toml::file_exact(&path))
            .extract()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        flatten(&value)
    }

    /// The settings that `Secret` masks, found by serializing (not by a list of names), with
    /// the secrets that no published configuration sets set too.
    fn secret_settings() -> Vec<String> {
        let mut settings = base();
        settings.webhooks.secret = Some(Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        let printed: serde_json::Value = serde_json::from_str(&settings.to_masked_json()).unwrap();
        flatten(&printed)
            .into_iter()
            .filter(|(_, value)| value == "***")
            .map(|(setting, _)| setting)
            .collect()
    }

    /// docker-compose.yml's tollgate service as its container sees it: the defaults, the
    /// image's `TOLLGATE__SERVER__HOST=0.0.0.0` and the service's variables (no config file:
    /// the image carries none for compose).
    fn compose_container_settings() -> Settings {
        let mut figment = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .merge(("server.host", "0.0.0.0"));
        for (setting, value) in compose_service_settings() {
            let value: figment::value::Value = value.parse().expect("infallible");
            figment = figment.merge((setting, value));
        }
        let mut settings: Settings = figment.extract().expect("docker-compose.yml's settings");
        settings.environment = Environment::Compose;
        settings
    }

    /// The `TOLLGATE__SECTION__KEY: value` variables of docker-compose.yml's tollgate service,
    /// as `section.key` → value.
    fn compose_service_settings() -> BTreeMap<String, String> {
        repo_file("docker-compose.yml")
            .lines()
            .filter_map(|line| line.trim().strip_prefix("TOLLGATE__")?.split_once(':'))
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase().replace("__", "."),
                    value.trim().trim_matches('"').to_owned(),
                )
            })
            .collect()
    }

    fn problems(settings: &Settings) -> String {
        match settings.validate() {
            Err(ConfigError::Invalid(p)) => p.join("\n"),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn local_config_is_valid_and_uses_the_embedded_store() {
        let s = base();
        assert_eq!(s.server.port, 8080);
        assert!(s.storage.embedded.enabled);
        assert_eq!(s.storage.bucket, "videos");
        assert_eq!(s.presign.get_max_expires_secs, 300);
    }

    #[test]
    fn server_timeouts_and_connection_limit_have_sane_defaults() {
        let s = base();
        assert_eq!(s.server.header_read_timeout(), Duration::from_secs(10));
        assert_eq!(s.server.request_timeout(), Duration::from_secs(30));
        assert_eq!(s.server.max_connections, 10_000);
    }

    #[test]
    fn server_timeouts_and_connection_limit_must_be_positive_and_bounded() {
        let mut s = base();
        s.server.header_read_timeout_secs = 0;
        s.server.request_timeout_secs = 0;
        s.server.max_connections = 0;
        s.server.max_in_flight = 0;
        let p = problems(&s);
        assert!(
            p.contains("server.header_read_timeout_secs must be 1..=300, got 0"),
            "{p}"
        );
        assert!(
            p.contains("server.request_timeout_secs must be 1..=600, got 0"),
            "{p}"
        );
        assert!(
            p.contains("server.max_connections must be 1..=1000000, got 0"),
            "{p}"
        );
        assert!(
            p.contains("server.max_in_flight must be 1..=1000000, got 0"),
            "{p}"
        );

        s.server.header_read_timeout_secs = MAX_HEADER_READ_TIMEOUT_SECS + 1;
        s.server.request_timeout_secs = MAX_REQUEST_TIMEOUT_SECS + 1;
        s.server.max_connections = MAX_CONNECTIONS + 1;
        let p = problems(&s);
        assert!(p.contains("server.header_read_timeout_secs"), "{p}");
        assert!(p.contains("server.request_timeout_secs"), "{p}");
        assert!(p.contains("server.max_connections"), "{p}");

        s.server.header_read_timeout_secs = 1;
        s.server.request_timeout_secs = MAX_REQUEST_TIMEOUT_SECS;
        s.server.max_connections = 1;
        s.server.max_in_flight = 1;
        assert!(s.validate().is_ok());
    }

    #[test]
    fn store_timeouts_and_attempts_are_bounded_and_ordered() {
        let s = base();
        assert_eq!(s.storage.attempt_timeout(), Duration::from_secs(2));
        assert_eq!(s.storage.operation_timeout(), Duration::from_secs(5));
        assert_eq!(s.storage.max_attempts, 3);
        for (attempt, operation, attempts, refused) in [
            (0, 5000, 3, "storage.attempt_timeout_ms (0)"),
            (3000, 2000, 3, "storage.attempt_timeout_ms (3000)"),
            (2000, 60_001, 3, "storage.operation_timeout_ms (60001)"),
            (2000, 5000, 0, "storage.max_attempts must be 1..=10, got 0"),
            (
                2000,
                5000,
                11,
                "storage.max_attempts must be 1..=10, got 11",
            ),
        ] {
            let mut s = base();
            s.storage.attempt_timeout_ms = attempt;
            s.storage.operation_timeout_ms = operation;
            s.storage.max_attempts = attempts;
            let p = problems(&s);
            assert!(p.contains(refused), "{refused}: {p}");
        }
        let mut s = base();
        (s.storage.attempt_timeout_ms, s.storage.operation_timeout_ms) = (60_000, 60_000);
        s.storage.max_attempts = 1;
        assert!(s.validate().is_ok());
    }

    #[test]
    fn environments_parse_from_their_lowercase_names_only() {
        for env in Environment::ALL {
            assert_eq!(Environment::try_from(env.as_str()), Ok(env));
            assert_eq!(env.as_str().parse::<Environment>(), Ok(env));
        }
        for unknown in ["prod", "Production", "staging", "test", "", " local"] {
            let e = Environment::try_from(unknown).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "unknown environment {unknown:?} in TOLLGATE_ENV; valid environments: local, compose, production"
                )
            );
        }
    }

    #[test]
    fn only_production_is_production_and_the_environment_prints_lowercase() {
        let mut s = base();
        for (env, production) in [
            (Environment::Local, false),
            (Environment::Compose, false),
            (Environment::Production, true),
        ] {
            s.environment = env;
            assert_eq!(s.is_production(), production, "{env}");
            let printed: serde_json::Value = serde_json::from_str(&s.to_masked_json()).unwrap();
            assert_eq!(printed["environment"], env.as_str());
        }
    }

    #[test]
    fn compose_config_reaches_the_stacks_minio_from_the_host_on_loopback() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let s = Settings::load_from(&dir, Environment::Compose).expect("compose config is valid");
        assert!(is_loopback_host(&s.server.host), "{}", s.server.host);
        assert!(!s.storage.embedded.enabled);
        assert_eq!(s.storage.endpoint.as_deref(), Some("http://localhost:9000"));
        assert_eq!(
            s.storage.access_key_id.as_deref(),
            Some("tollgate-read-key")
        );
        assert_eq!(
            s.storage.upload_access_key_id.as_deref(),
            Some("tollgate-upload-key")
        );
    }

    #[test]
    fn the_compose_container_gets_the_values_of_compose_toml_from_docker_compose_yml() {
        let file = file_settings("config/compose.toml");
        let container = compose_service_settings();
        for (setting, value) in &file {
            match setting.as_str() {
                // The container reaches MinIO by its service name; the image has no embedded store.
                "storage.endpoint" | "storage.embedded.enabled" => {}
                _ => assert_eq!(container.get(setting), Some(value), "{setting}"),
            }
        }
        assert_eq!(container["storage.endpoint"], "http://minio:9000");
        assert_eq!(
            container["storage.public_endpoint"],
            "http://localhost:9000"
        );
    }

    /// The image must not carry a file that publishes secrets: with it, TOLLGATE_ENV=local or
    /// compose would start the image with a known HS256 secret.
    #[test]
    fn the_docker_image_carries_no_dev_configuration() {
        let dockerfile = repo_file("Dockerfile");
        let copied: Vec<&str> = dockerfile
            .lines()
            .filter_map(|line| line.strip_prefix("COPY "))
            .filter(|args| !args.starts_with("--from"))
            .flat_map(|args| {
                let words: Vec<&str> = args.split_whitespace().collect();
                words[..words.len() - 1].to_vec()
            })
            .filter(|source| source.starts_with("config"))
            .collect();
        assert_eq!(
            copied,
            ["config/default.toml", "config/production.toml"],
            "{dockerfile}"
        );
        let ignored = repo_file(".dockerignore");
        for dev in ["config/local.toml", "config/compose.toml"] {
            assert!(ignored.lines().any(|l| l.trim() == dev), "{dev}");
        }
    }

    #[test]
    fn every_secret_the_repository_publishes_is_in_the_list() {
        let secrets = secret_settings();
        assert!(secrets.len() >= 4, "{secrets:?}");
        let mut published: Vec<(String, String)> = Vec::new();
        for (place, settings) in [
            ("config/local.toml", file_settings("config/local.toml")),
            ("config/compose.toml", file_settings("config/compose.toml")),
            ("docker-compose.yml", compose_service_settings()),
        ] {
            published.extend(
                settings
                    .into_iter()
                    .filter(|(setting, _)| secrets.contains(setting))
                    .map(|(setting, value)| (format!("{place}: {setting}"), value)),
            );
        }
        // MinIO's root password, which the integration suite's read-write key uses.
        published.extend(
            repo_file("docker-compose.yml")
                .lines()
                .filter_map(|line| line.trim().strip_prefix("MINIO_ROOT_PASSWORD:"))
                .map(|v| ("MINIO_ROOT_PASSWORD".to_owned(), v.trim().to_owned())),
        );
        // Four secrets in each of the three places, and the root password.
        assert!(published.len() >= 13, "{published:?}");
        for (place, value) in &published {
            assert!(
                PUBLISHED_DEV_SECRETS.contains(&value.as_str()),
                "{place} is not in PUBLISHED_DEV_SECRETS"
            );
        }
    }

    #[test]
    fn the_secret_rules_cover_every_secret_setting() {
        let base = base();
        let mut named: Vec<&str> = base.secrets().iter().map(|(name, _)| *name).collect();
        named.sort_unstable();
        assert_eq!(named, secret_settings());
    }

    #[test]
    fn the_embedded_store_needs_if_none_match() {
        let mut s = base();
        s.uploads.if_none_match = false;
        assert!(
            problems(&s).contains("uploads.if_none_match must be true with the embedded store")
        );
        s.storage.embedded.enabled = false;
        s.storage.endpoint = Some("http://127.0.0.1:3900".to_owned());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn dev_secret_markers_match_in_any_case() {
        assert!(is_published_dev_secret(
            "DEV-ONLY-insecure-hmac-secret-of-my-own-0123"
        ));
        assert!(is_published_dev_secret(
            "my-secret-Not-For-Production-123456"
        ));
        assert!(!is_published_dev_secret(
            "a-real-secret-from-a-vault-0123456789abcdef"
        ));
    }

    #[test]
    fn published_secrets_are_refused_in_production_and_beyond_loopback_naming_no_value() {
        let names = [
            "auth.hmac_secret",
            "uploads.id_secret",
            "hls.grant_secret",
            "storage.secret_access_key",
            "storage.upload_secret_access_key",
        ];
        let refused = |s: &Settings, because: &str| {
            let p = problems(s);
            for name in names {
                assert!(
                    p.contains(&format!(
                        "{name} is a development value published in this repository, refused {because}"
                    )),
                    "{name}: {p}"
                );
            }
            for value in PUBLISHED_DEV_SECRETS {
                assert!(!p.contains(value), "{p}");
            }
        };
        // Local, on loopback: accepted.
        let mut s = base();
        for host in ["127.0.0.1", "localhost", "::1"] {
            s.server.host = host.to_owned();
            s.validate().unwrap();
        }
        // Any environment, beyond loopback.
        for env in [Environment::Local, Environment::Compose] {
            s.environment = env;
            s.server.host = "0.0.0.0".to_owned();
            refused(&s, "while server.host (0.0.0.0) is not a loopback address");
            s.server.allow_dev_secrets_on_public_address = true;
            s.validate().unwrap();
            s.server.allow_dev_secrets_on_public_address = false;
        }
        // Production, even on loopback, and the opt-in is itself refused there.
        s.environment = Environment::Production;
        s.server.host = "127.0.0.1".to_owned();
        s.server.allow_dev_secrets_on_public_address = true;
        refused(&s, "in production");
        assert!(problems(&s).contains("allow_dev_secrets_on_public_address must be false"));
        // An edited copy carries the marker; secrets of one's own pass.
        s.server.allow_dev_secrets_on_public_address = false;
        s.auth.hmac_secret = Some(Secret::new(format!("{}x", PUBLISHED_DEV_SECRETS[0])));
        assert!(problems(&s).contains("auth.hmac_secret is a development value"));
        s.auth.hmac_secret = Some(Secret::new("k7Qx9vL2mN8pR4tW6yZ1aB3cD5eF7gH9"));
        assert!(!problems(&s).contains("auth.hmac_secret is a development value"));
    }

    #[test]
    fn the_compose_container_starts_only_through_its_opt_in_and_never_as_production() {
        let mut s = compose_container_settings();
        assert_eq!(s.server.host, "0.0.0.0");
        assert!(s.server.allow_dev_secrets_on_public_address);
        s.validate()
            .expect("the compose container's settings are valid");
        s.server.allow_dev_secrets_on_public_address = false;
        assert!(problems(&s).contains("not a loopback address"));
        s.server.allow_dev_secrets_on_public_address = true;
        s.environment = Environment::Production;
        assert!(problems(&s).contains("auth.hmac_secret is a development value"));
    }

    #[test]
    fn webhooks_are_off_by_default_and_validated_with_the_rest() {
        let mut s = base();
        assert!(!s.webhooks.enabled());
        assert!(s.webhooks.secret.is_none(), "no published webhook secret");
        assert_eq!(s.webhooks.max_attempts, 12);
        assert_eq!(s.webhooks.backoff_base(), Duration::from_secs(1));
        assert_eq!(s.webhooks.backoff_max(), Duration::from_secs(300));
        assert_eq!(s.webhooks.attempt_timeout(), Duration::from_secs(15));
        assert_eq!(s.webhooks.queue_capacity, 1024);
        assert_eq!(s.webhooks.max_in_flight, 8);

        s.webhooks.url = Some("https://hooks.example.com/tollgate".to_owned());
        s.presign.get_max_expires_secs = 0;
        let p = problems(&s);
        assert!(
            p.contains("webhooks.secret is required with webhooks.url"),
            "{p}"
        );
        assert!(p.contains("presign.get_max_expires_secs"), "{p}");
        s.presign.get_max_expires_secs = 300;
        s.webhooks.secret = Some(Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        s.validate().expect("a URL and its secret");
        assert!(!s.to_masked_json().contains("MfKQ9r8G"));
    }

    #[test]
    fn short_hmac_secret_is_rejected() {
        let mut s = base();
        s.auth.hmac_secret = Some(Secret::new("too-short"));
        assert!(problems(&s).contains("at least 32 bytes"));
    }

    #[test]
    fn expiry_above_seven_days_is_rejected() {
        let mut s = base();
        s.presign.get_max_expires_secs = MAX_PRESIGN_EXPIRY_SECS + 1;
        assert!(problems(&s).contains("get_max_expires_secs"));
    }

    #[test]
    fn production_requires_issuer_audience_and_no_embedded_store() {
        let mut s = base();
        s.environment = Environment::Production;
        s.auth.issuer = None;
        let p = problems(&s);
        assert!(p.contains("issuer and auth.audience are required"), "{p}");
        assert!(p.contains("embedded.enabled must be false"), "{p}");
        assert!(
            p.contains("auth.hmac_secret is a development value published"),
            "{p}"
        );
        assert!(p.contains("demo.enabled is refused in production"), "{p}");
        s.demo.enabled = false;
        assert!(!problems(&s).contains("demo.enabled"));
    }

    #[test]
    fn tiers_must_be_known_and_active_content_is_never_uploadable() {
        let mut s = base();
        s.entitlement.default_tier = "gold".to_owned();
        s.entitlement.tiers.push("with space".to_owned());
        s.uploads
            .allowed_content_types
            .push("image/svg+xml".to_owned());
        s.uploads.allowed_content_types.push("Video/MP4".to_owned());
        s.uploads.max_size_bytes = MAX_SINGLE_PUT_BYTES + 1;
        s.presign.put_max_expires_secs = 0;
        let p = problems(&s);
        assert!(
            p.contains("entitlement.default_tier: \"gold\" is not in entitlement.tiers"),
            "{p}"
        );
        assert!(p.contains("never uploadable"), "{p}");
        assert!(
            p.contains("entitlement.tiers: \"with space\": a tier is"),
            "{p}"
        );
        assert!(p.contains("lowercase"), "{p}");
        assert!(p.contains("uploads.max_size_bytes"), "{p}");
        assert!(p.contains("put_max_expires_secs"), "{p}");
    }

    #[test]
    fn uploadable_types_must_be_media_of_a_known_family() {
        let s = base();
        assert!(!s.uploads.allowed_content_types.is_empty());
        for ct in &s.uploads.allowed_content_types {
            assert!(crate::domain::MediaFamily::of(ct).is_some(), "{ct}");
        }
        s.validate().expect("the default types are accepted");
        for refused in [
            "text/html",
            "image/svg+xml",
            "application/javascript",
            "application/xml",
            "text/plain",
            "application/octet-stream",
            "application/dash+xml",
        ] {
            let mut s = base();
            s.uploads.allowed_content_types.push(refused.to_owned());
            assert!(
                problems(&s).contains(&format!(
                    "uploads.allowed_content_types: {refused:?} is never uploadable"
                )),
                "{refused}"
            );
        }
    }

    #[test]
    fn cors_origins_must_be_origins() {
        let mut s = base();
        s.cors.allowed_origins = vec![
            "https://app.example.com".to_owned(),
            "http://localhost:5173".to_owned(),
        ];
        assert!(s.validate().is_ok());
        for bad in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "app.example.com",
            "ftp://x.y",
        ] {
            s.cors.allowed_origins = vec![bad.to_owned()];
            assert!(problems(&s).contains("cors.allowed_origins"), "{bad}");
        }
        s.cors.allowed_origins = vec!["*".to_owned(), "https://a.example".to_owned()];
        assert!(problems(&s).contains("must stand alone"));
    }

    #[test]
    fn no_verification_method_is_rejected() {
        let mut s = base();
        s.auth.hmac_secret = None;
        s.auth.jwks_url = None;
        assert!(problems(&s).contains("no token could be verified"));
    }

    #[test]
    fn plain_http_jwks_is_only_accepted_on_loopback() {
        let mut s = base();
        s.auth.jwks_url = Some("http://idp.example.com/jwks".to_owned());
        assert!(problems(&s).contains("must use https"));
        s.auth.jwks_url = Some("http://127.0.0.1:1234/jwks".to_owned());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn bad_bucket_and_prefix_are_rejected() {
        let mut s = base();
        s.storage.bucket = "Videos_".to_owned();
        s.storage.key_prefix = "../etc/".to_owned();
        let p = problems(&s);
        assert!(p.contains("storage.bucket"), "{p}");
        assert!(p.contains("storage.key_prefix"), "{p}");
    }

    #[test]
    fn secrets_are_masked_when_printed() {
        let s = base();
        let printed = s.to_masked_json();
        let debug = format!("{s:?}");
        let secret = s
            .auth
            .hmac_secret
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        assert!(!secret.is_empty());
        assert!(!printed.contains(secret) && !debug.contains(secret));
        assert!(printed.contains("***"));
    }
}
