//! A hostile client against the controls. Tests named for what *should* happen: those that fail
//! today are findings (see the review report); the rest prove an attack is refused.

use axum::http::StatusCode;
use jsonwebtoken::Header;
use reqwest::Method;
use serde_json::{Value, json};

use super::{MIB, PLAYLIST, encode, quota, rate, spawn, states, token_with, used_bytes};
use crate::helpers::{Meta, TestApp, assert_error, hls_objects, now_secs};

async fn get_with_xff(app: &TestApp, path: &str, token: &str, xff: &[&[u8]]) -> StatusCode {
    let mut request = app.http.get(app.url(path)).bearer_auth(token);
    for value in xff {
        request = request.header(
            "x-forwarded-for",
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    request.send().await.unwrap().status()
}

// ---------------------------------------------------------------------------------------------
// Upload quotas
// ---------------------------------------------------------------------------------------------

/// Uppy 6.x: the completion URL is asked for *before* any part is uploaded. The charge is
/// taken from the parts listed at that moment (none: 0 bytes) and the upload is marked settled;
/// the parts uploaded afterwards, and the completion at the store with that same URL, cost
/// nothing. The subject stores 4 MiB with a 3 MiB quota.
#[tokio::test]
async fn uppy_6x_parts_uploaded_after_the_completion_is_signed_are_still_charged() {
    for state in states() {
        let app = spawn(&state, quota(3 * MIB)).await;
        let token = app.token("mallory", &[], &["uploader"]);
        let create = json!({"method": "POST", "key": "u/a.mp4", "contentType": "video/mp4"});
        let (status, created) = app.s3_sign(&token, create).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let response = app.s3_call(Method::POST, &created, Vec::new()).await;
        let xml = response.text().await.unwrap();
        let upload_id = crate::uppy::xml_value(&xml, "UploadId").expect("an upload id");
        let key = created["key"].as_str().unwrap();

        // The completion URL first: nothing is listed, nothing is charged.
        let complete = json!({"method": "POST", "key": key, "uploadId": upload_id});
        let (status, completion) = app.s3_sign(&token, complete).await;
        assert_eq!(status, StatusCode::OK, "{completion}");

        // Then 4 MiB of parts, over the 3 MiB quota.
        let part = json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1});
        let (_, signed) = app.s3_sign(&token, part).await;
        let uploaded = app
            .s3_call(Method::PUT, &signed, vec![2u8; 4 * MIB as usize])
            .await;
        assert!(uploaded.status().is_success(), "{}", uploaded.status());
        let etag = uploaded.headers()["etag"].to_str().unwrap().to_owned();
        let xml = format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        );
        let done = app
            .s3_call(Method::POST, &completion, xml.into_bytes())
            .await;
        let stored = done.status().is_success();
        let used = used_bytes(&app, "mallory").await;
        assert!(
            !stored || used >= 4 * MIB,
            "{}: 4 MiB stored through a completion signed at 0 bytes; quota used: {used}",
            state.name()
        );
    }
}

/// Uppy 4.x is charged at `/s3/multipart/{id}/complete`, once per S3 upload id. The same
/// upload's completion URL asked of `POST /s3/sign` (Uppy 6.x's route, which accepts the 4.x
/// key) while no part is stored charges 0 bytes and marks the upload id settled; the 4.x
/// completion of 4 MiB afterwards is free. (On a store that keeps an upload after refusing its
/// completion, as AWS does for InvalidPartOrder, a refused 4.x completion pre-settles it the
/// same way: the charge is taken before the store assembles.)
#[tokio::test]
async fn uppy_4x_completion_is_charged_even_after_a_6x_completion_url_was_signed_early() {
    for state in states() {
        let app = spawn(&state, quota(3 * MIB)).await;
        let token = app.token("mallory", &[], &["uploader"]);
        let body = json!({ "filename": "a.mp4", "type": "video/mp4", "metadata": {} });
        let (status, created) = app
            .call(Method::POST, "/s3/multipart", &token, Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let raw_key = created["key"].as_str().unwrap();
        let raw_upload_id = created["uploadId"].as_str().unwrap();
        let key = encode(raw_key);
        let upload_id = encode(raw_upload_id);

        // Pre-settle: the 6.x completion URL of this upload, with nothing stored.
        let early = json!({"method": "POST", "key": raw_key, "uploadId": raw_upload_id});
        let (status, body) = app.s3_sign(&token, early).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(used_bytes(&app, "mallory").await, 0);

        // 4 MiB (over the 3 MiB quota), completed through the 4.x route.
        let path = format!("/s3/multipart/{upload_id}/1?key={key}");
        let (_, signed) = app.call(Method::GET, &path, &token, None).await;
        let response = app
            .http
            .put(signed["url"].as_str().unwrap())
            .body(vec![2u8; 4 * MIB as usize])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let complete = format!("/s3/multipart/{upload_id}/complete?key={key}");
        let once = json!({ "parts": [{ "PartNumber": 1, "ETag": etag }] });
        let (status, body) = app.call(Method::POST, &complete, &token, Some(once)).await;
        let used = used_bytes(&app, "mallory").await;
        assert!(
            !status.is_success() || used >= 4 * MIB,
            "{}: {status} {body}: 4 MiB completed, quota used {used}",
            state.name()
        );
    }
}

/// Abort after complete gives nothing back; completing twice charges once; another subject
/// cannot abort (and so release) someone's upload.
#[tokio::test]
async fn abort_after_complete_and_foreign_aborts_give_no_budget_back() {
    for state in states() {
        let app = spawn(&state, quota(12 * MIB)).await;
        let token = app.token("mallory", &[], &["uploader"]);
        let body: Vec<u8> = (0..6 * MIB).map(|i| (i % 251) as u8).collect();
        let declaration = json!({"content_type": "video/mp4", "size": body.len()});
        let (status, created) = app.post_uploads(&token, &declaration).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let parts = crate::uploads::upload_parts(&app, &token, &created, &body).await;
        let id = created["id"].as_str().unwrap();
        let upload_id = created["upload_id"].as_str().unwrap();
        let complete = json!({"upload_id": upload_id, "parts": parts});

        // Someone else's abort is refused and releases nothing.
        let other = app.token("olga", &[], &["uploader"]);
        let abort = format!("/uploads/{id}?upload_id={}", encode(upload_id));
        let (status, _) = app.call(Method::DELETE, &abort, &other, None).await;
        assert!(status.is_client_error(), "{status}");
        assert_eq!(used_bytes(&app, "mallory").await, 6 * MIB);

        let (status, done) = app.complete_upload(id, &token, Some(&complete)).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        let (status, _) = app.call(Method::DELETE, &abort, &token, None).await;
        assert!(
            !status.is_success(),
            "{}: abort after complete: {status}",
            state.name()
        );
        app.complete_upload(id, &token, Some(&complete)).await;
        assert_eq!(
            used_bytes(&app, "mallory").await,
            6 * MIB,
            "{}",
            state.name()
        );
    }
}

/// Subjects that differ only by separators keep separate quotas, limits and revocations.
#[tokio::test]
async fn subjects_with_separators_share_no_state() {
    for state in states() {
        let app = spawn(&state, |s| {
            quota(MIB)(s);
            s.limits.playback = rate(1, 60, 1);
        })
        .await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let declaration = json!({"content_type": "video/mp4", "size": MIB});
        let names = [
            "eve",
            "eve:0",
            "eve|1",
            "eve:playback",
            "ip:127.0.0.1",
            "eve*",
        ];
        for name in names {
            let token = app.token(name, &[], &["uploader"]);
            let (status, body) = app.post_uploads(&token, &declaration).await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
            let (status, body) = app.video_url("v1", &token).await;
            assert_eq!(status, StatusCode::OK, "{} {name}: {body}", state.name());
        }
        let admin = app.token("root", &[], &["admin"]);
        let (status, _) = app.revoke(&admin, json!({"subject": "eve:0"})).await;
        assert_eq!(status, StatusCode::CREATED);
        app.clock.set_offset_secs(61);
        for name in names {
            let token = {
                let mut claims = app.claims(name);
                claims.insert("iat".into(), json!(now_secs() + 61));
                claims.insert("exp".into(), json!(now_secs() + 600));
                app.sign_hs256(&Header::default(), &claims)
            };
            let (status, body) = app.video_url("v1", &token).await;
            assert_eq!(status, StatusCode::OK, "{} {name}: {body}", state.name());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------------------

/// Hostile `iat` and `jti` claims: strings, null, objects are bad claims (401); fractional and
/// negative `iat` before the not-before are revoked.
#[tokio::test]
async fn hostile_iat_and_jti_claims_do_not_escape_revocation() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let admin = app.token("root", &[], &["admin"]);
        let (status, body) = app.revoke(&admin, json!({"subject": "bob"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let not_before = body["not_before"].as_i64().unwrap();

        for bad in [
            json!(format!("{}", not_before + 100)),
            Value::Null,
            json!({"n": 1}),
            json!([not_before + 100]),
            json!(true),
        ] {
            let token = token_with(&app, "bob", &[("iat", bad.clone())]);
            let (status, body) = app.video_url("v1", &token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "iat {bad}: {body}");
            assert_ne!(body["error"]["code"], "ok");
        }
        for revoked in [
            json!(not_before as f64 + 0.999),
            json!(-1),
            json!(i64::MIN),
            json!(-1e300),
            json!(0),
        ] {
            let token = token_with(&app, "bob", &[("iat", revoked.clone())]);
            let (status, body) = app.video_url("v1", &token).await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_revoked");
        }

        app.revoke(&admin, json!({"jti": "j-1"})).await;
        for bad in [json!(1), json!(["j-1"]), json!(""), json!("j".repeat(257))] {
            let token = token_with(&app, "carl", &[("jti", bad.clone())]);
            let (status, _) = app.video_url("v1", &token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "jti {bad}");
        }
        let token = token_with(&app, "carl", &[("jti", json!("j-1"))]);
        let (status, body) = app.video_url("v1", &token).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_revoked");
        // The same jti under another subject is the same token id: refused too.
        let token = token_with(&app, "dora", &[("jti", json!("j-1"))]);
        assert_eq!(
            app.video_url("v1", &token).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}

/// A grant replayed after its subject's revocation is refused, whatever the player adds to the
/// query; a grant for one video does not open another; a taken-down HLS video is refused on
/// the Bearer playlist route too.
#[tokio::test]
async fn grants_and_the_bearer_playlist_route_respect_revocations_and_takedowns() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        app.put_hls("h1", "free", &hls_objects(&[("index.m3u8", PLAYLIST)]))
            .await;
        app.put_hls("h2", "free", &hls_objects(&[("index.m3u8", PLAYLIST)]))
            .await;
        let admin = app.token("root", &[], &["admin"]);
        let token = token_with(&app, "gina", &[("iat", json!(now_secs() - 30))]);
        let url = app.hls_entry("h1", &token).await;
        assert_eq!(app.get_text(&url).await.0, StatusCode::OK);
        let other = url.replace("/videos/h1/", "/videos/h2/");
        assert!(app.get_text(&other).await.0.is_client_error());

        app.revoke(&admin, json!({"subject": "gina"})).await;
        for replay in [url.clone(), format!("{url}&session=another-one")] {
            let (status, text) = app.get_text(&replay).await;
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
                "{replay}: {status} {text}"
            );
        }

        // Bearer route: a takedown holds there too.
        let viewer = app.token("hank", &[], &[]);
        app.revoke(&admin, json!({"video": "h2"})).await;
        let response = app.get("/videos/h2/hls/index.m3u8", Some(&viewer)).await;
        assert_eq!(response.status(), StatusCode::GONE, "{}", state.name());
        let response = app.get("/videos/h2/hls/index.m3u8", Some(&admin)).await;
        assert_eq!(response.status(), StatusCode::OK, "admins are exempt");
    }
}

/// Far-future token revocations: the memory backend records them (201); Redis must too, not
/// answer 503 `state_unavailable` (and log the state as unreachable) because `SET … EX` refuses
/// the expiry.
#[tokio::test]
async fn a_token_revocation_with_a_far_expiry_is_recorded_not_a_503() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let admin = app.token("root", &[], &["admin"]);
        for (jti, until) in [("far-1", 10_000_000_000_000_000_i64), ("far-2", i64::MAX)] {
            let (status, body) = app
                .revoke(&admin, json!({"jti": jti, "expires_at": until}))
                .await;
            assert_eq!(
                status,
                StatusCode::CREATED,
                "{}: {jti} until {until}: {body}",
                state.name()
            );
            let token = token_with(&app, "ivan", &[("jti", json!(jti))]);
            let (status, body) = app.video_url("v1", &token).await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_revoked");
        }
    }
}

/// A token revocation whose `expires_at` is already past is answered `201` with what was
/// "recorded", yet nothing is: Redis skips the `SET`, memory stores an entry that is expired
/// at once, and `GET /admin/revocations/tokens/{jti}` says 404. A 201 must mean the revocation
/// holds (or the request must be refused with 400).
#[tokio::test]
async fn a_token_revocation_answered_201_is_in_force() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        let admin = app.token("root", &[], &["admin"]);
        let (status, body) = app
            .revoke(
                &admin,
                json!({"jti": "past-1", "expires_at": now_secs() - 10}),
            )
            .await;
        if status == StatusCode::CREATED {
            let (status, view) = app
                .revocation(Method::GET, &admin, "tokens", "past-1")
                .await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{}: POST answered 201 {body}, GET {view}",
                state.name()
            );
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }
    }
}

/// The admin routes refuse hostile targets with 4xx, never 5xx; non-admins get 403.
#[tokio::test]
async fn admin_routes_refuse_hostile_input() {
    for state in states() {
        let app = spawn(&state, |_| {}).await;
        let admin = app.token("root", &[], &["admin"]);
        let user = app.token("user", &[], &[]);
        let (status, _) = app.revoke(&user, json!({"subject": "root"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let bodies = [
            json!({"subject": ""}),
            json!({"subject": "a\u{0}b"}),
            json!({"subject": "a\nb"}),
            json!({"subject": "x".repeat(1025)}),
            json!({"subject": "bob", "jti": "j"}),
            json!({"subject": "bob", "expires_at": 1}),
            json!({"subject": "bob", "not_before": "1"}),
            json!({"subject": "bob", "not_before": 1e30}),
            json!({"subject": "bob", "not_before": 1.5}),
            json!({"jti": ""}),
            json!({"jti": "j".repeat(257)}),
            json!({"jti": "j", "not_before": 1}),
            json!({"video": "../etc/passwd"}),
            json!({"video": "a/b"}),
            json!({"video": ""}),
            json!({"video": "v", "subject": "s"}),
            json!({}),
            json!({"subject": null}),
            json!({"subject": 1}),
            json!({"extra": 1, "subject": "bob"}),
            json!([]),
        ];
        for body in bodies {
            let (status, answer) = app.revoke(&admin, body.clone()).await;
            assert!(
                status.is_client_error() && status != StatusCode::NOT_FOUND,
                "{}: {body} → {status} {answer}",
                state.name()
            );
        }
        for (kind, id) in [
            ("users", "bob"),
            ("subjects", "a%00b"),
            ("subjects", "a%0Ab"),
            ("videos", "..%2Fx"),
            ("tokens", &"j".repeat(300)),
            ("subjects", &"x".repeat(1025)),
        ] {
            for method in [Method::GET, Method::DELETE] {
                let (status, body) = app.revocation(method.clone(), &admin, kind, id).await;
                assert!(
                    status.is_client_error(),
                    "{method} {kind}/{id}: {status} {body}"
                );
            }
        }
        for sub in ["a%00b", "a%0Ab", &"x".repeat(1025)] {
            let (status, body) = app.admin_subject(&admin, sub, "").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{sub}: {body}");
        }
        // Unicode and separators are fine, and round-trip.
        for sub in ["émile", "a:b:c", "rev:sub:x", "%25"] {
            let (status, body) = app.admin_subject(&admin, sub, "a,b,,c").await;
            assert_eq!(status, StatusCode::OK, "{sub}: {body}");
        }
        let (status, body) = app
            .revoke(&admin, json!({"subject": "bob", "not_before": i64::MIN}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = app
            .revoke(&admin, json!({"subject": "bob", "not_before": i64::MAX}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let bob = app.token("bob", &[], &[]);
        assert_eq!(app.video_url("v1", &bob).await.0, StatusCode::UNAUTHORIZED);
    }
}

// ---------------------------------------------------------------------------------------------
// Rate limits per client IP
// ---------------------------------------------------------------------------------------------

/// Once the client IP is over its limit, every route but the health checks says 429 (README:
/// "Per client IP on every route but the health checks"): unknown routes and methods too.
#[tokio::test]
async fn an_ip_over_its_limit_is_refused_on_unknown_routes_and_methods_too() {
    for state in states() {
        let app = spawn(&state, |s| s.limits.ip = rate(1, 3600, 1)).await;
        assert_eq!(
            app.get("/videos/v1/url", None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get("/videos/v1/url", None).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        for _ in 0..20 {
            let response = app.get("/no/such/route", None).await;
            assert_eq!(
                response.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "{}: unknown route",
                state.name()
            );
            let response = app
                .http
                .put(app.url("/videos/v1/url"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "{}: wrong method",
                state.name()
            );
        }
    }
}

/// Once the client IP is over its limit, a request with a *valid* token but a malformed query,
/// id or session is answered 400/404 instead of 429: it never reaches the controls, so neither
/// the IP's limit nor the subject's counts it (and a revoked token hears 400, not 401).
#[tokio::test]
async fn malformed_requests_with_a_valid_token_are_refused_once_the_ip_is_over_its_limit() {
    for state in states() {
        let app = spawn(&state, |s| s.limits.ip = rate(1, 3600, 1)).await;
        let token = app.token("mallory", &[], &[]);
        app.get("/videos/v1/url", None).await;
        assert_eq!(
            app.get("/videos/v1/url", Some(&token)).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let mut answers = Vec::new();
        for path in [
            "/videos/v1/url?session=%20bad%20",
            "/videos/v1/url?bogus=1",
            "/videos/%20/url",
            "/videos/v1/url?expires_in=0",
            "/videos/v1/sessions/%20",
        ] {
            let response = if path.contains("/sessions/") {
                app.request(Method::DELETE, path, &token, None).await
            } else {
                app.get(path, Some(&token)).await
            };
            answers.push((path, response.status()));
        }
        assert!(
            answers
                .iter()
                .all(|(_, s)| *s == StatusCode::TOO_MANY_REQUESTS),
            "{}: past the IP limit: {answers:?}",
            state.name()
        );
    }
}

/// HLS playlist requests: a malformed query or video id is answered before any control runs,
/// so it is never refused by (nor counted against) the client IP's limit.
#[tokio::test]
async fn hls_requests_with_a_malformed_query_or_id_are_refused_once_the_ip_is_over_its_limit() {
    for state in states() {
        let app = spawn(&state, |s| s.limits.ip = rate(1, 3600, 1)).await;
        app.put_hls("h1", "free", &hls_objects(&[("index.m3u8", PLAYLIST)]))
            .await;
        app.get("/videos/v1/url", None).await;
        assert_eq!(
            app.get("/videos/h1/hls/index.m3u8", None).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let mut answers = Vec::new();
        for path in [
            "/videos/h1/hls/index.m3u8?bogus=1",
            "/videos/h1/hls/index.m3u8?session=%20",
            "/videos/%20/hls/index.m3u8",
            "/videos/h1/hls/index.m3u8?grant=forged",
        ] {
            answers.push((path, app.get(path, None).await.status()));
        }
        assert!(
            answers
                .iter()
                .all(|(_, s)| *s == StatusCode::TOO_MANY_REQUESTS),
            "{}: past the IP limit: {answers:?}",
            state.name()
        );
    }
}

/// CORS preflights and `/demo/session` (which mints tokens) are answered without the IP limit.
#[tokio::test]
async fn preflights_and_the_demo_session_count_against_the_client_ip() {
    for state in states() {
        let app = spawn(&state, |s| {
            s.limits.ip = rate(1, 3600, 1);
            s.cors.allowed_origins = vec!["https://app.example.com".to_owned()];
        })
        .await;
        app.get("/videos/v1/url", None).await;
        assert_eq!(
            app.get("/videos/v1/url", None).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let preflight = app
            .http
            .request(Method::OPTIONS, app.url("/videos/v1/url"))
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        // An OPTIONS without the preflight's headers is answered by CORS too, and counted.
        let bare = app
            .http
            .request(Method::OPTIONS, app.url("/uploads"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            bare.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            state.name()
        );
        assert!(
            bare.headers()["vary"].to_str().unwrap().contains("origin"),
            "{}: a refused preflight varies by origin",
            state.name()
        );
        let demo = app
            .http
            .post(app.url("/demo/session"))
            .send()
            .await
            .unwrap();
        let demo_status = demo.status();
        let minted = demo.json::<Value>().await.unwrap_or(Value::Null);
        assert_eq!(
            (preflight.status(), demo_status),
            (StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS),
            "{}: preflight and /demo/session past the IP limit; minted {minted}",
            state.name()
        );
    }
}

/// Behind a trusted proxy, what the client writes cannot move it to another bucket: forged
/// entries on the left, several header lines, ports, IPv4-mapped IPv6, a huge header.
#[tokio::test]
async fn forwarded_for_forms_cannot_pick_a_bucket() {
    for state in states() {
        let app = spawn(&state, |s| {
            s.limits.ip = rate(1, 3600, 1);
            s.server.trusted_proxies = vec!["127.0.0.0/8".to_owned()];
        })
        .await;
        let client: &[u8] = b"203.0.113.7";
        assert_eq!(
            get_with_xff(&app, "/videos/v1/url", "bad", &[client]).await,
            StatusCode::UNAUTHORIZED
        );
        let huge = {
            let mut list: Vec<String> = (0..2000)
                .map(|i| format!("10.0.{}.{}", i / 250, i % 250))
                .collect();
            list.push("203.0.113.7".to_owned());
            list.join(", ")
        };
        let forms: Vec<Vec<&[u8]>> = vec![
            vec![client],
            vec![b"198.51.100.1, 203.0.113.7"],
            vec![b"198.51.100.1", client],
            vec![b"not-an-ip, 203.0.113.7"],
            vec![b"203.0.113.9:4444, 203.0.113.7"],
            vec![b"[2001:db8::1]:80, 203.0.113.7"],
            vec![b"::ffff:203.0.113.7"],
            vec![b" 203.0.113.7 "],
            vec![b"203.0.113.7, 127.0.0.1"],
            vec![b"\xff\xfe", client],
            vec![huge.as_bytes()],
        ];
        for form in forms {
            let status = get_with_xff(&app, "/videos/v1/url", "bad", &form).await;
            let shown: Vec<String> = form
                .iter()
                .map(|v| String::from_utf8_lossy(&v[..v.len().min(60)]).into_owned())
                .collect();
            assert_eq!(
                status,
                StatusCode::TOO_MANY_REQUESTS,
                "{}: {shown:?}",
                state.name()
            );
        }
    }
}

/// A proxy that appends to the client's header (nginx's `$proxy_add_x_forwarded_for`) sends one
/// line: `<what the client wrote>, <client>`. When the client writes a byte outside visible
/// ASCII, the whole line is dropped (`to_str` fails) and the request counts against the proxy's
/// address: the client picks a fresh bucket (README: "a client cannot choose its bucket").
#[tokio::test]
async fn obs_text_in_the_clients_part_of_a_forwarded_line_does_not_pick_another_bucket() {
    for state in states() {
        let app = spawn(&state, |s| {
            s.limits.ip = rate(1, 3600, 1);
            s.server.trusted_proxies = vec!["127.0.0.0/8".to_owned()];
        })
        .await;
        let client: &[u8] = b"203.0.113.7";
        get_with_xff(&app, "/videos/v1/url", "bad", &[client]).await;
        assert_eq!(
            get_with_xff(&app, "/videos/v1/url", "bad", &[client]).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        let status = get_with_xff(&app, "/videos/v1/url", "bad", &[b"\xff, 203.0.113.7"]).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{}", state.name());
    }
}

/// IPv6: every address is a bucket of its own, and a client holds a /64 (2^64 addresses).
/// Rotating the interface id resets the limit.
#[tokio::test]
async fn ipv6_clients_cannot_reset_their_limit_by_rotating_within_their_64() {
    for state in states() {
        let app = spawn(&state, |s| {
            s.limits.ip = rate(1, 3600, 1);
            s.server.trusted_proxies = vec!["127.0.0.0/8".to_owned()];
        })
        .await;
        get_with_xff(&app, "/videos/v1/url", "bad", &[b"2001:db8:1:2::1"]).await;
        assert_eq!(
            get_with_xff(&app, "/videos/v1/url", "bad", &[b"2001:db8:1:2::1"]).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        let status = get_with_xff(&app, "/videos/v1/url", "bad", &[b"2001:db8:1:2::2"]).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{}", state.name());
    }
}

// ---------------------------------------------------------------------------------------------
// Stream leases
// ---------------------------------------------------------------------------------------------

/// Another subject cannot end a session (404), so cannot free a slot; a hostile session id is
/// refused with 400.
#[tokio::test]
async fn sessions_cannot_be_ended_by_others_nor_named_with_garbage() {
    for state in states() {
        let app = spawn(&state, |s| s.streams.max_concurrent = 1).await;
        app.put_video("v1", b"x", Meta::tier("free")).await;
        let alice = app.token("alice", &[], &[]);
        let bob = app.token("bob", &[], &[]);
        let response = app.video_url_in_session("v1", &alice, "s-1").await;
        assert_eq!(response.status(), StatusCode::OK);
        let (status, body) = app.end_session("v1", &bob, "s-1").await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "session_not_found");
        let response = app.video_url_in_session("v1", &alice, "s-2").await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            state.name()
        );
        for garbage in [
            "",
            "%00",
            "a%0Ab",
            &"s".repeat(5000),
            "..%2F..",
            "%F0%9F%92%A9",
        ] {
            let response = app.video_url_in_session("v1", &alice, garbage).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{garbage}");
        }
    }
}
