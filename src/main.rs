use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};
use tollgate::auth::{TokenRequest, mint_hs256};
use tollgate::config::Settings;
use tollgate::{Application, telemetry};

/// Short-lived presigned S3 URLs for authenticated, entitled callers.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
        Command::CheckConfig => {
            println!("{}", settings.to_masked_json());
            eprintln!(
                "configuration for environment {:?} is valid",
                settings.environment
            );
            ExitCode::SUCCESS
        }
    }
}

fn serve(settings: Settings) -> ExitCode {
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let app = match Application::build(settings).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %tollgate::error::error_chain(&e), "start-up failed");
                return ExitCode::FAILURE;
            }
        };
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server error");
                ExitCode::FAILURE
            }
        }
    })
}
