//! The server against slow clients: request timeout. Every wait is bounded, so that a
//! regression fails instead of hanging.

use std::time::Duration;

use crate::helpers::{RawResponse, spawn_app_with};

/// Long enough for a 1 s server timeout to fire on a loaded CI machine, short enough to fail fast.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);
/// A closing that came sooner than this was not the 1 s timeout.
const NOT_BEFORE: Duration = Duration::from_millis(900);

async fn response_within(conn: &mut crate::helpers::RawConnection, limit: Duration) -> RawResponse {
    tokio::time::timeout(limit, conn.read_response())
        .await
        .unwrap_or_else(|_| panic!("no response within {limit:?}"))
        .expect("a response, not a closed connection")
}

#[tokio::test]
async fn a_request_whose_body_stalls_gets_a_408_json_error_and_the_connection_is_closed() {
    let app = spawn_app_with(|s| s.server.request_timeout_secs = 1).await;
    let token = app.token("alice", &[], &["uploader"]);
    let mut conn = app.connect_raw().await;
    // The head is whole and announces 100 bytes of JSON; only 12 come.
    conn.send(
        format!(
            "POST /uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"filename\":"
        )
        .as_bytes(),
    )
    .await;
    let started = std::time::Instant::now();
    let response = response_within(&mut conn, CLOSE_LIMIT).await;
    assert!(started.elapsed() >= NOT_BEFORE, "{:?}", started.elapsed());
    assert_eq!(response.status, 408, "{}", response.head);
    let json = response.json();
    assert_eq!(json["error"]["code"], "request_timeout", "{json}");
    assert!(json["error"]["message"].is_string(), "{json}");
    assert!(
        response
            .head
            .to_ascii_lowercase()
            .contains("connection: close"),
        "{}",
        response.head
    );
    conn.closed_within(CLOSE_LIMIT).await;
}
