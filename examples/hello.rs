//! The HTTP ceiling for `bench/load.sh`: a bare axum hello-world answering JSON, on the same
//! runtime tollgate serves on (tokio multi-thread, one worker per core it may run on).
//!
//! `cargo run --release --example hello -- 127.0.0.1:8091`
//! `cargo run --release --example hello -- 127.0.0.1:8091 padded`: `/hello` answers as many
//! bytes as tollgate's playback URL answer, with its headers (`bench/tail.sh`: what the bytes on
//! the wire and the client's work on them add, apart from the server's work).
//! `cargo run --release --example hello -- 127.0.0.1:8091 busy`: `/hello/{ns}` spins on the
//! clock for `ns` nanoseconds (at most 1 ms) before it answers (`bench/tail.sh`: a bare server
//! that costs as much CPU a request as tollgate, to compare tails at equal work).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, VARY};
use axum::response::IntoResponse;
use axum::routing::get;

/// The size of tollgate's `GET /videos/demo/url` answer on loopback (a 5-digit port).
const PADDED_BODY: &str = concat!(
    r#"{"url":"http://127.0.0.1:50939/videos/videos/demo?x-id=GetObject&X-Amz-Algorithm="#,
    r#"AWS4-HMAC-SHA256&X-Amz-Credential=tollgate-dev-access-key%2F20261201%2Fus-east-1%2F"#,
    r#"s3%2Faws4_request&X-Amz-Date=20261201T143214Z&X-Amz-Expires=300&X-Amz-SignedHeaders="#,
    r#"host&X-Amz-Signature=13f085f72fa85995b2862861123d2dd5b3491141a699166ce55bfcfdbea36d0f","#,
    r#""format":"file","method":"GET","headers":{},"expires_at":"2026-12-01T14:37:14Z","#,
    r#""expires_in":300}"#
);

async fn padded() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
            (
                VARY,
                "origin, access-control-request-method, access-control-request-headers",
            ),
            (
                HeaderName::from_static("x-request-id"),
                "d6d46e5d-c974-40ff-8311-0482c676f281",
            ),
        ],
        PADDED_BODY,
    )
}

/// The plain hello's answer after `ns` nanoseconds of busy CPU: the worker is held as long as
/// by a request that does that much work, not parked as a sleep would leave it.
async fn busy(Path(ns): Path<u64>) -> Json<serde_json::Value> {
    let until = Instant::now() + Duration::from_nanos(ns.min(1_000_000));
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    Json(serde_json::json!({"message": "hello"}))
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".to_owned());
    let mode = std::env::args().nth(2);
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
        let app = match mode.as_deref() {
            Some("padded") => axum::Router::new().route("/hello", get(padded)),
            Some("busy") => axum::Router::new().route("/hello/{ns}", get(busy)),
            _ => axum::Router::new().route(
                "/hello",
                get(|| async { Json(serde_json::json!({"message": "hello"})) }),
            ),
        };
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
