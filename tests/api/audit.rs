//! The audit trail: one JSON event per decision, granted or refused, with every field, in the
//! file `audit.path` names, and never a secret.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Meta, TestApp, hls_objects, spawn_app_with};

const USER_AGENT: &str = "audit-test/1.0";

/// The events in `path` once there are `count` of them (the writer thread flushes them).
async fn events(path: &Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} events: {text}",
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .header("user-agent", USER_AGENT)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_decision_is_one_event_with_its_fields_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let file = path.clone();
    let app = spawn_app_with(move |s| s.audit.path = Some(file)).await;
    app.put_video("v1", b"x", Meta::tier("premium")).await;
    app.put_hls(
        "h1",
        "free",
        &hls_objects(&[(
            "index.m3u8",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\ns.mp4\n#EXT-X-ENDLIST\n",
        )]),
    )
    .await;
    let bob = app.token("bob", &["premium"], &[]);
    let alice = app.token("alice", &[], &["uploader"]);
    let admin = app.token("root", &[], &["admin"]);

    // 1. granted; 2. refused by the access rule; 3. refused before authentication.
    let granted = get(&app, "/videos/v1/url", &bob).await;
    let request_id = granted.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let url: Value = granted.json().await.unwrap();
    assert_eq!(
        get(&app, "/videos/v1/url", &alice).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/videos/v1/url", "not.a.token").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // 4. an upload; 5. a revocation; 6. an HLS entry and its playlist (with the grant).
    let (status, upload) = app
        .post_uploads(&alice, &json!({"content_type": "video/mp4", "size": 5}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{upload}");
    let (status, _) = app.revoke(&admin, json!({"video": "v9"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let entry = app.hls_entry("h1", &bob).await;
    assert_eq!(app.get_text(&entry).await.0, StatusCode::OK);
    // Not decisions: never audited.
    app.get("/healthz", None).await;
    app.get("/readyz", None).await;

    let events = events(&path, 7).await;
    assert_eq!(events.len(), 7, "{events:#?}");

    let first = &events[0];
    for field in [
        "time",
        "request_id",
        "action",
        "method",
        "route",
        "decision",
        "status",
        "subject",
        "video",
        "key",
        "expires_at",
        "client_ip",
        "user_agent",
    ] {
        assert!(!first[field].is_null(), "{field} in {first}");
    }
    assert_eq!(first["request_id"], request_id.as_str());
    assert_eq!(first["action"], "playback_url");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["decision"], "granted");
    assert_eq!(first["code"], Value::Null);
    assert_eq!(first["subject"], "bob");
    assert_eq!(first["video"], "v1");
    assert_eq!(first["key"], app.key("v1").as_str());
    assert_eq!(first["client_ip"], "127.0.0.1");
    assert_eq!(first["user_agent"], USER_AGENT);
    // The same instant as the answer's `expires_at`.
    assert_eq!(first["expires_at"], url["expires_at"]);

    let refused = &events[1];
    assert_eq!(
        (refused["decision"].as_str(), refused["code"].as_str()),
        (Some("refused"), Some("not_entitled"))
    );
    assert_eq!(refused["subject"], "alice");
    assert_eq!(refused["status"], 403);
    let unauthenticated = &events[2];
    assert_eq!(unauthenticated["code"], "invalid_token");
    assert_eq!(unauthenticated["subject"], Value::Null);
    assert_eq!(unauthenticated["video"], "v1");

    let upload_event = &events[3];
    assert_eq!(upload_event["action"], "upload");
    assert_eq!(upload_event["upload"], upload["id"]);
    assert_eq!(upload_event["key"], upload["key"]);
    assert!(upload_event["expires_at"].is_string(), "{upload_event}");
    let revoke = &events[4];
    assert_eq!(
        (revoke["action"].as_str(), revoke["target"].as_str()),
        (Some("revoke"), Some("video:v9"))
    );
    assert_eq!(revoke["subject"], "root");
    assert_eq!(events[5]["action"], "playback_url");
    assert_eq!(events[6]["action"], "playlist");
    assert_eq!(events[6]["subject"], "bob", "the grant's subject");

    // Never a token, a URL's signature or credential, a grant, nor a configured secret.
    let text = std::fs::read_to_string(&path).unwrap();
    let grant = entry.split("grant=").nth(1).unwrap();
    let mut secrets = vec![
        bob.as_str(),
        alice.as_str(),
        admin.as_str(),
        grant,
        "X-Amz-Signature",
        "X-Amz-Credential",
    ];
    let settings = &app.settings;
    let configured = [
        settings.auth.hmac_secret.as_ref(),
        settings.uploads.id_secret.as_ref(),
        settings.hls.grant_secret.as_ref(),
        settings.storage.secret_access_key.as_ref(),
        settings.storage.upload_secret_access_key.as_ref(),
    ];
    secrets.extend(configured.into_iter().flatten().map(|s| s.expose()));
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} is in the audit trail");
    }
    assert!(
        !text.contains("http://") && !text.contains("https://"),
        "no URL: {text}"
    );
}
