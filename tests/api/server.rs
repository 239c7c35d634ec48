//! The server against slow and idle clients (Slowloris): header-read timeout, request timeout,
//! connection cap. Every wait is bounded, so that a regression fails instead of hanging.

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
async fn a_half_sent_request_head_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|s| s.server.header_read_timeout_secs = 1).await;
    let mut conn = app.connect_raw().await;
    // No blank line: the head never ends.
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    let after = conn.closed_within(CLOSE_LIMIT).await;
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}: not the timeout"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|s| s.server.header_read_timeout_secs = 1).await;
    let mut conn = app.connect_raw().await;
    let after = conn.closed_within(CLOSE_LIMIT).await;
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}: not the timeout"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|s| s.server.header_read_timeout_secs = 1).await;
    let mut conn = app.connect_raw().await;
    conn.send_healthz().await;
    assert_eq!(response_within(&mut conn, CLOSE_LIMIT).await.status, 200);
    let after = conn.closed_within(CLOSE_LIMIT).await;
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}: not the timeout"
    );
}

#[tokio::test]
async fn keep_alive_serves_back_to_back_requests_each_with_a_fresh_header_timeout() {
    let app = spawn_app_with(|s| s.server.header_read_timeout_secs = 1).await;
    let mut conn = app.connect_raw().await;
    // Three requests 600 ms apart: 1.2 s on one connection, more than the timeout, which
    // therefore counts from the previous response, not from the connection's opening.
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        conn.send_healthz().await;
        let response = response_within(&mut conn, CLOSE_LIMIT).await;
        assert_eq!(response.status, 200, "request {i}: {}", response.head);
        assert_eq!(response.json(), serde_json::json!({"status": "ok"}));
    }
}

#[tokio::test]
async fn with_max_connections_1_a_second_connection_waits_until_the_first_closes() {
    let app = spawn_app_with(|s| {
        s.server.max_connections = 1;
        // A must stay open (idle) for the whole wait below.
        s.server.header_read_timeout_secs = 10;
    })
    .await;
    let mut a = app.connect_raw().await;
    a.send_healthz().await;
    assert_eq!(response_within(&mut a, CLOSE_LIMIT).await.status, 200);

    // B's handshake completes in the kernel's backlog, but tollgate does not accept it yet.
    let mut b = app.connect_raw().await;
    b.send_healthz().await;
    let early = tokio::time::timeout(Duration::from_secs(1), b.read_response()).await;
    assert!(
        early.is_err(),
        "B was answered while A held the only connection"
    );

    drop(a);
    assert_eq!(response_within(&mut b, CLOSE_LIMIT).await.status, 200);
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

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // About 10 MB of answers: more than the kernel lets a socket's send buffer hold
    // (net.ipv4.tcp_wmem's maximum, 4 MiB by default), so the server's writes must stall.
    const REQUESTS: usize = 60_000;
    let app = spawn_app_with(|s| {
        s.server.write_timeout_secs = 1;
        s.server.header_read_timeout_secs = 1;
    })
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small receive window, so that the server's writes stall soon.
    socket.set_recv_buffer_size(2048).unwrap();
    let addr = app.address.trim_start_matches("http://").parse().unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // Pipelined requests whose answers nobody reads (the writes block once the server stops
    // reading; they end when the connection does).
    let sender = tokio::spawn(async move {
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..REQUESTS {
            if writer.write_all(request).await.is_err() {
                break;
            }
        }
    });
    // Long enough for a loaded machine (CI runs the suite in parallel) to fill the buffers and
    // stall for the 1 s timeout; once we read, the writes progress again.
    tokio::time::sleep(Duration::from_secs(8)).await;
    // Now read what is there: a server that waited for us would answer every request.
    let mut answered = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answered.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the connection was still open");
    let responses = answered
        .windows(12)
        .filter(|w| w == b"HTTP/1.1 200")
        .count();
    // Waiting for the reader answers (nearly) all of them; giving up answers what fitted in
    // the buffers before the stall.
    assert!(
        responses < REQUESTS / 2,
        "{responses} of {REQUESTS} requests answered: the stalled writes were waited for"
    );
    sender.abort();
}
