//! The HTTP ceiling for `bench/load.sh`: a bare axum hello-world answering JSON, on the same
//! runtime tollgate serves on (tokio multi-thread, one worker per core it may run on).
//!
//! `cargo run --release --example hello -- 127.0.0.1:8091`

use std::process::ExitCode;

use axum::Json;
use axum::routing::get;

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".to_owned());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hello: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let app = axum::Router::new().route(
            "/hello",
            get(|| async { Json(serde_json::json!({"message": "hello"})) }),
        );
        let listener = match tokio::net::TcpListener::bind(&addr).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("hello: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match axum::serve(listener, app).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hello: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
