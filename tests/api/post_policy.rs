//! Single uploads of Uppy's protocols as S3 POST policies: neither generation tells the file
//! size, so a presigned PUT could not bound it; a policy's `content-length-range` does, and the
//! store checks every field against the signed policy before it stores anything.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, external_store, form_fields, form_secs_left, profile, spawn_app, spawn_app_with,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn uploader(app: &TestApp) -> String {
    app.token("ursula", &[], &["uploader"])
}

/// `/s3/params` (Uppy 4.x) for `ursula`.
async fn s3_params(app: &TestApp, query: &str) -> Value {
    let path = format!("/s3/params?{query}");
    let (status, signed) = app
        .call(reqwest::Method::GET, &path, &uploader(app), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    signed
}

/// `/s3/sign` PutObject (Uppy 6.x) for `ursula`.
async fn s3_sign_put(app: &TestApp) -> Value {
    let request = json!({"method": "PUT", "key": "u/clip.mp4", "contentType": "video/mp4"});
    let (status, signed) = app.s3_sign(&uploader(app), request).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    signed
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    &fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("no field {name}"))
        .1
}

/// The upload id behind a form's key.
fn id_of(app: &TestApp, fields: &[(String, String)]) -> String {
    let key = field(fields, "key");
    key.strip_prefix(&app.settings.storage.key_prefix)
        .unwrap_or_else(|| panic!("{key} is not an upload key"))
        .to_owned()
}

/// Whether the store holds an object under `key`.
async fn stored(app: &TestApp, key: &str) -> bool {
    let bucket = &app.settings.storage.bucket;
    app.s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

/// Uploads `body` with `signed`'s form, completes it and checks what playback serves.
async fn upload_complete_and_play(app: &TestApp, signed: &Value, body: &[u8]) {
    let fields = form_fields(signed);
    let url = signed["url"].as_str().unwrap();
    let response = app.s3_post_form(url, &fields, body).await;
    let status = response.status();
    let etag = response.headers().contains_key("etag");
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{}",
        response.text().await.unwrap_or_default()
    );
    // Uppy 4.x finishes an upload only when it can read the answer's ETag.
    assert!(etag, "no ETag");
    let id = id_of(app, &fields);
    let token = uploader(app);
    let (status, done) = app.complete_upload(&id, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["size"], body.len());
    assert_eq!(done["content_type"], "video/mp4");
    let url = app.granted_url(&id, &token).await;
    assert_eq!(app.fetch(&url).await.bytes().await.unwrap().as_ref(), body);
}

#[tokio::test]
async fn s3_params_answers_a_form_that_pins_type_owner_and_tier() {
    let app = spawn_app().await;
    let signed = s3_params(
        &app,
        "filename=clip.mp4&type=video%2Fmp4&metadata%5Baccess%5D=free",
    )
    .await;
    assert_eq!(signed["method"], "POST");
    assert_eq!(signed["headers"], json!({}));
    let fields = form_fields(&signed);
    assert_eq!(field(&fields, "Content-Type"), "video/mp4");
    assert_eq!(field(&fields, "x-amz-meta-owner"), "ursula");
    assert_eq!(field(&fields, "x-amz-meta-access"), "free");
    let url = signed["url"].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/{}", app.settings.storage.bucket)) && !url.contains('?'),
        "the bucket's URL, no query: {url}"
    );
    upload_complete_and_play(&app, &signed, b"a small clip").await;
    // Free tier: anyone may watch it.
    let id = id_of(&app, &fields);
    let url = app.granted_url(&id, &app.token("bob", &[], &[])).await;
    assert_eq!(app.fetch(&url).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn s3_sign_answers_put_object_with_a_form_for_the_key_it_returns() {
    let app = spawn_app().await;
    let signed = s3_sign_put(&app).await;
    assert!(signed.get("headers").is_none(), "{signed}");
    let fields = form_fields(&signed);
    assert_eq!(field(&fields, "key"), signed["key"]);
    upload_complete_and_play(&app, &signed, &[7u8; 3 * KIB]).await;
}

#[tokio::test]
async fn the_store_refuses_a_body_beyond_the_maximum_or_empty_and_stores_nothing() {
    // The smallest maximum the settings allow: the multipart threshold, S3's 5 MiB part.
    let max = 5 * MIB;
    let app = spawn_app_with(|s| {
        s.uploads.multipart_threshold_bytes = max as u64;
        s.uploads.max_size_bytes = max as u64;
    })
    .await;
    for (size, what) in [(max + 1, "one byte too many"), (0, "empty")] {
        let signed = s3_params(&app, "filename=a.mp4&type=video%2Fmp4").await;
        let fields = form_fields(&signed);
        let url = signed["url"].as_str().unwrap();
        let response = app.s3_post_form(url, &fields, &vec![1u8; size]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert!(!stored(&app, field(&fields, "key")).await, "{what}");
    }
    // The maximum itself is allowed.
    let signed = s3_sign_put(&app).await;
    upload_complete_and_play(&app, &signed, &vec![2u8; max]).await;
}

/// One edit a hostile client makes to a signed form.
struct Edit {
    what: &'static str,
    apply: fn(&mut Vec<(String, String)>),
}

fn set(fields: &mut [(String, String)], name: &str, value: &str) {
    let entry = fields
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("no field {name}"));
    entry.1 = value.to_owned();
}

fn drop_field(fields: &mut Vec<(String, String)>, name: &str) {
    fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
}

const EDITS: [Edit; 9] = [
    Edit {
        what: "another type (HTML served from the bucket's origin)",
        apply: |f| set(f, "Content-Type", "text/html"),
    },
    Edit {
        what: "another tier",
        apply: |f| set(f, "x-amz-meta-access", "free"),
    },
    Edit {
        what: "another owner",
        apply: |f| set(f, "x-amz-meta-owner", "mallory"),
    },
    Edit {
        what: "another key",
        apply: |f| set(f, "key", "videos/premium1"),
    },
    Edit {
        what: "no type",
        apply: |f| drop_field(f, "Content-Type"),
    },
    Edit {
        what: "no owner",
        apply: |f| drop_field(f, "x-amz-meta-owner"),
    },
    Edit {
        what: "an unsigned metadata field",
        apply: |f| f.push(("x-amz-meta-max-size".to_owned(), "1".to_owned())),
    },
    Edit {
        what: "a later date than the policy's",
        apply: |f| set(f, "x-amz-date", "20991231T000000Z"),
    },
    Edit {
        what: "a policy edited to allow any length",
        apply: |f| {
            use base64::Engine;
            let engine = base64::engine::general_purpose::STANDARD;
            let raw = engine.decode(field(f, "policy")).unwrap();
            let edited = String::from_utf8(raw)
                .unwrap()
                .replace("content-length-range", "content-length-rang");
            set(f, "policy", &engine.encode(edited));
        },
    },
];

#[tokio::test]
async fn every_edit_of_a_signed_form_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    for edit in &EDITS {
        let signed = s3_params(&app, "filename=a.mp4&type=video%2Fmp4").await;
        let mut fields = form_fields(&signed);
        let key = field(&fields, "key").to_owned();
        (edit.apply)(&mut fields);
        let url = signed["url"].as_str().unwrap();
        let response = app.s3_post_form(url, &fields, b"<script>x</script>").await;
        let status = response.status();
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
            "{}: {status} {}",
            edit.what,
            response.text().await.unwrap_or_default()
        );
        assert!(!stored(&app, &key).await, "{}", edit.what);
    }
    // "another key" named this one.
    assert!(!stored(&app, "videos/premium1").await);
}

#[tokio::test]
async fn an_expired_form_is_refused() {
    let app = spawn_app().await;
    // Signed as if it were two hours ago: the policy expired 1h45m ago.
    app.clock.set_offset_secs(-7200);
    let signed = s3_params(&app, "filename=a.mp4&type=video%2Fmp4").await;
    app.clock.set_offset_secs(0);
    let fields = form_fields(&signed);
    let url = signed["url"].as_str().unwrap();
    let response = app.s3_post_form(url, &fields, b"late").await;
    assert!(
        response.status() == StatusCode::FORBIDDEN || response.status() == StatusCode::BAD_REQUEST,
        "{}",
        response.status()
    );
    assert!(!stored(&app, field(&fields, "key")).await);
}

#[tokio::test]
async fn s3_params_refuses_what_may_not_be_uploaded_and_who_may_not_upload() {
    let app = spawn_app().await;
    let token = uploader(&app);
    for (path, code) in [
        (
            "/s3/params?filename=x.html&type=text%2Fhtml",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("/s3/params?filename=x.mp4", StatusCode::BAD_REQUEST),
        ("/s3/params?type=video%2Fmp4", StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = app.call(reqwest::Method::GET, path, &token, None).await;
        assert_eq!(status, code, "{path}");
    }
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            "/s3/params?filename=a.mp4&type=video%2Fmp4",
            &app.token("bob", &[], &[]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_completed_form_upload_is_not_replaced_through_its_own_form() {
    let app = spawn_app().await;
    let signed = s3_params(&app, "filename=a.mp4&type=video%2Fmp4").await;
    upload_complete_and_play(&app, &signed, b"the verified bytes").await;
    let fields = form_fields(&signed);
    let url = signed["url"].as_str().unwrap();
    let again = app.s3_post_form(url, &fields, b"other bytes").await;
    let profile = profile();
    assert_eq!(
        again.status(),
        profile.form_posted_again,
        "{}",
        profile.name
    );
    if profile.form_posted_again == StatusCode::PRECONDITION_FAILED {
        let id = id_of(&app, &fields);
        let url = app.granted_url(&id, &uploader(&app)).await;
        let served = app.fetch(&url).await.bytes().await.unwrap();
        assert_eq!(served.as_ref(), b"the verified bytes");
    }
}

#[tokio::test]
async fn a_form_lives_at_most_form_max_expires_secs() {
    let app = spawn_app().await;
    let signed = s3_params(&app, "filename=a.mp4&type=video%2Fmp4").await;
    let left = form_secs_left(&signed);
    let max = app.settings.presign.form_max_expires_secs;
    assert!(max < app.settings.presign.put_max_expires_secs);
    assert!((max - 5..=max).contains(&left), "{left} s left of {max}");
}

/// s3s reads a form before anything checks it: the embedded store bounds what it reads.
#[tokio::test]
async fn the_embedded_store_refuses_oversized_forms_before_checking_them() {
    if external_store().is_some() {
        return;
    }
    let app = spawn_app().await;
    let url = format!("{}/{}", app.store_endpoint, app.settings.storage.bucket);
    let many: Vec<(String, String)> = (0..40)
        .map(|i| (format!("x-ignore-{i}"), "v".to_owned()))
        .collect();
    let big = vec![("x-ignore-big".to_owned(), "v".repeat(9 * 1024))];
    for (fields, what) in [(many, "40 fields"), (big, "a 9 KiB field")] {
        let response = app.s3_post_form(&url, &fields, b"x").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
    }
}

/// s3s 0.14's form parser refused an upload whose file arrived in a chunk ending with `\r`
/// (the start of a boundary, maybe) followed by one of more than 64 KiB: video bytes hold `\r`
/// everywhere, so where TCP split a browser's upload decided it.
#[tokio::test]
async fn a_form_split_by_the_network_after_a_carriage_return_is_stored() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let signed = s3_sign_put(&app).await;
    let url = reqwest::Url::parse(signed["url"].as_str().unwrap()).unwrap();
    let boundary = "XBOUNDARYX";
    let mut head = String::new();
    for (name, value) in form_fields(&signed) {
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    head.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n"
    ));
    let mut first = vec![b'a'; 3_000_000];
    *first.last_mut().unwrap() = b'\r';
    let second = vec![b'b'; 200_000];
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() + first.len() + second.len() + tail.len();
    let request_head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        url.path(),
        url.authority()
    );
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.set_nodelay(true).unwrap();
    socket.write_all(request_head.as_bytes()).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&first).await.unwrap();
    socket.flush().await.unwrap();
    // Let the store read everything up to the `\r` before the rest arrives.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    socket.write_all(&second).await.unwrap();
    socket.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    let fields = form_fields(&signed);
    let id = id_of(&app, &fields);
    let url = app.granted_url(&id, &uploader(&app)).await;
    let stored = app.fetch(&url).await.bytes().await.unwrap();
    assert_eq!(stored.len(), first.len() + second.len());
    assert!(stored.ends_with(&second) && stored.starts_with(&first));
}
