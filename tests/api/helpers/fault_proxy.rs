//! A TCP relay that tests put between tollgate and a dependency (the store, the JWKS endpoint)
//! to make it slow, reset its connections or swallow them, and then heal it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the relay does to connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Relays faithfully.
    None,
    /// Holds every answer back this long before relaying it: a slow dependency.
    Delay(Duration),
    /// Holds back this long the answers to POST requests (S3's multipart create and complete),
    /// and any later answer on their connection: a store that does what it was asked, but
    /// whose answer comes too late.
    DelayPosts(Duration),
    /// Accepts, then resets at once: a dependency that is down.
    Reset,
    /// Accepts and never answers: a dependency that hangs (or a dropped route).
    Blackhole,
}

/// The relay. Changing the fault cuts the connections open under the previous one, so that a
/// pooled connection cannot outlive an outage.
pub struct FaultProxy {
    /// `http://127.0.0.1:port`.
    pub endpoint: String,
    fault: watch::Sender<Fault>,
    accepted: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// A relay to `target` (`host:port`, or an `http://` URL whose host and port are used).
    pub async fn start(target: &str) -> Self {
        let target = target
            .trim_start_matches("http://")
            .split('/')
            .next()
            .expect("a host")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (fault, faults) = watch::channel(Fault::None);
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(relay(inbound, target.clone(), faults.clone()));
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            fault,
            accepted,
        }
    }

    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn relay(inbound: TcpStream, target: String, mut faults: watch::Receiver<Fault>) {
    let fault = *faults.borrow_and_update();
    match fault {
        Fault::Reset => {
            // SO_LINGER 0: close with a RST rather than a FIN.
            let _ = reset(&inbound);
            return;
        }
        Fault::Blackhole => {
            // Hold the connection, read nothing, until the fault changes.
            let _ = faults.changed().await;
            return;
        }
        Fault::None | Fault::Delay(_) | Fault::DelayPosts(_) => {}
    }
    let Ok(outbound) = TcpStream::connect(&target).await else {
        return;
    };
    let (delay, delay_posts) = match fault {
        Fault::Delay(d) => (d, None),
        Fault::DelayPosts(d) => (Duration::ZERO, Some(d)),
        _ => (Duration::ZERO, None),
    };
    // Whether a POST went upstream on this connection (requests are not pipelined: its answer
    // is the next one).
    let posted = AtomicBool::new(false);
    let (mut client_read, mut client_write) = inbound.into_split();
    let (mut upstream_read, mut upstream_write) = outbound.into_split();
    // The client's end of file does not end the relay: answers may still be on their way.
    let requests = async {
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if buffer[..n].starts_with(b"POST ") {
                posted.store(true, Ordering::SeqCst);
            }
            if upstream_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let answers = async {
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            let n = match upstream_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let delay = match delay_posts {
                Some(d) if posted.load(Ordering::SeqCst) => d,
                _ => delay,
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = requests => {}
        () = answers => {}
        _ = faults.changed() => {}
    }
}

fn reset(stream: &TcpStream) -> std::io::Result<()> {
    stream.set_zero_linger()
}
