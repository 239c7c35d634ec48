//! Raw TCP connections to the app, for what an HTTP client library hides.

use super::*;
use serde_json::Value;
use std::time::Duration;

/// A bare TCP connection to the app, for what an HTTP client library hides: half-sent request
/// heads, idle keep-alive connections, and when the server closes a connection.
pub struct RawConnection {
    stream: tokio::net::TcpStream,
    /// Bytes read past the last response.
    unread: Vec<u8>,
}

/// One response read from a [`RawConnection`].
pub struct RawResponse {
    pub status: u16,
    /// Status line and headers, as sent.
    pub head: String,
    pub body: String,
}

impl RawResponse {
    /// The JSON body.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

impl TestApp {
    /// Opens a plain TCP connection to the app; nothing is sent yet.
    pub async fn connect_raw(&self) -> RawConnection {
        let addr = self.address.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connect to the app");
        RawConnection {
            stream,
            unread: Vec::new(),
        }
    }
}

impl RawConnection {
    /// A plain TCP connection to `address` (`http://127.0.0.1:port`).
    pub async fn to(address: &str) -> std::io::Result<Self> {
        let stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://")).await?;
        Ok(Self {
            stream,
            unread: Vec::new(),
        })
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).await.expect("send");
    }

    /// `send`, for a connection the server may already have reset.
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(bytes).await
    }

    /// A whole `GET /healthz` request; the connection stays open for the next one.
    pub async fn send_healthz(&mut self) {
        self.send(b"GET /healthz HTTP/1.1\r\nHost: tollgate\r\n\r\n")
            .await;
    }

    /// The next response (its body framed by `Content-Length`), or `None` when the server closes
    /// the connection before sending anything. Wrap it in a timeout: it waits as long as the
    /// server does.
    pub async fn read_response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(i) = self.unread.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.read_more().await == 0 {
                assert!(
                    self.unread.is_empty(),
                    "connection closed mid-response: {:?}",
                    String::from_utf8_lossy(&self.unread)
                );
                return None;
            }
        };
        let head = String::from_utf8(self.unread[..head_end].to_vec()).expect("UTF-8 head");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().expect("Content-Length"))
            })
            .expect("a Content-Length");
        while self.unread.len() < head_end + length {
            assert!(self.read_more().await > 0, "connection closed mid-body");
        }
        let body = String::from_utf8(self.unread[head_end..head_end + length].to_vec())
            .expect("UTF-8 body");
        self.unread.drain(..head_end + length);
        Some(RawResponse { status, head, body })
    }

    /// Waits, at most `limit`, for the server to close the connection without sending anything
    /// more, and returns how long that took. Panics if bytes arrive or `limit` passes.
    pub async fn closed_within(&mut self, limit: Duration) -> Duration {
        let started = std::time::Instant::now();
        match tokio::time::timeout(limit, self.read_more()).await {
            Ok(0) => started.elapsed(),
            Ok(_) => panic!(
                "the server sent bytes instead of closing: {:?}",
                String::from_utf8_lossy(&self.unread)
            ),
            Err(_) => panic!("the connection is still open after {limit:?}"),
        }
    }

    /// Reads what is available into `unread`; 0 when the server closed (or reset) the connection.
    async fn read_more(&mut self) -> usize {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk).await {
            Ok(n) => {
                self.unread.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read: {e}"),
        }
    }
}
