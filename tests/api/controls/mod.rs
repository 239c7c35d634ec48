//! The controls (revocation, rate limits, stream leases), each test run against both places
//! their state can live: this process's memory and a real `redis-server`.

mod admin;
mod hostile;
mod limits;
mod outage;
mod quotas;
mod replicas;
mod revocation;
mod streams;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tollgate::config::Settings;
use tollgate::controls::settings::Rate;

use crate::helpers::{RedisServer, TestApp, now_secs, redis_server_available, spawn_app_with};
pub(crate) use crate::uppy::encode;

pub const MIB: u64 = 1024 * 1024;

/// An HLS video of one segment.
pub const PLAYLIST: &str =
    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.mp4\n#EXT-X-ENDLIST\n";

/// Where a test's controls keep their state.
pub enum State {
    Memory,
    /// A Redis at `url`; `server` when this state owns it.
    Redis {
        url: String,
        _server: Option<RedisServer>,
    },
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis { .. } => "redis",
        }
    }

    /// The Redis `server` runs, owned by the caller.
    pub fn redis(server: &RedisServer) -> Self {
        Self::Redis {
            url: server.url(),
            _server: None,
        }
    }

    /// Points `settings` at this state, under a key prefix of their own.
    pub fn apply(&self, settings: &mut Settings) {
        if let Self::Redis { url, .. } = self {
            settings.state.redis_url = Some(tollgate::config::Secret::new(url.clone()));
            settings.state.key_prefix = format!("t{}:", uuid::Uuid::new_v4().simple());
        }
    }
}

/// Memory, and Redis where redis-server is installed (always in CI).
pub fn states() -> Vec<State> {
    let mut states = vec![State::Memory];
    if redis_server_available() {
        let server = RedisServer::start();
        states.push(State::Redis {
            url: server.url(),
            _server: Some(server),
        });
    }
    states
}

/// An app whose controls keep their state in `state`, customised further.
pub async fn spawn(state: &State, customize: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|settings| {
        state.apply(settings);
        customize(settings);
    })
    .await
}

pub fn rate(requests: u32, period_secs: u64, burst: u32) -> Rate {
    Rate {
        requests,
        period_secs,
        burst,
    }
}

/// Quota `bytes` per day, multipart above 5 MiB in 5 MiB parts.
pub fn quota(bytes: u64) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.uploads.quota_bytes = bytes;
        s.uploads.multipart_threshold_bytes = 5 * MIB;
        s.uploads.part_size_bytes = 5 * MIB;
    }
}

/// What the admin view says of `sub`'s quota.
pub async fn quota_use(app: &TestApp, sub: &str) -> Value {
    let admin = app.token("root", &[], &["admin"]);
    let (status, view) = app.admin_subject(&admin, sub, "").await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view["quota"].clone()
}

/// The bytes `sub` has used of its quota, as the admin view says.
pub async fn used_bytes(app: &TestApp, sub: &str) -> u64 {
    let quota = quota_use(app, sub).await;
    quota["used_bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("no used_bytes: {quota}"))
}

/// An HS256 token for `sub` with the standard claims and `extra` ones set or replaced.
pub fn token_with(app: &TestApp, sub: &str, extra: &[(&str, Value)]) -> String {
    let mut claims = app.claims(sub);
    for (name, value) in extra {
        claims.insert((*name).into(), value.clone());
    }
    app.sign_hs256(&jsonwebtoken::Header::default(), &claims)
}

/// An uploader's token issued `secs` from now, for a test that moved tollgate's clock there.
pub fn uploader_token_at(app: &TestApp, sub: &str, secs: i64) -> String {
    let at = now_secs() + secs;
    token_with(
        app,
        sub,
        &[
            ("iat", json!(at)),
            ("exp", json!(at + 600)),
            ("roles", json!(["uploader"])),
        ],
    )
}
