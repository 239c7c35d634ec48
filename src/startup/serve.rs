//! The HTTP server behind `Application::run_until_stopped`: an accept loop holding at most
//! `server.max_connections` connections, hyper connections that close clients slow to send a
//! request head or idle between requests, and graceful shutdown.
//!
//! HTTP/1.1 only (hyper's `http1`, not hyper-util's `auto`), because the defence against slow
//! clients exists only there:
//! - `auto` first reads up to 24 bytes to tell HTTP/1 from the HTTP/2 preface, with no timer: a
//!   client that connects and sends nothing, or part of the preface, would never time out;
//! - hyper has no header-read or idle timeout for HTTP/2, so an h2c client could hold its
//!   connection open indefinitely.
//!
//! tollgate's callers (browsers, players, and the proxy in front that terminates TLS) speak
//! HTTP/1.1 to it; browsers never use cleartext HTTP/2.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};

use super::stall::WriteStallGuard;

/// First pause after a failed `accept`; it doubles up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What the server holds its clients to (`server.*` settings).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub header_read_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then drains (see [`drain`]).
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    // hyper (1.12, proto/h1/conn.rs `poll_read_head` and `State::idle`) starts this timer
    // whenever it waits for a request head: when the connection is first polled, before any
    // byte, and again when a keep-alive connection goes idle after a response. One timeout thus
    // closes connections that stall mid-head, that never send a byte, and that idle between
    // requests, and we need no idle timer of our own (tests/api/server.rs holds hyper to that).
    // It covers the whole head, so trickling bytes does not extend it. Its cost: hyper boxes a
    // fresh timer (`Timer::sleep_until`) for each request head.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    // Owning the connection tasks lets the grace period end them; dropping a task drops its
    // connection and closes the socket.
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        let (tcp, peer, slot) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        while let Some(ended) = connections.try_join_next() {
            report(ended);
        }
        // Responses are written whole; waiting for ACKs (Nagle) would only add latency.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        // The peer's address, for the limits per client IP (`ConnectInfo`, as axum's own
        // server provides it).
        let with_peer = tower::util::MapRequest::new(
            router.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        let connection = http.serve_connection(
            TokioIo::new(WriteStallGuard::new(tcp, limits.write_timeout)),
            TowerToHyperService::new(with_peer),
        );
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            if let Err(e) = connection.await {
                // A header-read timeout, a reset, a malformed request: the client's doing.
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drain(listener, graceful, connections, limits.shutdown_grace).await;
}

/// Waits for a free connection slot, then for a connection. While every slot is taken nothing
/// is accepted: new connections wait in the kernel's listen backlog (beyond which the kernel
/// drops or refuses them) instead of being served without bound.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, std::net::SocketAddr, OwnedSemaphorePermit) {
    let slot = match Arc::clone(slots).acquire_owned().await {
        Ok(slot) => slot,
        // Only a closed semaphore fails, and nothing closes this one.
        Err(_) => std::future::pending().await,
    };
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => return (tcp, peer, slot),
            // The peer gave up before we took its connection: nothing wrong on our side.
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "connection reset before accept");
            }
            // Typically out of file descriptors (EMFILE, ENFILE) or memory: accepting again at
            // once would spin and fail the same way, while open connections closing frees what
            // the next accept needs.
            Err(e) => {
                tracing::error!(error = %e, pause = ?backoff, "accept failed; pausing");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionRefused
    )
}

/// Shutdown, step by step: stop accepting, let in-flight requests finish within `grace`, then
/// drop whatever connections are left.
async fn drain(
    listener: TcpListener,
    graceful: GracefulShutdown,
    mut connections: JoinSet<()>,
    grace: Duration,
) {
    // Step 1: closing the listener makes the kernel refuse new connections.
    drop(listener);
    while let Some(ended) = connections.try_join_next() {
        report(ended);
    }
    tracing::info!(
        open = connections.len(),
        "shutdown requested; draining in-flight requests"
    );
    // Step 2: idle connections close now, busy ones after their current response.
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "grace period over; closing remaining connections");
        }
    }
    // Step 3: end what is left.
    connections.shutdown().await;
}

fn report(ended: Result<(), JoinError>) {
    if let Err(e) = ended
        && e.is_panic()
    {
        tracing::error!(error = %e, "connection task panicked");
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Mutex;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::{Notify, oneshot};
    use tokio::task::JoinHandle;

    use super::*;

    /// Bound on every wait, so that a regression fails instead of hanging.
    const LIMIT: Duration = Duration::from_secs(10);

    struct Running {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        server: JoinHandle<()>,
    }

    async fn start(router: Router, shutdown_grace: Duration) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let limits = Limits {
            header_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 16,
            shutdown_grace,
        };
        let server = tokio::spawn(serve(listener, router, limits, async move {
            let _ = stopped.await;
        }));
        Running { addr, stop, server }
    }

    async fn send_get(addr: SocketAddr, path: &str) -> TcpStream {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        tcp
    }

    /// Everything the server sends until it closes the connection.
    async fn read_until_closed(tcp: &mut TcpStream) -> String {
        let mut received = Vec::new();
        match tokio::time::timeout(LIMIT, tcp.read_to_end(&mut received)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Ok(Err(e)) => panic!("read: {e}"),
            Err(_) => panic!("the connection is still open after {LIMIT:?}"),
        }
        String::from_utf8(received).unwrap()
    }

    #[tokio::test]
    async fn shutdown_lets_an_in_flight_request_finish_then_refuses_connections() {
        let entered = Arc::new(Notify::new());
        let in_handler = Arc::clone(&entered);
        let router = Router::new().route(
            "/slow",
            get(move || {
                let in_handler = Arc::clone(&in_handler);
                async move {
                    in_handler.notify_one();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "done"
                }
            }),
        );
        let running = start(router, LIMIT).await;
        let mut tcp = send_get(running.addr, "/slow").await;
        tokio::time::timeout(LIMIT, entered.notified())
            .await
            .unwrap();

        running.stop.send(()).unwrap();
        let received = read_until_closed(&mut tcp).await;
        assert!(received.starts_with("HTTP/1.1 200 OK"), "{received}");
        assert!(received.ends_with("done"), "{received}");
        tokio::time::timeout(LIMIT, running.server)
            .await
            .expect("the server returns once its connections are done")
            .unwrap();
        assert!(TcpStream::connect(running.addr).await.is_err());
    }

    #[tokio::test]
    async fn connections_still_busy_after_the_grace_period_are_dropped() {
        let entered = Arc::new(Notify::new());
        let in_handler = Arc::clone(&entered);
        // The handler owns `alive`: once its future is dropped, the receiver hears so.
        let (alive, handler_gone) = oneshot::channel::<()>();
        let alive = Arc::new(Mutex::new(Some(alive)));
        let router = Router::new().route(
            "/stuck",
            get(move || {
                let in_handler = Arc::clone(&in_handler);
                let alive = alive.lock().ok().and_then(|mut a| a.take());
                async move {
                    in_handler.notify_one();
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(alive);
                    "too late"
                }
            }),
        );
        let grace = Duration::from_millis(200);
        let running = start(router, grace).await;
        let mut tcp = send_get(running.addr, "/stuck").await;
        tokio::time::timeout(LIMIT, entered.notified())
            .await
            .unwrap();

        let stopping = std::time::Instant::now();
        running.stop.send(()).unwrap();
        tokio::time::timeout(LIMIT, running.server)
            .await
            .expect("the server returns after the grace period")
            .unwrap();
        assert!(stopping.elapsed() >= grace, "{:?}", stopping.elapsed());
        assert_eq!(
            read_until_closed(&mut tcp).await,
            "",
            "no answer, just a close"
        );
        assert!(
            tokio::time::timeout(LIMIT, handler_gone)
                .await
                .unwrap()
                .is_err(),
            "the handler's future was dropped without finishing"
        );
    }
}
