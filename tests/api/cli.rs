//! The `tollgate` binary: `check-config` and `token`.

use std::path::Path;
use std::process::{Command, Output};

use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::helpers::config_dir;

/// Runs the binary from the project root (where `config/` lives) with a clean TOLLGATE_ env.
pub(crate) fn tollgate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in std::env::vars() {
        if name.starts_with("TOLLGATE") {
            command.env_remove(name);
        }
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("run tollgate")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_config_accepts_the_local_config_and_masks_secrets() {
    let output = tollgate(&["check-config"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8(output.stdout).unwrap();
    let config: Value = serde_json::from_str(&printed).expect("JSON");
    assert_eq!(config["auth"]["hmac_secret"], "***");
    assert_eq!(config["storage"]["secret_access_key"], "***");
    let local = std::fs::read_to_string(config_dir().join("local.toml")).unwrap();
    assert!(local.contains("dev-only-insecure-hmac-secret"));
    assert!(!printed.contains("dev-only-insecure-hmac-secret"));
    assert!(!printed.contains("tollgate-dev-secret-key"));
}

#[test]
fn check_config_rejects_bad_settings_with_a_clear_message() {
    let cases = [
        ("TOLLGATE__AUTH__HMAC_SECRET", "short", "at least 32 bytes"),
        (
            "TOLLGATE__PRESIGN__GET_MAX_EXPIRES_SECS",
            "604801",
            "get_max_expires_secs must be 1..=604800",
        ),
        ("TOLLGATE__STORAGE__BUCKET", "Bad_Bucket", "storage.bucket"),
        ("TOLLGATE__SERVER__PORT", "not-a-port", "server.port"),
        ("TOLLGATE__AUTH__UNKNOWN_KNOB", "1", "unknown_knob"),
    ];
    for (name, value, expected) in cases {
        let output = tollgate(&["check-config"], &[(name, value)]);
        assert_eq!(output.status.code(), Some(2), "{name}={value}");
        let message = stderr(&output);
        assert!(
            message.to_lowercase().contains(expected),
            "{name}={value}: {message}"
        );
    }
}

#[test]
fn production_without_issuer_audience_or_secrets_is_refused() {
    let output = tollgate(&["check-config"], &[("TOLLGATE_ENV", "production")]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("required in production"), "{message}");
    assert!(message.contains("no token could be verified"), "{message}");
}

#[test]
fn production_with_its_settings_in_the_environment_is_accepted() {
    let output = tollgate(
        &["check-config"],
        &[
            ("TOLLGATE_ENV", "production"),
            ("TOLLGATE__AUTH__ISSUER", "https://idp.example.com/"),
            ("TOLLGATE__AUTH__AUDIENCE", "tollgate"),
            (
                "TOLLGATE__AUTH__JWKS_URL",
                "https://idp.example.com/jwks.json",
            ),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let config: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(config["environment"], "production");
    assert_eq!(config["storage"]["embedded"]["enabled"], false);
    assert_eq!(config["log"]["format"], "json");
}

#[test]
fn an_unknown_environment_is_refused_and_the_valid_ones_are_named() {
    // Valid apart from the name: before the environment was an enum, `prod` loaded no file,
    // skipped every production check and was accepted.
    let output = tollgate(
        &["check-config"],
        &[
            ("TOLLGATE_ENV", "prod"),
            ("TOLLGATE__AUTH__ISSUER", "https://idp.example.com/"),
            ("TOLLGATE__AUTH__AUDIENCE", "tollgate"),
            (
                "TOLLGATE__AUTH__JWKS_URL",
                "https://idp.example.com/jwks.json",
            ),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(
            "unknown environment \"prod\" in TOLLGATE_ENV; valid environments: local, compose, production"
        ),
        "{message}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn published_secrets_are_refused_beyond_loopback_and_in_production_never_printed() {
    // The local config's four dev secrets, on every interface.
    let output = tollgate(&["check-config"], &[("TOLLGATE__SERVER__HOST", "0.0.0.0")]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    for setting in [
        "auth.hmac_secret",
        "uploads.id_secret",
        "storage.secret_access_key",
        "storage.upload_secret_access_key",
    ] {
        assert!(
            message.contains(&format!(
                "{setting} is a development value published in this repository, refused while server.host (0.0.0.0) is not a loopback address"
            )),
            "{setting}: {message}"
        );
    }
    for value in tollgate::config::PUBLISHED_DEV_SECRETS {
        assert!(!message.contains(value), "{message}");
    }

    // Production otherwise valid, with the compose stack's read key: refused.
    let output = tollgate(
        &["check-config"],
        &[
            ("TOLLGATE_ENV", "production"),
            ("TOLLGATE__AUTH__ISSUER", "https://idp.example.com/"),
            ("TOLLGATE__AUTH__AUDIENCE", "tollgate"),
            (
                "TOLLGATE__AUTH__JWKS_URL",
                "https://idp.example.com/jwks.json",
            ),
            ("TOLLGATE__STORAGE__ACCESS_KEY_ID", "tollgate-read-key"),
            (
                "TOLLGATE__STORAGE__SECRET_ACCESS_KEY",
                "tollgate-read-secret-dev-only",
            ),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("storage.secret_access_key is a development value published in this repository, refused in production"),
        "{message}"
    );
    assert!(
        !message.contains("tollgate-read-secret-dev-only"),
        "{message}"
    );
}

#[test]
fn token_prints_a_token_that_the_configured_secret_verifies() {
    let output = tollgate(
        &[
            "token",
            "--sub",
            "alice",
            "--entitlement",
            "gold",
            "--entitlement",
            "premium",
            "--role",
            "admin",
            "--ttl",
            "15m",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let settings =
        tollgate::config::Settings::load_from(config_dir(), tollgate::config::Environment::Local)
            .unwrap();
    let mut validation = Validation::default();
    validation.set_audience(&[settings.auth.audience.clone().unwrap()]);
    validation.set_issuer(&[settings.auth.issuer.clone().unwrap()]);
    let secret = settings.auth.hmac_secret.unwrap();
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(secret.expose().as_bytes()),
        &validation,
    )
    .expect("valid token");
    assert_eq!(data.claims["sub"], "alice");
    assert_eq!(
        data.claims["entitlements"],
        serde_json::json!(["gold", "premium"])
    );
    assert_eq!(data.claims["roles"], serde_json::json!(["admin"]));
    let ttl = data.claims["exp"].as_i64().unwrap() - data.claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 900);
}

#[test]
fn token_refuses_without_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.toml"),
        "[auth]\njwks_url = \"http://127.0.0.1:1/jwks.json\"\n",
    )
    .unwrap();
    let dir_str = dir.path().to_str().unwrap();
    let output = tollgate(
        &["token", "--sub", "alice"],
        &[("TOLLGATE_CONFIG_DIR", dir_str)],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("hmac_secret is not configured"),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty());
    assert!(Path::new(dir_str).exists());
}

#[tokio::test]
async fn put_stores_a_video_that_the_service_then_serves() {
    let app = crate::helpers::spawn_app().await;
    let env = app.cli_storage_env();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"uploaded by the CLI").unwrap();
    let path = file.path().to_str().unwrap().to_owned();

    let output = tokio::task::spawn_blocking(move || {
        tollgate(
            &[
                "put", "--id", "cli-1", "--access", "free", "--owner", "olga", &path,
            ],
            &env.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!(
            "stored s3://{}/{}",
            app.settings.storage.bucket,
            app.key("cli-1")
        )
    );

    // Free tier: any caller; the bytes are the file's.
    let url = app.granted_url("cli-1", &app.token("bob", &[], &[])).await;
    assert_eq!(
        app.fetch(&url).await.bytes().await.unwrap().as_ref(),
        b"uploaded by the CLI"
    );
    let head = app
        .s3
        .head_object()
        .bucket(&app.settings.storage.bucket)
        .key(app.key("cli-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.metadata().unwrap()["owner"], "olga");
}

#[test]
fn put_rejects_a_bad_id_before_touching_the_store() {
    let output = tollgate(&["put", "--id", "../etc", "Cargo.toml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("video id"), "{}", stderr(&output));
}
