//! The HLS decisions: which video is HLS, who gets a grant, which playlist a grant opens, and
//! each playlist rewritten for its caller: nested playlists as tollgate URLs carrying the grant,
//! media as presigned GET URLs that live as long as playback needs.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use moka::future::Cache;

use super::grant::{Grant, GrantError, Grants};
use super::playlist::{Kind, Playlist, Target};
use crate::auth::Caller;
use crate::clock::unix_secs;
use crate::config::HlsSettings;
use crate::domain::{ObjectKey, VideoId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{ObjectMeta, ReadError};

/// Names of the top playlist of an HLS video, in the order they are looked for.
const TOP_PLAYLISTS: [&str; 2] = ["master.m3u8", "index.m3u8"];

/// An HLS video's entry point for `GET /videos/{id}/url`.
#[derive(Debug)]
pub struct Entry {
    pub url: String,
    pub expires_at: SystemTime,
    pub expires_in: u64,
}

/// Who asks for a playlist.
pub enum Access<'a> {
    /// A grant from the entry point (players that send no headers), checked
    /// ([`Hls::check_grant`]), and as it was sent.
    Grant(Grant, &'a str),
    /// A Bearer token: decided as `GET /videos/{id}/url` decides, then granted for `session`.
    Caller(&'a Caller, Option<&'a str>),
}

/// An HLS video a caller may watch: its top playlist and the grant to hand out.
#[derive(Debug)]
pub struct Prepared {
    top: &'static str,
    pub grant: Grant,
}

/// A parsed playlist, its key and the ETag it was read at.
struct Cached {
    key: ObjectKey,
    etag: Option<String>,
    playlist: Playlist,
}

pub struct Hls {
    grants: Grants,
    settings: HlsSettings,
    /// Parsed playlists (masters and finished media playlists) by key, for
    /// `storage.metadata_cache_ttl_secs`.
    playlists: Cache<ObjectKey, Arc<Cached>>,
    /// Rewritten VOD media playlists by key, ETag and signing window
    /// (`presign.time_window_secs`): they name no caller (only nested playlists carry the
    /// grant) and no tier (only master playlists list variants), so every viewer inside one
    /// window gets the same bytes. Bounded by their total size.
    rewritten: Cache<(ObjectKey, Option<String>, SystemTime), Rewritten>,
}

/// Most bytes of parsed playlists kept.
const PARSED_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Most bytes of rewritten playlists kept.
const REWRITTEN_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl std::fmt::Debug for Hls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hls").finish_non_exhaustive()
    }
}

/// The folder of a playlist path (`""` or ending in `/`).
fn folder(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..=i])
}

impl Hls {
    /// `None` when `hls.grant_secret` is unset: HLS is off.
    pub fn new(settings: &HlsSettings, cache_ttl: Duration, capacity: u64) -> Option<Self> {
        let secret = settings.grant_secret.as_ref()?;
        Some(Self {
            grants: Grants::new(secret.expose().as_bytes()),
            settings: settings.clone(),
            // Weighed by their text (a parse holds about as much again).
            playlists: Cache::builder()
                .max_capacity(PARSED_CACHE_BYTES.min(capacity.saturating_mul(64 * 1024)))
                .weigher(|_, cached: &Arc<Cached>| {
                    u32::try_from(cached.playlist.source_len().saturating_mul(2))
                        .unwrap_or(u32::MAX)
                })
                .time_to_live(cache_ttl)
                .build(),
            rewritten: Cache::builder()
                .max_capacity(REWRITTEN_CACHE_BYTES)
                .weigher(|_, rewritten: &Rewritten| {
                    let bytes =
                        rewritten.plain.len() + rewritten.gzip.as_ref().map_or(0, Bytes::len);
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .time_to_live(cache_ttl)
                .build(),
        })
    }

    /// Where players reach tollgate: `hls.public_url`, else `http://` and the request's `Host`
    /// (empty, so that URLs are root-relative, when that is missing or odd).
    pub fn base_url(&self, host: Option<&str>) -> String {
        if let Some(url) = &self.settings.public_url {
            return url.clone();
        }
        match host {
            Some(host)
                if !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) =>
            {
                format!("http://{host}")
            }
            _ => String::new(),
        }
    }

    /// The top playlist of video `id` and its metadata, when `id` is an HLS video.
    async fn top(
        state: &AppState,
        id: &VideoId,
    ) -> Result<Option<(&'static str, Arc<ObjectMeta>)>, ApiError> {
        let prefix = state.storage.key_prefix();
        for name in TOP_PLAYLISTS {
            let key = ObjectKey::in_video(prefix, id, name)?;
            if let Some(meta) = state.storage.object_meta(&key).await? {
                return Ok(Some((name, meta)));
            }
        }
        Ok(None)
    }

    /// When a grant for `caller` ends: never later than asked, than `hls.grant_ttl_secs`, nor
    /// than the token it is granted on.
    pub fn grant_expiry(
        &self,
        state: &AppState,
        caller: &Caller,
        requested_secs: Option<u64>,
    ) -> u64 {
        let now = now_secs(state);
        let token_expiry = caller
            .expires_at
            .map_or(u64::MAX, |exp| u64::try_from(exp).unwrap_or(0));
        (now + requested_secs
            .unwrap_or(u64::MAX)
            .min(self.settings.grant_ttl_secs))
        .min(token_expiry)
    }

    /// The grant for `caller` on HLS video `id` (for playback session `session`), once the
    /// access rule says yes, with the name of its top playlist; `None` when `id` is no HLS
    /// video.
    pub async fn prepare(
        &self,
        state: &AppState,
        caller: &Caller,
        id: &VideoId,
        requested_secs: Option<u64>,
        session: Option<&str>,
    ) -> Result<Option<Prepared>, ApiError> {
        let Some((top, meta)) = Self::top(state, id).await? else {
            return Ok(None);
        };
        let decision = state
            .policy
            .decide(caller, &meta)
            .ok_or(ApiError::NotEntitled)?;
        tracing::info!(video = %id, subject = %caller.subject, ?decision, "HLS access granted");
        let expires_at = self.grant_expiry(state, caller, requested_secs);
        if expires_at <= now_secs(state) {
            return Err(ApiError::InvalidToken(crate::auth::AuthError::Expired));
        }
        Ok(Some(Prepared {
            top,
            grant: Grant {
                subject: caller.subject.clone(),
                video: id.as_str().to_owned(),
                max_height: state.policy.max_height(caller, &meta),
                expires_at,
                issued_at: caller.issued_at,
                token_id: caller.token_id.clone(),
                admin: state.policy.is_admin(caller),
                tiers: caller.entitlements.clone(),
                session: session.map(str::to_owned),
            },
        }))
    }

    /// `GET /videos/{id}/url` for an HLS video: the top playlist's tollgate URL with a fresh
    /// grant; `None` when `id` is no HLS video. The grant lives `hls.grant_ttl_secs`, or less when asked (`requested_secs`) or when the
    /// caller's token expires sooner.
    pub fn entry(
        &self,
        state: &AppState,
        prepared: &Prepared,
        id: &VideoId,
        base_url: &str,
    ) -> Entry {
        let Prepared { top, grant } = prepared;
        let raw = self.grants.issue(grant);
        let expires_at = SystemTime::UNIX_EPOCH + Duration::from_secs(grant.expires_at);
        Entry {
            url: playlist_url(base_url, id, top, &raw),
            expires_at,
            expires_in: grant.expires_at.saturating_sub(now_secs(state)),
        }
    }

    /// The grant a player sent, when it is this key's, for video `id`, and still valid.
    pub fn check_grant(
        &self,
        state: &AppState,
        raw: &str,
        id: &VideoId,
    ) -> Result<Grant, ApiError> {
        self.grants
            .check(raw, id.as_str(), now_secs(state))
            .map_err(|e| match e {
                GrantError::OtherVideo => ApiError::GrantForAnotherVideo,
                other => ApiError::InvalidGrant(other),
            })
    }

    /// `GET /videos/{id}/hls/{path}`: the playlist at `path`, rewritten for whoever asks.
    pub async fn playlist(
        &self,
        state: &AppState,
        access: Access<'_>,
        id: &VideoId,
        raw_path: &str,
        base_url: &str,
    ) -> Result<Rewritten, ApiError> {
        // The router decoded the path once; decoding again would alias other objects.
        let path = super::normalise_path(raw_path)
            .ok()
            .filter(|p| p.to_ascii_lowercase().ends_with(".m3u8"))
            .ok_or(ApiError::VideoNotFound)?;
        let (top, grant, raw_grant) = match access {
            Access::Grant(grant, raw) => {
                let (top, _) = Self::top(state, id).await?.ok_or(ApiError::VideoNotFound)?;
                (top, grant, raw.to_owned())
            }
            Access::Caller(caller, session) => {
                let Prepared { top, grant } = self
                    .prepare(state, caller, id, None, session)
                    .await?
                    .ok_or(ApiError::VideoNotFound)?;
                let raw = self.grants.issue(&grant);
                (top, grant, raw)
            }
        };
        let allowed = |height: Option<u32>| match (grant.max_height, height) {
            (Some(max), Some(height)) => height <= max,
            _ => true,
        };
        // Below the top, only the playlists it hands this caller: not a variant (or a video
        // rendition of one) taller than the grant allows, nor anything it does not list.
        if top != path {
            let master = self.load(state, id, top).await?;
            let listed = &master.playlist;
            let kept = listed.playlists_kept(|v| allowed(v.height));
            if !kept.contains(&path.as_str()) {
                let everyone = listed.playlists_kept(|_| true);
                return Err(if everyone.contains(&path.as_str()) {
                    ApiError::NotEntitled
                } else {
                    ApiError::VideoNotFound
                });
            }
        }
        let cached = self.load(state, id, &path).await?;
        let playlist = &cached.playlist;
        let lifetime = match playlist.kind {
            Kind::Media {
                ended: true,
                duration_secs,
            } => {
                // Whole seconds of playback (the duration is finite and not negative).
                let duration = format!("{:.0}", duration_secs.ceil())
                    .parse()
                    .unwrap_or(u64::MAX);
                // Signed at a window's start, a URL has up to one window less to live.
                duration
                    .saturating_add(self.settings.expiry_margin_secs)
                    .saturating_add(state.presign.time_window_secs)
                    .min(self.settings.max_expires_secs)
            }
            // Live playlists are signed again at every refresh; masters hold few objects.
            _ => state.presign.get_max_expires_secs,
        };
        // A media playlist signed at a window's start is the same for every viewer in it.
        let window = state.presign.time_window_secs;
        let shared = matches!(playlist.kind, Kind::Media { ended: true, .. })
            && window > 0
            && lifetime > window
            && playlist
                .references
                .iter()
                .all(|r| r.target == Target::Object);
        let cache_key = shared.then(|| {
            let start = crate::storage::window_start(state.clock.now(), window, lifetime);
            (cached.key.clone(), cached.etag.clone(), start)
        });
        if let Some(cache_key) = &cache_key
            && let Some(hit) = self.rewritten.get(cache_key).await
        {
            return Ok(hit);
        }
        let prefix = state.storage.key_prefix();
        let signer = &state.storage.playback_signer;
        state.storage.ensure_readable().await?;
        let mut signed = Vec::with_capacity(playlist.references.len());
        for reference in &playlist.references {
            signed.push(match reference.target {
                Target::Playlist => playlist_url(base_url, id, &reference.path, &raw_grant),
                Target::Object => {
                    let key = ObjectKey::in_video(prefix, id, &reference.path)
                        .map_err(|e| ApiError::BadPlaylist(e.to_string()))?;
                    signer
                        .get_object(
                            &key,
                            Some(lifetime),
                            lifetime,
                            None,
                            state.presign.time_window_secs,
                        )
                        .await?
                        .url
                }
            });
        }
        let plain = Bytes::from(playlist.write(
            |variant| allowed(variant.height),
            |i| Ok::<_, ApiError>(std::mem::take(&mut signed[i])),
        )?);
        let Some(cache_key) = cache_key else {
            return Ok(Rewritten { plain, gzip: None });
        };
        // Shared by every viewer of the window: compressed once for all of them.
        let rewritten = Rewritten {
            gzip: gzip(&plain),
            plain,
        };
        self.rewritten.insert(cache_key, rewritten.clone()).await;
        Ok(rewritten)
    }

    /// The parsed playlist at `path` of video `id` (cached).
    async fn load(
        &self,
        state: &AppState,
        id: &VideoId,
        path: &str,
    ) -> Result<Arc<Cached>, ApiError> {
        let key = ObjectKey::in_video(state.storage.key_prefix(), id, path)?;
        let hit = self.playlists.get(&key).await;
        crate::metrics::Metrics::global().cache_lookup("playlist", hit.is_some());
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let object = match state
            .storage
            .read_small(&key, self.settings.max_playlist_bytes)
            .await
        {
            Ok(Some(object)) => object,
            Ok(None) => return Err(ApiError::VideoNotFound),
            Err(ReadError::TooLarge(max)) => {
                return Err(ApiError::BadPlaylist(format!(
                    "{path} is larger than {max} bytes (hls.max_playlist_bytes)"
                )));
            }
            Err(ReadError::Storage(e)) => return Err(e.into()),
        };
        let etag = object.etag;
        let text = String::from_utf8(object.body)
            .map_err(|_| ApiError::BadPlaylist(format!("{path} is not UTF-8 text")))?;
        let store_prefix = state
            .storage
            .playback_signer
            .object_url(&ObjectKey::in_video(state.storage.key_prefix(), id, "")?);
        let playlist = Playlist::parse(text, folder(path), &store_prefix)
            .map_err(|e| ApiError::BadPlaylist(format!("{path} {e}")))?;
        // A live playlist changes with every segment: it is read again on every refresh.
        let live = matches!(playlist.kind, Kind::Media { ended: false, .. });
        let cached = Arc::new(Cached {
            key: key.clone(),
            etag,
            playlist,
        });
        if !live {
            self.playlists.insert(key, Arc::clone(&cached)).await;
        }
        Ok(cached)
    }
}

/// A playlist rewritten for a request, and gzip of it when it is shared by a window's viewers
/// (compressed once per window; a signed URL per line compresses about fivefold).
#[derive(Debug, Clone)]
pub struct Rewritten {
    pub plain: Bytes,
    pub gzip: Option<Bytes>,
}

/// `bytes` compressed with gzip (level 1: most of the gain, little of the time).
fn gzip(bytes: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// Seconds since the epoch on the service's clock.
fn now_secs(state: &AppState) -> u64 {
    u64::try_from(unix_secs(state.clock.now())).unwrap_or(0)
}

/// A playlist's tollgate URL, carrying the grant.
fn playlist_url(base_url: &str, id: &VideoId, path: &str, grant: &str) -> String {
    let path = percent_encoding::utf8_percent_encode(path, PATH).to_string();
    format!("{base_url}/videos/{id}/hls/{path}?grant={grant}")
}

/// What a playlist path keeps unescaped in a URL: unreserved characters and `/`.
const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
