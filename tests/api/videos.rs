use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Meta, TestApp, assert_error, profile, spawn_app};

const BYTES: &[u8] = b"\x00\x00\x00\x18ftypmp42 not really a video, but exact bytes";

async fn app_with_videos() -> TestApp {
    let app = spawn_app().await;
    app.put_video(
        "gold-1",
        BYTES,
        Meta {
            access: Some("gold"),
            owner: Some("olga"),
        },
    )
    .await;
    app.put_video("free-1", b"free bytes", Meta::tier("free"))
        .await;
    app.put_video("untiered", b"default tier", Meta::default())
        .await;
    app
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn entitled_caller_gets_a_url_that_returns_exactly_the_stored_bytes() {
    let app = app_with_videos().await;
    let token = app.token("alice", &["gold"], &[]);

    let response = app.get("/videos/gold-1/url", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["method"], "GET");
    assert_eq!(body["format"], "file");
    assert_eq!(body["headers"], serde_json::json!({}));
    assert_eq!(body["expires_in"], 300);
    let expires_at = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let delta = expires_at.unix_timestamp() - crate::helpers::now_secs();
    assert!(
        (295..=301).contains(&delta),
        "expires_at is now + 300 s, got {delta}"
    );

    let url = body["url"].as_str().unwrap();
    assert!(
        url.contains(&format!(
            "/{}/{}",
            app.settings.storage.bucket,
            app.key("gold-1")
        )),
        "{url}"
    );
    let fetched = app.fetch(url).await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), BYTES);
}

#[tokio::test]
async fn the_bucket_itself_stays_private() {
    let app = app_with_videos().await;
    let direct = format!(
        "{}/{}/{}",
        app.store_endpoint,
        app.settings.storage.bucket,
        app.key("gold-1")
    );
    let response = app.fetch(&direct).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn owner_admin_and_open_tier_are_granted() {
    let app = app_with_videos().await;
    for token in [
        app.token("olga", &[], &[]),
        app.token("root", &[], &["admin"]),
    ] {
        let url = app.granted_url("gold-1", &token).await;
        assert_eq!(app.fetch(&url).await.bytes().await.unwrap().as_ref(), BYTES);
    }
    let nobody = app.token("bob", &[], &[]);
    let url = app.granted_url("free-1", &nobody).await;
    assert_eq!(
        app.fetch(&url).await.bytes().await.unwrap().as_ref(),
        b"free bytes"
    );
}

#[tokio::test]
async fn a_video_without_tier_is_in_the_default_tier() {
    let app = app_with_videos().await;
    let (status, body) = app
        .video_url("untiered", &app.token("bob", &["gold"], &[]))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "not_entitled");
    app.granted_url("untiered", &app.token("bob", &["premium"], &[]))
        .await;
}

#[tokio::test]
async fn caller_without_entitlement_gets_403_not_entitled() {
    let app = app_with_videos().await;
    let token = app.token("bob", &["silver", "premium"], &["viewer"]);
    let (status, body) = app.video_url("gold-1", &token).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "not_entitled");
}

#[tokio::test]
async fn unknown_video_is_404() {
    let app = app_with_videos().await;
    let (status, body) = app
        .video_url("does-not-exist", &app.token("root", &[], &["admin"]))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "video_not_found");
}

#[tokio::test]
async fn malformed_ids_are_400() {
    let app = app_with_videos().await;
    let token = app.token("root", &[], &["admin"]);
    let long = "a".repeat(129);
    for id in [
        "..%2Fx",
        "..%2F..%2Fetc%2Fpasswd",
        long.as_str(),
        "%00",
        "a%20b",
        "a.b",
        "%C3%A9",
        "%FF",
    ] {
        let (status, body) = app.video_url(id, &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {body}");
        assert!(
            ["invalid_video_id", "invalid_request"]
                .contains(&body["error"]["code"].as_str().unwrap()),
            "{id}: {body}"
        );
    }
    let (status, body) = app.video_url(&"a".repeat(128), &token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "video_not_found");
}

#[tokio::test]
async fn a_url_with_altered_key_or_signature_is_refused_by_the_store() {
    let app = app_with_videos().await;
    app.put_video("gold-2", b"other object", Meta::tier("gold"))
        .await;
    let url = app
        .granted_url("gold-1", &app.token("alice", &["gold"], &[]))
        .await;
    assert_eq!(
        app.fetch(&url).await.status(),
        StatusCode::OK,
        "the untampered URL works"
    );

    let other_key = url.replacen(&app.key("gold-1"), &app.key("gold-2"), 1);
    assert_ne!(other_key, url);
    assert_eq!(app.fetch(&other_key).await.status(), StatusCode::FORBIDDEN);

    let signature = query_param(&url, "X-Amz-Signature").unwrap();
    let flipped: String = signature
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '0' { '1' } else { '0' }
            } else {
                c
            }
        })
        .collect();
    let bad_signature = url.replace(signature, &flipped);
    assert_eq!(
        app.fetch(&bad_signature).await.status(),
        StatusCode::FORBIDDEN
    );

    let longer = url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
    assert_ne!(longer, url);
    assert_eq!(app.fetch(&longer).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_expired_url_is_refused_by_the_store() {
    let app = app_with_videos().await;
    let token = app.token("alice", &["gold"], &[]);
    // Sign as if it were two hours ago: the URL died 1h55m ago.
    app.clock.set_offset_secs(-7200);
    let (status, body) = app.video_url("gold-1", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expired = body["url"].as_str().unwrap().to_owned();
    assert_eq!(
        app.fetch(&expired).await.status(),
        profile().expired_url,
        "{}",
        profile().name
    );

    app.clock.set_offset_secs(0);
    let fresh = app.granted_url("gold-1", &token).await;
    assert_eq!(
        app.fetch(&fresh).await.status(),
        StatusCode::OK,
        "same video, current clock"
    );
}

#[tokio::test]
async fn expires_in_is_honoured_when_shorter_and_clamped_when_longer() {
    let app = app_with_videos().await;
    let token = app.token("alice", &["gold"], &[]);
    for (asked, granted) in [("30", 30), ("300", 300), ("99999", 300)] {
        let response = app
            .get(
                &format!("/videos/gold-1/url?expires_in={asked}"),
                Some(&token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["expires_in"], granted);
        let url = body["url"].as_str().unwrap();
        assert_eq!(
            query_param(url, "X-Amz-Expires"),
            Some(granted.to_string().as_str())
        );
        assert_eq!(app.fetch(url).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let app = app_with_videos().await;
    let token = app.token("alice", &["gold"], &[]);
    for query in [
        "expires_in=0",
        "expires_in=-5",
        "expires_in=abc",
        "download=maybe",
        "filename=a.mp4",
        "color=red",
    ] {
        let response = app
            .get(&format!("/videos/gold-1/url?{query}"), Some(&token))
            .await;
        let status = response.status();
        assert_error(
            status,
            &response.json().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        );
    }
}

#[tokio::test]
async fn download_signs_the_content_disposition_the_store_returns() {
    let app = app_with_videos().await;
    let token = app.token("alice", &["gold"], &[]);
    let response = app
        .get(
            "/videos/gold-1/url?download=true&filename=%C3%89t%C3%A9%20trip.mp4",
            Some(&token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(url.contains("response-content-disposition="), "{url}");
    let fetched = app.fetch(url).await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(
        fetched.headers()["content-disposition"],
        "attachment; filename=\"_t_ trip.mp4\"; filename*=UTF-8''%C3%89t%C3%A9%20trip.mp4"
    );

    // The disposition is signed: changing it breaks the URL.
    let altered = url.replace("attachment", "inline");
    assert_ne!(altered, url);
    assert_eq!(app.fetch(&altered).await.status(), StatusCode::FORBIDDEN);
}

/// A `<video>` element seeks with Range requests: every store answers them through the URL
/// tollgate signs (the Range header is not signed, so any range may be asked).
#[tokio::test]
async fn a_signed_url_serves_ranges_with_206_and_content_range() {
    let app = app_with_videos().await;
    let url = app
        .granted_url("gold-1", &app.token("olga", &[], &[]))
        .await;
    let total = BYTES.len();
    for (range, start, end) in [
        ("bytes=0-", 0, total - 1),
        ("bytes=4-11", 4, 11),
        ("bytes=20-", 20, total - 1),
        ("bytes=-5", total - 5, total - 1),
    ] {
        let response = app
            .http
            .get(&url)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {start}-{end}/{total}").as_str(),
            "{range}"
        );
        let body = response.bytes().await.unwrap();
        assert_eq!(&body[..], &BYTES[start..=end], "{range}");
    }
}
