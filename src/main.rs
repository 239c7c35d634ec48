use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};
use tollgate::auth::{TokenRequest, mint_hs256};
use tollgate::config::Settings;
use tollgate::controls::{
    ControlSettings, Controls, InvalidTarget, Revoke, RevokeError, TargetKey,
};
use tollgate::domain::VideoId;
use tollgate::storage::{VideoMetadata, put_hls, put_video};
use tollgate::{Application, telemetry};

/// Short-lived presigned S3 URLs for authenticated, entitled callers.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// The video `put` and `put-hls` store, and its tollgate metadata.
#[derive(Debug, clap::Args)]
struct StoredVideo {
    /// The video id (`[A-Za-z0-9_-]{1,128}`).
    #[arg(long)]
    id: String,
    /// Tier (`x-amz-meta-access`; of the top playlist for HLS); without it the video is in
    /// `entitlement.default_tier`.
    #[arg(long)]
    access: Option<String>,
    /// Owner's `sub` (`x-amz-meta-owner`).
    #[arg(long)]
    owner: Option<String>,
}

impl StoredVideo {
    fn into_metadata(self, content_type: String) -> (String, VideoMetadata) {
        let metadata = VideoMetadata {
            content_type,
            tier: self.access,
            owner: self.owner,
        };
        (self.id, metadata)
    }
}

/// What `revoke` and `unrevoke` name: exactly one.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct RevocationTarget {
    /// A subject (`sub`): its tokens issued before the not-before are refused.
    #[arg(long)]
    sub: Option<String>,
    /// One token's `jti`.
    #[arg(long)]
    jti: Option<String>,
    /// A video id: taken down (no new URL for anyone but admins).
    #[arg(long)]
    video: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Print an HS256 token signed with the configured secret, for trying tollgate locally.
    Token {
        /// The token's subject (`sub`).
        #[arg(long)]
        sub: String,
        /// A tier the caller is entitled to; repeat for several.
        #[arg(long = "entitlement")]
        entitlements: Vec<String>,
        /// A role; repeat for several (e.g. `--role admin`).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Lifetime, e.g. `15m`, `1h`, `2days`.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Validate the configuration and print it with secrets masked.
    CheckConfig,
    /// Store a file as video `--id` with its tier and owner (the store must be running: for the
    /// embedded one, a `tollgate serve` in another terminal).
    Put {
        #[command(flatten)]
        video: StoredVideo,
        #[arg(long, default_value = "video/mp4")]
        content_type: String,
        /// The file to upload.
        file: std::path::PathBuf,
    },
    /// Revoke in the shared state (state.redis_url), as `POST /admin/revocations` does: every
    /// replica refuses at once. Name exactly one of --sub, --jti, --video.
    Revoke {
        #[command(flatten)]
        target: RevocationTarget,
        /// With --sub: refuse the subject's tokens issued before this instant (seconds since the
        /// epoch); default now.
        #[arg(long, requires = "sub", conflicts_with_all = ["jti", "video"])]
        not_before: Option<i64>,
        /// With --jti: remember it until this instant (seconds since the epoch, the token's
        /// `exp`); default revocation.jti_ttl_secs from now.
        #[arg(long, requires = "jti", conflicts_with_all = ["sub", "video"])]
        until: Option<i64>,
    },
    /// Clear a revocation (name exactly one of --sub, --jti, --video).
    Unrevoke {
        #[command(flatten)]
        target: RevocationTarget,
    },
    /// Store a packaged HLS folder (a `master.m3u8` or `index.m3u8` with its playlists and
    /// segments) as video `--id`; `GET /videos/{id}/url` then serves it as HLS.
    PutHls {
        #[command(flatten)]
        video: StoredVideo,
        /// The folder.
        dir: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Token {
            sub,
            entitlements,
            roles,
            ttl,
        } => {
            if sub.is_empty() || ttl.is_zero() {
                eprintln!("tollgate: --sub must not be empty and --ttl must be positive");
                return ExitCode::from(2);
            }
            let request = TokenRequest {
                subject: sub,
                entitlements,
                roles,
                ttl,
            };
            match mint_hs256(&settings.auth, &request, SystemTime::now()) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("tollgate: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Put {
            video,
            content_type,
            file,
        } => {
            let (id, metadata) = video.into_metadata(content_type);
            put(&settings, &id, &file, metadata)
        }
        Command::PutHls { video, dir } => {
            // Each file's type comes from its extension.
            let (id, metadata) = video.into_metadata(String::new());
            put_hls_folder(&settings, &id, &dir, metadata)
        }
        Command::Revoke {
            target,
            not_before,
            until,
        } => {
            let revoke = match (target.sub, target.jti, target.video) {
                (Some(sub), _, _) => Revoke::subject(&sub, not_before),
                (_, Some(jti), _) => Revoke::token(&jti, until),
                (_, _, Some(video)) => Revoke::video(&video),
                (None, None, None) => return no_target(),
            };
            change_revocations(&settings, revoke.map(Change::Revoke))
        }
        Command::Unrevoke { target } => {
            let key = match (target.sub, target.jti, target.video) {
                (Some(sub), _, _) => TargetKey::subject(&sub),
                (_, Some(jti), _) => TargetKey::token(&jti),
                (_, _, Some(video)) => TargetKey::video(&video),
                (None, None, None) => return no_target(),
            };
            change_revocations(&settings, key.map(Change::Clear))
        }
        Command::CheckConfig => {
            println!("{}", settings.to_masked_json());
            eprintln!(
                "configuration for environment {} is valid",
                settings.environment
            );
            ExitCode::SUCCESS
        }
    }
}

/// The video id of a CLI command and a runtime to store it with, or the exit code after
/// saying why not.
fn id_and_runtime(id: &str) -> Result<(VideoId, tokio::runtime::Runtime), ExitCode> {
    let id = VideoId::parse(id).map_err(|e| {
        eprintln!("tollgate: {e}");
        ExitCode::from(2)
    })?;
    Ok((id, runtime(false)?))
}

fn put(settings: &Settings, id: &str, file: &std::path::Path, metadata: VideoMetadata) -> ExitCode {
    let (id, runtime) = match id_and_runtime(id) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let body = match std::fs::read(file) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("tollgate: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(put_video(&settings.storage, &id, body, metadata)) {
        Ok(key) => {
            println!("stored s3://{}/{key}", settings.storage.bucket);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: upload failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn put_hls_folder(
    settings: &Settings,
    id: &str,
    dir: &std::path::Path,
    metadata: VideoMetadata,
) -> ExitCode {
    let (id, runtime) = match id_and_runtime(id) {
        Ok(found) => found,
        Err(code) => return code,
    };
    match runtime.block_on(put_hls(&settings.storage, &id, dir, metadata)) {
        Ok(keys) => {
            let top = keys.last().map(ToString::to_string).unwrap_or_default();
            println!(
                "stored {} objects; top playlist s3://{}/{top}",
                keys.len(),
                settings.storage.bucket
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: put-hls failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// clap already requires one of them; said again rather than assumed.
fn no_target() -> ExitCode {
    eprintln!("tollgate: name one of --sub, --jti, --video");
    ExitCode::from(2)
}

enum Change {
    Revoke(Revoke),
    Clear(TargetKey),
}

/// `revoke` / `unrevoke`: the change, made in Redis.
fn change_revocations(settings: &Settings, change: Result<Change, InvalidTarget>) -> ExitCode {
    let change = match change {
        Ok(change) => change,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(2);
        }
    };
    if settings.state.redis_url.is_none() {
        eprintln!(
            "tollgate: state.redis_url is not set: revocations live in each server's memory; use POST /admin/revocations on the server"
        );
        return ExitCode::from(2);
    }
    let runtime = match runtime(false) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let controls = match Controls::new(
            &ControlSettings {
                state: &settings.state,
                revocation: &settings.revocation,
                limits: &settings.limits,
                streams: &settings.streams,
                trusted_proxies: &settings.server.trusted_proxies,
                quota: tollgate::controls::QuotaSettings::from_uploads(&settings.uploads),
            },
            std::sync::Arc::new(tollgate::clock::SystemClock),
        ) {
            Ok(controls) => controls,
            Err(e) => {
                eprintln!("tollgate: {}", tollgate::error::error_chain(&e));
                return ExitCode::from(2);
            }
        };
        let done = match change {
            Change::Revoke(revoke) => controls
                .revoke(revoke)
                .await
                .map(|target| format!("revoked: {target:?}")),
            Change::Clear(key) => controls
                .unrevoke(&key)
                .await
                .map(|cleared| {
                    if cleared {
                        format!("cleared: {key:?}")
                    } else {
                        format!("nothing to clear: {key:?}")
                    }
                })
                .map_err(RevokeError::from),
        };
        match done {
            Ok(message) => {
                println!("{message}");
                ExitCode::SUCCESS
            }
            Err(RevokeError::Invalid(e)) => {
                eprintln!("tollgate: {e}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("tollgate: {}", tollgate::error::error_chain(&e));
                ExitCode::FAILURE
            }
        }
    })
}

/// A Tokio runtime, or the exit code after saying why there is none.
fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("tollgate: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

fn serve(settings: Settings) -> ExitCode {
    telemetry::init(&settings.log);
    let runtime = match runtime(true) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let app = match Application::build(settings).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %tollgate::error::error_chain(&e), "start-up failed");
                return ExitCode::FAILURE;
            }
        };
        app.run_until_stopped().await;
        ExitCode::SUCCESS
    })
}
