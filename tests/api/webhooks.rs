//! Completion webhooks: every completed upload reaches a receiver that verifies each request
//! with its own code (Standard Webhooks' HMAC) and checks its timestamp, through failures of
//! the receiver, with one `webhook-id` per event; refused completions announce nothing.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Delivery, Reply, TestApp, TollgateProcess, WebhookReceiver, assert_error, form_fields,
    spawn_app_with, upload_through,
};
use crate::metrics::{sample, scrape};
use crate::uploads::{VIDEO, declaration, put, upload_parts, uploader};
use crate::uppy::encode;

/// Long enough, with the tests' pauses of at most 50 ms, for any further attempt to show.
const QUIET: Duration = Duration::from_millis(600);

async fn app_for(receiver: &WebhookReceiver) -> TestApp {
    spawn_app_with(|s| receiver.configure(s)).await
}

/// A single upload, declared and PUT, not completed yet; its id.
async fn uploaded(app: &TestApp, token: &str) -> String {
    let (status, created) = app
        .post_uploads(token, &declaration("video/mp4", VIDEO.len()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(put(app, &created, VIDEO, None).await, StatusCode::OK);
    created["id"].as_str().unwrap().to_owned()
}

/// Every request was signed and fresh, as JSON, and they all carry one event.
fn assert_one_signed_event(deliveries: &[Delivery]) {
    for delivery in deliveries {
        assert!(delivery.verified, "signature: {delivery:#?}");
        assert!(delivery.fresh, "timestamp: {delivery:#?}");
        assert_eq!(delivery.content_type, "application/json");
        assert_eq!(delivery.raw_body, deliveries[0].raw_body, "the same body");
        assert_eq!(delivery.id, deliveries[0].id, "the same webhook-id");
    }
}

/// How much each series grew while `during` ran (the registry is the process's, shared with
/// the tests beside this one: only "at least" can be asserted).
async fn metrics_growth(
    app: &TestApp,
    series: &[&str],
    during: impl Future<Output = ()>,
) -> Vec<f64> {
    let before = scrape(app, &app.address).await;
    during.await;
    let after = scrape(app, &app.address).await;
    series
        .iter()
        .map(|s| sample(&after, s) - sample(&before, s))
        .collect()
}

#[tokio::test]
async fn a_completed_upload_is_announced_once_signed_with_what_a_consumer_needs() {
    let receiver = WebhookReceiver::start(vec![]).await;
    let app = app_for(&receiver).await;
    let token = uploader(&app);
    let id = uploaded(&app, &token).await;
    let started = time::OffsetDateTime::now_utc();

    let (status, ready) = app.complete_upload(&id, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");

    receiver.wait_for(1).await;
    let deliveries = receiver.after_quiet(QUIET).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert_one_signed_event(&deliveries);
    let event = &deliveries[0];
    assert_eq!(event.answered, Reply::Status(200, None));
    assert!(event.id.starts_with("msg_"), "{}", event.id);
    assert_eq!(event.body["type"], "upload.completed");
    let at = time::OffsetDateTime::parse(
        event.body["timestamp"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((at - started).abs() < time::Duration::seconds(30), "{at}");
    assert_eq!(
        *event.data(),
        json!({
            "upload_id": id,
            "video_id": id,
            "bucket": app.settings.storage.bucket,
            "key": app.key(&id),
            "size": VIDEO.len(),
            "content_type": "video/mp4",
            "access": "premium",
            "subject": "ursula",
            "completed_via": "uploads_complete",
        })
    );
    // Nothing that grants anything: no token, no URL, no signature of one.
    let raw = String::from_utf8(event.raw_body.clone()).unwrap();
    for secret in [token.as_str(), "X-Amz-", "http://", "https://"] {
        assert!(!raw.contains(secret), "{secret} in {raw}");
    }
    // The video it announces plays.
    app.granted_url(&id, &token).await;
}

#[tokio::test]
async fn a_multipart_upload_completed_through_uploads_complete_is_announced() {
    let receiver = WebhookReceiver::start(vec![]).await;
    let app = spawn_app_with(|s| {
        receiver.configure(s);
        s.uploads.multipart_threshold_bytes = 5 * 1024 * 1024;
        s.uploads.part_size_bytes = 5 * 1024 * 1024;
    })
    .await;
    let token = uploader(&app);
    let body: Vec<u8> = (0..5 * 1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
    let (status, created) = app
        .post_uploads(&token, &declaration("video/mp4", body.len()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["part_count"], 2, "{created}");
    let parts = upload_parts(&app, &token, &created, &body).await;
    let id = created["id"].as_str().unwrap();
    let completion = json!({ "upload_id": created["upload_id"], "parts": parts });

    let (status, ready) = app.complete_upload(id, &token, Some(&completion)).await;
    assert_eq!(status, StatusCode::OK, "{ready}");

    let deliveries = receiver.wait_for(1).await;
    assert_one_signed_event(&deliveries);
    let data = deliveries[0].data();
    assert_eq!(data["upload_id"], id);
    assert_eq!(data["key"], app.key(id));
    assert_eq!(data["size"], body.len());
    assert_eq!(data["completed_via"], "uploads_complete");
    assert_eq!(receiver.after_quiet(QUIET).await.len(), 1);
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_again_with_the_same_id_until_it_answers_2xx() {
    // Two errors and a connection closed unanswered, then 200.
    let receiver = WebhookReceiver::start(vec![
        Reply::Status(500, None),
        Reply::Drop,
        Reply::Status(503, None),
    ])
    .await;
    let app = app_for(&receiver).await;
    let token = uploader(&app);
    let id = uploaded(&app, &token).await;

    let grew = metrics_growth(
        &app,
        &[
            r#"tollgate_webhook_attempts_total{result="non_2xx"}"#,
            r#"tollgate_webhook_attempts_total{result="network"}"#,
            r#"tollgate_webhook_attempts_total{result="ok"}"#,
            r#"tollgate_webhook_deliveries_total{outcome="delivered"}"#,
        ],
        async {
            let (status, ready) = app.complete_upload(&id, &token, None).await;
            assert_eq!(status, StatusCode::OK, "{ready}");
            receiver.wait_for(4).await;
        },
    )
    .await;

    let deliveries = receiver.after_quiet(QUIET).await;
    assert_eq!(
        deliveries.len(),
        4,
        "three failures and the success: {deliveries:#?}"
    );
    assert_one_signed_event(&deliveries);
    let answered: Vec<Reply> = deliveries.iter().map(|d| d.answered).collect();
    assert_eq!(
        answered,
        [
            Reply::Status(500, None),
            Reply::Drop,
            Reply::Status(503, None),
            Reply::Status(200, None)
        ]
    );
    // Each attempt is signed at its own time.
    assert!(
        deliveries
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp),
        "{deliveries:#?}"
    );
    assert_eq!(deliveries[0].data()["upload_id"], id);
    for (growth, at_least) in grew.iter().zip([2.0, 1.0, 1.0, 1.0]) {
        assert!(*growth >= at_least, "{grew:?}");
    }
}

#[tokio::test]
async fn a_receiver_slower_than_the_attempt_timeout_is_tried_again() {
    let receiver = WebhookReceiver::start(vec![Reply::Hang]).await;
    let app = spawn_app_with(|s| {
        receiver.configure(s);
        s.webhooks.attempt_timeout_ms = 400;
    })
    .await;
    let token = uploader(&app);
    let id = uploaded(&app, &token).await;

    let grew = metrics_growth(
        &app,
        &[r#"tollgate_webhook_attempts_total{result="timeout"}"#],
        async {
            let (status, _) = app.complete_upload(&id, &token, None).await;
            assert_eq!(status, StatusCode::OK);
            receiver.wait_for(2).await;
        },
    )
    .await;

    let deliveries = receiver.after_quiet(QUIET).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:#?}");
    assert_one_signed_event(&deliveries);
    assert_eq!(deliveries[0].answered, Reply::Hang);
    assert_eq!(deliveries[1].answered, Reply::Status(200, None));
    // The timeout runs from the attempt's start, a little before the receiver has read it.
    let waited = deliveries[1].received_at - deliveries[0].received_at;
    assert!(
        waited >= Duration::from_millis(350),
        "retried after {waited:?}"
    );
    assert!(grew[0] >= 1.0, "{grew:?}");
}

#[tokio::test]
async fn delivery_stops_after_max_attempts_and_is_counted_as_exhausted() {
    let receiver = WebhookReceiver::start(vec![Reply::Status(500, None); 20]).await;
    let app = spawn_app_with(|s| {
        receiver.configure(s);
        s.webhooks.max_attempts = 3;
    })
    .await;
    let token = uploader(&app);
    let id = uploaded(&app, &token).await;

    let grew = metrics_growth(
        &app,
        &[r#"tollgate_webhook_deliveries_total{outcome="exhausted"}"#],
        async {
            let (status, _) = app.complete_upload(&id, &token, None).await;
            assert_eq!(status, StatusCode::OK);
            receiver.wait_for(3).await;
            receiver.after_quiet(QUIET).await;
        },
    )
    .await;

    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 3, "max_attempts = 3: {deliveries:#?}");
    assert_one_signed_event(&deliveries);
    assert!(grew[0] >= 1.0, "{grew:?}");
}

#[tokio::test]
async fn a_full_queue_drops_events_without_slowing_completions() {
    // One event in flight (its receiver never answers), one queued: the others are dropped.
    let receiver = WebhookReceiver::start(vec![Reply::Hang; 10]).await;
    let app = spawn_app_with(|s| {
        receiver.configure(s);
        s.webhooks.queue_capacity = 1;
        s.webhooks.max_in_flight = 1;
        s.webhooks.max_attempts = 1;
    })
    .await;
    let token = uploader(&app);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(uploaded(&app, &token).await);
    }

    let grew = metrics_growth(
        &app,
        &[r#"tollgate_webhook_events_dropped_total{reason="queue_full"}"#],
        async {
            let started = Instant::now();
            for id in &ids {
                let (status, _) = app.complete_upload(id, &token, None).await;
                assert_eq!(status, StatusCode::OK);
            }
            // Each attempt waits 5 s for the receiver; the completions did not.
            assert!(
                started.elapsed() < Duration::from_secs(4),
                "{:?}",
                started.elapsed()
            );
        },
    )
    .await;
    assert!(grew[0] >= 2.0, "{grew:?}");
    assert_eq!(receiver.wait_for(1).await[0].answered, Reply::Hang);
}

#[tokio::test]
async fn repeating_a_completion_cannot_crowd_other_uploads_out_of_the_queue() {
    // The receiver holds the first attempt until its timeout; meanwhile one uploader repeats
    // its completion over and over, and another completes once. One slot, a queue of two.
    let receiver = WebhookReceiver::start(vec![Reply::Hang]).await;
    let app = spawn_app_with(|s| {
        receiver.configure(s);
        s.webhooks.attempt_timeout_ms = 1_000;
        s.webhooks.queue_capacity = 2;
        s.webhooks.max_in_flight = 1;
    })
    .await;
    let mallory = app.token("mallory", &[], &["uploader"]);
    let token = uploader(&app);
    let repeated = uploaded(&app, &mallory).await;
    let other = uploaded(&app, &token).await;

    for _ in 0..5 {
        let (status, ready) = app.complete_upload(&repeated, &mallory, None).await;
        assert_eq!(status, StatusCode::OK, "{ready}");
    }
    let (status, ready) = app.complete_upload(&other, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");

    // The repeats are one event, pending until delivered: the other upload's event had room.
    receiver.wait_for(3).await;
    let deliveries = receiver.after_quiet(QUIET).await;
    let delivered = |upload: &str| {
        deliveries
            .iter()
            .filter(|d| d.data()["upload_id"] == upload && d.answered == Reply::Status(200, None))
            .count()
    };
    assert_eq!(delivered(&other), 1, "{deliveries:#?}");
    assert_eq!(delivered(&repeated), 1, "{deliveries:#?}");
}

#[tokio::test]
async fn a_refused_or_failed_completion_announces_nothing() {
    let receiver = WebhookReceiver::start(vec![]).await;
    let app = app_for(&receiver).await;
    let token = uploader(&app);

    // Nothing uploaded yet: nothing to complete.
    let (status, created) = app
        .post_uploads(&token, &declaration("video/mp4", VIDEO.len()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, body) = app.complete_upload(id, &token, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");

    // Uploaded, but completed by someone else.
    assert_eq!(put(&app, &created, VIDEO, None).await, StatusCode::OK);
    let mallory = app.token("mallory", &[], &["uploader"]);
    let (status, body) = app.complete_upload(id, &mallory, None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // An Uppy multipart completion naming parts that were never uploaded.
    let (status, multipart) = app
        .call(
            reqwest::Method::POST,
            "/s3/multipart",
            &token,
            Some(json!({ "filename": "a.mp4", "type": "video/mp4", "metadata": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{multipart}");
    let path = format!(
        "/s3/multipart/{}/complete?key={}",
        encode(multipart["uploadId"].as_str().unwrap()),
        encode(multipart["key"].as_str().unwrap())
    );
    let parts = json!({ "parts": [{ "PartNumber": 1, "ETag": "\"0123\"" }] });
    let (status, body) = app
        .call(reqwest::Method::POST, &path, &token, Some(parts))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");

    assert_eq!(receiver.after_quiet(QUIET).await.len(), 0);

    // The one completion that succeeds is the one announced.
    let (status, _) = app.complete_upload(id, &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let deliveries = receiver.wait_for(1).await;
    assert_eq!(deliveries[0].data()["upload_id"], id);
    assert_eq!(receiver.after_quiet(QUIET).await.len(), 1);
}

#[tokio::test]
async fn a_completion_repeated_after_its_delivery_is_announced_again_with_the_same_id() {
    let receiver = WebhookReceiver::start(vec![]).await;
    let app = app_for(&receiver).await;
    let token = uploader(&app);
    let id = uploaded(&app, &token).await;
    let other = uploaded(&app, &token).await;

    let (status, ready) = app.complete_upload(&id, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    // Delivered: no longer pending (a repeat while it is would add nothing).
    receiver.wait_for(1).await;
    receiver.after_quiet(QUIET).await;
    for upload in [&id, &other] {
        let (status, ready) = app.complete_upload(upload, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{ready}");
    }

    receiver.wait_for(3).await;
    let deliveries = receiver.after_quiet(QUIET).await;
    assert_eq!(deliveries.len(), 3, "{deliveries:#?}");
    let of = |upload: &str| -> Vec<&Delivery> {
        deliveries
            .iter()
            .filter(|d| d.data()["upload_id"] == upload)
            .collect()
    };
    let (twice, once) = (of(&id), of(&other));
    assert_eq!(twice.len(), 2);
    assert_eq!(once.len(), 1);
    // A receiver deduplicating by webhook-id keeps one of the two: they announce the same.
    assert_eq!(twice[0].id, twice[1].id);
    assert_eq!(twice[0].data(), twice[1].data());
    assert_ne!(twice[0].id, once[0].id, "another upload, another id");
    assert!(deliveries.iter().all(|d| d.verified && d.fresh));
}

#[tokio::test]
async fn an_uppy_4x_multipart_completion_is_announced() {
    let receiver = WebhookReceiver::start(vec![]).await;
    let app = app_for(&receiver).await;
    let token = uploader(&app);
    let (status, created) = app
        .call(
            reqwest::Method::POST,
            "/s3/multipart",
            &token,
            Some(json!({ "filename": "trip.mp4", "type": "video/mp4", "metadata": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let (q_key, q_upload) = (encode(&key), encode(created["uploadId"].as_str().unwrap()));

    // One part, the last, may be of any size.
    let path = format!("/s3/multipart/{q_upload}/1?key={q_key}");
    let (status, signed) = app.call(reqwest::Method::GET, &path, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let response = app
        .http
        .put(signed["url"].as_str().unwrap())
        .body(VIDEO.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();

    assert_eq!(
        receiver.after_quiet(QUIET).await.len(),
        0,
        "not before completion"
    );
    let parts = json!({ "parts": [{ "PartNumber": 1, "ETag": etag }] });
    let (status, done) = app
        .call(
            reqwest::Method::POST,
            &format!("/s3/multipart/{q_upload}/complete?key={q_key}"),
            &token,
            Some(parts),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");

    let deliveries = receiver.wait_for(1).await;
    assert_one_signed_event(&deliveries);
    let id = key.strip_prefix(&app.settings.storage.key_prefix).unwrap();
    assert_eq!(
        *deliveries[0].data(),
        json!({
            "upload_id": id,
            "video_id": id,
            "bucket": app.settings.storage.bucket,
            "key": key,
            "size": VIDEO.len(),
            "content_type": "video/mp4",
            "access": "premium",
            "subject": "ursula",
            "completed_via": "uppy_multipart_complete",
        })
    );
    assert_eq!(receiver.after_quiet(QUIET).await.len(), 1);
}

/// An Uppy 6.x form upload, made at the store with what `POST /s3/sign` signed; its key.
async fn form_upload(app: &TestApp, token: &str) -> String {
    let (status, signed) = app
        .s3_sign(
            token,
            json!({"method": "PUT", "key": "clip.mp4", "contentType": "video/mp4"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let response = app
        .s3_post_form(
            signed["url"].as_str().unwrap(),
            &form_fields(&signed),
            VIDEO,
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    signed["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_upload_the_client_completed_at_the_store_is_announced_once_tollgate_finds_it() {
    let receiver = WebhookReceiver::start(vec![]).await;
    let app = spawn_app_with(|s| {
        receiver.configure(s);
        crate::controls::quota(1 << 30)(s);
    })
    .await;
    let token = uploader(&app);
    let key = form_upload(&app, &token).await;

    // tollgate took no part in the upload: it learns of it at the uploader's next quota
    // decision (here the admin view of the uploader's quota, which counts what is stored).
    assert_eq!(receiver.after_quiet(QUIET).await.len(), 0);
    assert_eq!(
        crate::controls::used_bytes(&app, "ursula").await,
        VIDEO.len() as u64
    );

    let deliveries = receiver.wait_for(1).await;
    assert_one_signed_event(&deliveries);
    let data = deliveries[0].data();
    assert_eq!(data["key"], key);
    assert_eq!(data["size"], VIDEO.len());
    assert_eq!(data["content_type"], "video/mp4");
    assert_eq!(data["subject"], "ursula");
    assert_eq!(data["completed_via"], "client_at_store");
    // Counted once, announced once.
    crate::controls::used_bytes(&app, "ursula").await;
    assert_eq!(receiver.after_quiet(QUIET).await.len(), 1);
}

#[tokio::test]
async fn without_quotas_an_upload_completed_at_the_store_is_not_announced() {
    // The README's stated limit: without quotas nothing tracks these uploads.
    let receiver = WebhookReceiver::start(vec![]).await;
    let app = app_for(&receiver).await;
    let token = uploader(&app);
    form_upload(&app, &token).await;
    form_upload(&app, &token).await;
    assert_eq!(receiver.after_quiet(QUIET).await.len(), 0);
}

/// `tollgate serve` with a receiver, against the store of a test app.
fn serve_with(
    app: &TestApp,
    receiver: &WebhookReceiver,
    extra: &[(&str, &str)],
) -> TollgateProcess {
    let mut env = app.cli_storage_env();
    env.extend(receiver.env());
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    TollgateProcess::start(&env)
}

#[tokio::test]
async fn sigterm_lets_pending_events_be_delivered_within_the_grace_then_exits_0() {
    // The first attempt is answered 503 with Retry-After: 1, so that the retry comes after
    // SIGTERM.
    let receiver = WebhookReceiver::start(vec![Reply::Status(503, Some(1))]).await;
    let app = spawn_app_with(|_| {}).await;
    let mut process = serve_with(
        &app,
        &receiver,
        &[
            ("TOLLGATE__SERVER__SHUTDOWN_GRACE_SECS", "10"),
            ("TOLLGATE__WEBHOOKS__BACKOFF_MAX_MS", "2000"),
        ],
    );
    let token = uploader(&app);
    let id = upload_through(&app.http, &process.address, &token, VIDEO).await;
    receiver.wait_for(1).await;

    process.terminate();
    let terminated = Instant::now();
    let deliveries = receiver.wait_for(2).await;
    assert!(
        deliveries[1].received_at > terminated,
        "retried after SIGTERM"
    );
    assert_one_signed_event(&deliveries);
    assert_eq!(deliveries[1].data()["upload_id"], id);
    assert_eq!(deliveries[1].answered, Reply::Status(200, None));

    let status =
        tokio::task::spawn_blocking(move || process.exited_within(Duration::from_secs(15)))
            .await
            .unwrap()
            .expect("exited");
    assert!(status.success(), "{status}");
    assert!(
        terminated.elapsed() < Duration::from_secs(10),
        "{:?}",
        terminated.elapsed()
    );
}

#[tokio::test]
async fn sigterm_gives_up_on_undeliverable_events_when_the_grace_ends() {
    let receiver = WebhookReceiver::start(vec![Reply::Status(500, None); 10_000]).await;
    let app = spawn_app_with(|_| {}).await;
    let mut process = serve_with(
        &app,
        &receiver,
        &[
            ("TOLLGATE__SERVER__SHUTDOWN_GRACE_SECS", "2"),
            ("TOLLGATE__WEBHOOKS__MAX_ATTEMPTS", "100"),
        ],
    );
    let token = uploader(&app);
    upload_through(&app.http, &process.address, &token, VIDEO).await;
    receiver.wait_for(2).await;

    process.terminate();
    let terminated = Instant::now();
    let status =
        tokio::task::spawn_blocking(move || process.exited_within(Duration::from_secs(15)))
            .await
            .unwrap()
            .expect("exited");
    let took = terminated.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took >= Duration::from_millis(1500),
        "kept trying for the grace: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "then stopped: {took:?}");
    let attempts = receiver.deliveries();
    assert!(attempts.len() < 100, "{}", attempts.len());
    assert!(
        attempts
            .iter()
            .all(|d| d.answered == Reply::Status(500, None))
    );
    let after_exit = receiver.after_quiet(QUIET).await.len();
    assert_eq!(after_exit, attempts.len(), "no attempt after the exit");
}

/// The receiver's check is no tautology: events signed with another secret fail it (and are
/// refused, so tollgate tries again).
#[tokio::test]
async fn the_receivers_check_fails_for_events_signed_with_another_secret() {
    let receiver = WebhookReceiver::start(vec![]).await;
    let other = WebhookReceiver::start(vec![]).await;
    // tollgate signs with `other`'s secret and sends to `receiver`.
    let app = spawn_app_with(|s| {
        receiver.configure(s);
        s.webhooks.secret = Some(tollgate::config::Secret::new(other.secret.clone()));
        s.webhooks.max_attempts = 2;
    })
    .await;
    let token = uploader(&app);
    let id = uploaded(&app, &token).await;
    let (status, _) = app.complete_upload(&id, &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let deliveries = receiver.wait_for(2).await;
    assert!(deliveries.iter().all(|d| !d.verified), "{deliveries:#?}");
    assert!(
        deliveries
            .iter()
            .all(|d| d.answered == Reply::Status(401, None))
    );
    assert_eq!(receiver.after_quiet(QUIET).await.len(), 2);
    assert!(other.deliveries().is_empty());
}
