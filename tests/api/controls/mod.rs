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

use tollgate::config::Settings;
use tollgate::controls::settings::Rate;

use crate::helpers::{RedisServer, TestApp, redis_server_available, spawn_app_with};

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
