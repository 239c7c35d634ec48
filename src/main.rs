use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};
use tollgate::auth::{TokenRequest, mint_hs256};
use tollgate::config::Settings;
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
