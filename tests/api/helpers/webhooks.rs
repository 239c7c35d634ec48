//! A webhook receiver for the tests: a small HTTP server on port 0 that answers each attempt as
//! scripted, verifies every signature with its own code (not tollgate's), checks the timestamp's
//! freshness, and records what it got.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tollgate::config::{Secret, Settings};

/// The tolerance the specification's reference libraries allow a `webhook-timestamp`.
const FRESHNESS: Duration = Duration::from_secs(5 * 60);
/// How long a test waits for an expected delivery before failing.
pub const DELIVERY_LIMIT: Duration = Duration::from_secs(20);

/// How the receiver answers one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// This status (with `Retry-After: secs` when given), then the connection is closed.
    Status(u16, Option<u64>),
    /// The connection is closed without an answer.
    Drop,
    /// No answer for a minute.
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: i64,
    /// Whether one of `webhook-signature`'s `v1` signatures is the HMAC of the request.
    pub verified: bool,
    /// Whether `webhook-timestamp` was within five minutes of the receiver's clock.
    pub fresh: bool,
    pub content_type: String,
    pub raw_body: Vec<u8>,
    pub body: Value,
    pub received_at: Instant,
    pub answered: Reply,
}

impl Delivery {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

#[derive(Default)]
struct Log {
    deliveries: Vec<Delivery>,
}

pub struct WebhookReceiver {
    pub url: String,
    /// `whsec_` + base64 of 32 random bytes, fresh for each receiver.
    pub secret: String,
    log: Arc<Mutex<Log>>,
    arrived: Arc<Notify>,
}

impl WebhookReceiver {
    /// A receiver answering its n-th request as `script[n]`, and 200 once the script is over.
    pub async fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hooks/tollgate", listener.local_addr().unwrap());
        let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
            .iter()
            .flat_map(|u| u.as_bytes().to_vec())
            .collect();
        let secret = format!("whsec_{}", STANDARD.encode(&key));
        let log = Arc::new(Mutex::new(Log::default()));
        let arrived = Arc::new(Notify::new());
        let (task_log, task_arrived) = (Arc::clone(&log), Arc::clone(&arrived));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (log, arrived, key, script) = (
                    Arc::clone(&task_log),
                    Arc::clone(&task_arrived),
                    key.clone(),
                    script.clone(),
                );
                tokio::spawn(async move {
                    serve(stream, &key, &script, &log, &arrived).await;
                });
            }
        });
        Self {
            url,
            secret,
            log,
            arrived,
        }
    }

    /// Points `settings` at this receiver, with retries fast enough for tests.
    pub fn configure(&self, settings: &mut Settings) {
        let webhooks = &mut settings.webhooks;
        webhooks.url = Some(self.url.clone());
        webhooks.secret = Some(Secret::new(self.secret.clone()));
        webhooks.backoff_base_ms = 10;
        webhooks.backoff_max_ms = 50;
        webhooks.attempt_timeout_ms = 5_000;
    }

    /// The same, as `TOLLGATE__WEBHOOKS__*` variables for a `tollgate serve` process.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("URL", self.url.clone()),
            ("SECRET", self.secret.clone()),
            ("BACKOFF_BASE_MS", "10".to_owned()),
            ("BACKOFF_MAX_MS", "50".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (format!("TOLLGATE__WEBHOOKS__{name}"), value))
        .collect()
    }

    /// Everything received so far, in order of arrival.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.log.lock().unwrap().deliveries.clone()
    }

    /// Waits until `count` requests have arrived, then returns them all. Panics after
    /// [`DELIVERY_LIMIT`].
    pub async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + DELIVERY_LIMIT;
        loop {
            let arrived = self.arrived.notified();
            let got = self.deliveries();
            if got.len() >= count {
                return got;
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "{} webhook requests after {DELIVERY_LIMIT:?}, not {count}: {got:#?}",
                got.len()
            );
        }
    }

    /// Everything received once nothing more came for `quiet` (to show that no more attempts
    /// follow).
    pub async fn after_quiet(&self, quiet: Duration) -> Vec<Delivery> {
        loop {
            let arrived = self.arrived.notified();
            if tokio::time::timeout(quiet, arrived).await.is_err() {
                return self.deliveries();
            }
        }
    }
}

/// One connection: read the request, verify and record it, answer as scripted.
async fn serve(
    mut stream: TcpStream,
    key: &[u8],
    script: &[Reply],
    log: &Mutex<Log>,
    arrived: &Notify,
) {
    let Some((headers, raw_body)) = read_request(&mut stream).await else {
        return;
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let id = header("webhook-id");
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(i64::MIN);
    let verified = verify(
        key,
        &id,
        &header("webhook-timestamp"),
        &raw_body,
        &header("webhook-signature"),
    );
    let now = tollgate::clock::unix_secs(SystemTime::now());
    let fresh = timestamp.abs_diff(now) <= FRESHNESS.as_secs();
    let answered = {
        let mut log = log.lock().unwrap();
        let reply = script
            .get(log.deliveries.len())
            .copied()
            .unwrap_or(Reply::Status(200, None));
        // A receiver refuses what it cannot verify, whatever the script says.
        let reply = if verified && fresh {
            reply
        } else {
            Reply::Status(401, None)
        };
        log.deliveries.push(Delivery {
            id,
            timestamp,
            verified,
            fresh,
            content_type: header("content-type"),
            body: serde_json::from_slice(&raw_body).unwrap_or(Value::Null),
            raw_body,
            received_at: Instant::now(),
            answered: reply,
        });
        reply
    };
    arrived.notify_waiters();
    match answered {
        Reply::Status(code, retry_after) => {
            let retry_after =
                retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
            let answer = format!(
                "HTTP/1.1 {code} Scripted\r\n{retry_after}Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Reply::Drop => drop(stream),
        Reply::Hang => tokio::time::sleep(Duration::from_secs(60)).await,
    }
}

/// The Standard Webhooks check, written here from the specification: one of the space-separated
/// `v1,<base64>` signatures is HMAC-SHA256(key, `{id}.{timestamp}.{body}`), compared in
/// constant time by `hmac`.
fn verify(key: &[u8], id: &str, timestamp: &str, body: &[u8], signatures: &str) -> bool {
    signatures.split(' ').any(|signature| {
        let Some(encoded) = signature.strip_prefix("v1,") else {
            return false;
        };
        let Ok(given) = STANDARD.decode(encoded) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    })
}

/// The request's headers and body (framed by `Content-Length`), or `None` if the client went
/// away first.
async fn read_request(stream: &mut TcpStream) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some((headers, buffer[head_end..head_end + length].to_vec()))
}

/// A whole single upload (`POST /uploads`, the PUT, `complete`) through the tollgate at
/// `address`, for a `tollgate serve` process of its own; returns the upload id.
pub async fn upload_through(
    http: &reqwest::Client,
    address: &str,
    token: &str,
    body: &[u8],
) -> String {
    let created: Value = http
        .post(format!("{address}/uploads"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "content_type": "video/mp4", "size": body.len() }))
        .send()
        .await
        .expect("POST /uploads")
        .json()
        .await
        .expect("JSON");
    let id = created["id"].as_str().expect("an upload id").to_owned();
    let mut put = http
        .put(created["url"].as_str().expect("a URL"))
        .body(body.to_vec());
    for (name, value) in created["headers"].as_object().expect("headers") {
        if name != "content-length" {
            put = put.header(name, value.as_str().expect("a header value"));
        }
    }
    assert!(put.send().await.expect("PUT").status().is_success());
    let completed = http
        .post(format!("{address}/uploads/{id}/complete"))
        .bearer_auth(token)
        .send()
        .await
        .expect("complete");
    assert!(completed.status().is_success(), "{}", completed.status());
    id
}
