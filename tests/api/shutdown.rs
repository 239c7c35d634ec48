//! SIGTERM during an in-flight request: the request finishes within the grace period, new
//! connections are refused, and the process exits 0 (a `tollgate serve` process of its own).

use std::time::{Duration, Instant};

use crate::helpers::{RawConnection, TollgateProcess, spawn_app};

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits_0() {
    // The store of a test app; the process under test is `tollgate serve` against it.
    let app = spawn_app().await;
    let mut env = app.cli_storage_env();
    env.push((
        "TOLLGATE__SERVER__SHUTDOWN_GRACE_SECS".to_owned(),
        "10".to_owned(),
    ));
    let mut process = TollgateProcess::start(&env);
    let token = app.token("ursula", &[], &["uploader"]);

    // A request in flight: its body comes in two halves, the second after SIGTERM.
    let body = br#"{"content_type":"video/mp4","size":10}"#;
    let (first, second) = body.split_at(body.len() / 2);
    let mut in_flight = RawConnection::to(&process.address).await.unwrap();
    in_flight
        .send(
            format!(
                "POST /uploads HTTP/1.1\r\nHost: tollgate\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    in_flight.send(first).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    process.terminate();
    let terminated = Instant::now();
    // The listener is closed at once: a new connection is refused, or reset or closed
    // unanswered (one the kernel accepted into the listener's queue before it closed).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match RawConnection::to(&process.address).await {
            Err(_) => break,
            Ok(mut late) => {
                if late
                    .try_send(b"GET /healthz HTTP/1.1\r\nHost: tollgate\r\n\r\n")
                    .await
                    .is_err()
                {
                    break;
                }
                let answer =
                    tokio::time::timeout(Duration::from_secs(2), late.read_response()).await;
                if matches!(answer, Ok(None) | Err(_)) {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "new connections still served after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The request in flight still gets its answer.
    in_flight.send(second).await;
    let response = tokio::time::timeout(Duration::from_secs(10), in_flight.read_response())
        .await
        .expect("answered within the grace period")
        .expect("an answer");
    assert_eq!(response.status, 201, "{}", response.body);
    assert!(response.json()["url"].is_string(), "{}", response.body);

    // Then the process exits, successfully, well within the grace period.
    let status = tokio::task::spawn_blocking(move || {
        let status = process.exited_within(Duration::from_secs(15));
        (status, process)
    })
    .await
    .unwrap()
    .0
    .expect("exited");
    assert!(status.success(), "{status}");
    assert!(
        terminated.elapsed() < Duration::from_secs(12),
        "{:?}",
        terminated.elapsed()
    );
}
