//! What a hostile client does with the URLs tollgate hands out, not only what tollgate signs.
//!
//! The finding: an upload URL sent with one extra, unsigned header `x-amz-copy-source` became
//! CopyObject (UploadPartCopy for a part URL) on s3s-fs, run with the signer's permissions, and
//! the copy kept the attacker's signed owner and tier: a read of any object. Two defences, each
//! tested alone: the store refuses unsigned `x-amz-*` headers and copies (AWS and Garage do; the
//! embedded store now does), and upload URLs are signed by a key that cannot read, so that even
//! a store that executes the copy cannot read the source with it.

use aws_sdk_s3::primitives::ByteStream;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Keys, Meta, Options, TestApp, external_store, form_fields, profile, spawn_app_opts,
};

const MIB: usize = 1024 * 1024;
const SECRET: &[u8] = b"alice's premium video: nobody else may read these bytes";

/// An app whose multipart threshold and part size are S3's minimum part (5 MiB), with alice's
/// premium video seeded as `premium1`.
async fn app_with_a_secret(options: Options) -> TestApp {
    let app = spawn_app_opts(options, |s| {
        s.uploads.multipart_threshold_bytes = 5 * MIB as u64;
        s.uploads.part_size_bytes = 5 * MIB as u64;
    })
    .await;
    app.put_video(
        "premium1",
        SECRET,
        Meta {
            access: Some("premium"),
            owner: Some("alice"),
        },
    )
    .await;
    app
}

fn mallory(app: &TestApp) -> String {
    app.token("mallory", &[], &["uploader"])
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = app.call(method, path, &mallory(app), body).await;
    assert!(status.is_success(), "{path}: {answer}");
    answer
}

/// Sends a signed request as tollgate handed it out (URL, signed headers, a body of the signed
/// length), plus `x-amz-copy-source` naming alice's video and `x-amz-metadata-directive:
/// REPLACE`, neither of them signed.
async fn with_copy_source(
    app: &TestApp,
    method: reqwest::Method,
    url: &str,
    headers: &Value,
    body: Vec<u8>,
) -> StatusCode {
    let source = format!("{}/{}", app.settings.storage.bucket, app.key("premium1"));
    let mut request = app.http.request(method, url).body(body);
    for (name, value) in headers.as_object().into_iter().flatten() {
        if !matches!(name.as_str(), "content-length" | "host") {
            request = request.header(name, value.as_str().unwrap());
        }
    }
    let sent = request
        .header("x-amz-copy-source", source)
        .header("x-amz-metadata-directive", "REPLACE")
        .send()
        .await;
    match sent {
        Ok(response) => response.status(),
        // Garage answers 400 from the headers alone and closes the connection while a large
        // body is still being sent: the client sees a broken pipe, never the status. What
        // counts, that nothing was copied, is checked by the caller.
        Err(e) if profile().refuses_before_reading_the_body && e.is_request() => {
            profile().unsigned_amz_header
        }
        Err(e) => panic!("{e}"),
    }
}

/// The source's bytes are not readable under `key`: no object, or not those bytes; and no part
/// of `upload_id` holds them.
async fn nothing_copied(app: &TestApp, key: &str, upload_id: Option<&str>, what: &str) {
    let bucket = &app.settings.storage.bucket;
    if let Ok(object) = app.s3.get_object().bucket(bucket).key(key).send().await {
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert_ne!(&bytes[..], SECRET, "{what}: the source was copied");
    }
    if let Some(upload_id) = upload_id {
        let parts = app
            .s3
            .list_parts()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .unwrap();
        assert!(parts.parts().is_empty(), "{what}: a part was copied");
    }
    // And tollgate serves nothing under the attacker's id.
    let id = key.trim_start_matches(&app.settings.storage.key_prefix);
    let (status, body) = app.video_url(id, &mallory(app)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
}

/// A form upload (POST policy) sent with the same unsigned headers. A form is PostObject, never
/// a copy, whatever its headers say: a store either refuses the header (the embedded store, as
/// for any unsigned `x-amz-*` header) or stores the form's own bytes, and never the source's.
async fn form_with_copy_source(app: &TestApp, signed: &Value, expected: StatusCode, what: &str) {
    let fields = form_fields(signed);
    let key = fields
        .iter()
        .find(|(name, _)| name == "key")
        .unwrap()
        .1
        .clone();
    let source = format!("{}/{}", app.settings.storage.bucket, app.key("premium1"));
    let own = b"mallory's own bytes";
    let headers = [
        ("x-amz-copy-source", source.as_str()),
        ("x-amz-metadata-directive", "REPLACE"),
    ];
    let url = signed["url"].as_str().unwrap();
    let what_store = profile().name;
    let response = app
        .s3_post_form_with_headers(url, &fields, own, &headers)
        .await;
    assert_eq!(response.status(), expected, "{what} on {what_store}");
    if expected.is_client_error() {
        // A form has no signed headers: naming some in the query does not make them signed.
        let claimed = format!(
            "{url}?X-Amz-SignedHeaders=host%3Bx-amz-copy-source%3Bx-amz-metadata-directive"
        );
        let response = app
            .s3_post_form_with_headers(&claimed, &fields, own, &headers)
            .await;
        assert_eq!(
            response.status(),
            expected,
            "{what} on {what_store}: {claimed}"
        );
    }
    let bucket = &app.settings.storage.bucket;
    if let Ok(object) = app.s3.get_object().bucket(bucket).key(&key).send().await {
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(&bytes[..], own, "{what}: the object is not the form's");
    }
}

/// Each kind of upload URL tollgate hands out, each sent with `x-amz-copy-source`: the status
/// the store answered, and what to check afterwards. `expected` is what a refusing store says.
async fn attack_every_upload_url(app: &TestApp, expected: StatusCode, lenient_store: bool) {
    use reqwest::Method;
    let declaration = |size: usize| json!({"content_type": "video/mp4", "size": size});
    let what_store = profile().name;
    // A form is never a copy: a lenient store stores it; a strict one refuses the header.
    let form_expected = if lenient_store {
        StatusCode::NO_CONTENT
    } else {
        profile().form_with_unsigned_amz_header
    };

    // POST /uploads: one PUT URL, its exact length signed.
    let created = call(
        app,
        Method::POST,
        "/uploads",
        Some(declaration(SECRET.len())),
    )
    .await;
    let status = with_copy_source(
        app,
        Method::PUT,
        created["url"].as_str().unwrap(),
        &created["headers"],
        vec![b'x'; SECRET.len()],
    )
    .await;
    assert_eq!(status, expected, "POST /uploads URL on {what_store}");
    nothing_copied(app, created["key"].as_str().unwrap(), None, "POST /uploads").await;

    // POST /uploads above the threshold: a part URL.
    let created = call(app, Method::POST, "/uploads", Some(declaration(6 * MIB))).await;
    let (id, upload_id) = (
        created["id"].as_str().unwrap(),
        created["upload_id"].as_str().unwrap(),
    );
    let part = call(
        app,
        Method::GET,
        &format!("/uploads/{id}/parts/1?upload_id={upload_id}"),
        None,
    )
    .await;
    let status = with_copy_source(
        app,
        Method::PUT,
        part["url"].as_str().unwrap(),
        &part["headers"],
        vec![b'x'; 5 * MIB],
    )
    .await;
    assert_eq!(status, expected, "/uploads part URL on {what_store}");
    let key = created["key"].as_str().unwrap();
    nothing_copied(app, key, Some(upload_id), "/uploads part").await;

    // Uppy 4.x: GET /s3/params, a form upload.
    let params = call(
        app,
        Method::GET,
        "/s3/params?filename=a.mp4&type=video/mp4",
        None,
    )
    .await;
    form_with_copy_source(app, &params, form_expected, "/s3/params form").await;

    // Uppy 4.x: a part URL of /s3/multipart.
    let multipart = call(
        app,
        Method::POST,
        "/s3/multipart",
        Some(json!({"filename": "a.mp4", "type": "video/mp4", "metadata": {}})),
    )
    .await;
    let (key, upload_id) = (
        multipart["key"].as_str().unwrap(),
        multipart["uploadId"].as_str().unwrap(),
    );
    let part = call(
        app,
        Method::GET,
        &format!("/s3/multipart/{}/1?key={}", encode(upload_id), encode(key)),
        None,
    )
    .await;
    let status = with_copy_source(
        app,
        Method::PUT,
        part["url"].as_str().unwrap(),
        &Value::Null,
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, expected, "/s3/multipart part URL on {what_store}");
    nothing_copied(app, key, Some(upload_id), "/s3/multipart part").await;

    // Uppy 6.x: POST /s3/sign for PutObject (a form), CreateMultipartUpload and UploadPart.
    let signed = call(
        app,
        Method::POST,
        "/s3/sign",
        Some(json!({"method": "PUT", "key": "a.mp4", "contentType": "video/mp4"})),
    )
    .await;
    form_with_copy_source(app, &signed, form_expected, "/s3/sign PutObject form").await;

    let create = call(
        app,
        Method::POST,
        "/s3/sign",
        Some(json!({"method": "POST", "key": "a.mp4", "contentType": "video/mp4"})),
    )
    .await;
    let status = with_copy_source(
        app,
        Method::POST,
        create["url"].as_str().unwrap(),
        &create["headers"],
        Vec::new(),
    )
    .await;
    // Not a copy: a lenient store creates an upload (harmless), a strict one refuses.
    assert!(
        status.is_client_error() || (lenient_store && status.is_success()),
        "/s3/sign CreateMultipartUpload on {what_store}: {status}"
    );
    // A multipart upload of mallory's own, through tollgate, for the UploadPart URL.
    let key = multipart["key"].as_str().unwrap();
    let upload_id = multipart["uploadId"].as_str().unwrap();
    let part = call(
        app,
        Method::POST,
        "/s3/sign",
        Some(json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 2})),
    )
    .await;
    let status = with_copy_source(
        app,
        Method::PUT,
        part["url"].as_str().unwrap(),
        &part["headers"],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, expected, "/s3/sign UploadPart on {what_store}");
    nothing_copied(app, key, Some(upload_id), "/s3/sign part").await;
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn every_upload_url_with_an_unsigned_copy_source_is_refused_by_the_store() {
    // One read-write key: the store's own refusal is all that stands in the way here.
    let app = app_with_a_secret(Options {
        keys: Keys::Single,
        ..Options::default()
    })
    .await;
    attack_every_upload_url(&app, profile().unsigned_amz_header, false).await;
}

#[tokio::test]
async fn with_a_store_that_copies_the_upload_key_alone_cannot_read_the_source() {
    if external_store().is_some() {
        // The lenient store is s3s-fs as it ships; an external store is what it is. There, the
        // same defence is shown by `the_upload_key_cannot_copy_even_with_a_signed_request`.
        return;
    }
    let app = app_with_a_secret(Options {
        lenient_store: true,
        ..Options::default()
    })
    .await;
    // s3s-fs executes the unsigned copy, with the upload key, which may not read: 403.
    attack_every_upload_url(&app, StatusCode::FORBIDDEN, true).await;
}

#[tokio::test]
async fn with_a_store_that_copies_and_one_read_write_key_the_attack_reads_the_source() {
    // The finding as it was (s3s-fs's leniency and one read-write key), kept as the proof that
    // the two tests above detect it.
    if external_store().is_some() {
        return;
    }
    let app = app_with_a_secret(Options {
        lenient_store: true,
        keys: Keys::Single,
        ..Options::default()
    })
    .await;
    let created = call(
        &app,
        reqwest::Method::POST,
        "/uploads",
        Some(json!({"content_type": "video/mp4", "size": SECRET.len(), "access": "free"})),
    )
    .await;
    let status = with_copy_source(
        &app,
        reqwest::Method::PUT,
        created["url"].as_str().unwrap(),
        &created["headers"],
        vec![b'x'; SECRET.len()],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let copied = app
        .s3
        .get_object()
        .bucket(&app.settings.storage.bucket)
        .key(created["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let bytes = copied.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..], SECRET);
}

#[tokio::test]
async fn the_upload_key_cannot_copy_even_with_a_signed_request() {
    let app = app_with_a_secret(Options::default()).await;
    let upload_key = crate::helpers::s3_client(
        &app.settings.storage.region,
        &app.store_endpoint,
        &app.store_keys.write_only,
    );
    let bucket = &app.settings.storage.bucket;
    let target = app.key("copied-by-upload-key");
    // The same key may write: the refusal below is about reading the source.
    upload_key
        .put_object()
        .bucket(bucket)
        .key(app.key("written-by-upload-key"))
        .body(ByteStream::from_static(b"ok"))
        .send()
        .await
        .expect("the upload key writes");
    let copy = upload_key
        .copy_object()
        .bucket(bucket)
        .key(&target)
        .copy_source(format!("{bucket}/{}", app.key("premium1")))
        .send()
        .await;
    let status = copy
        .as_ref()
        .err()
        .and_then(|e| e.raw_response())
        .map(|r| r.status().as_u16());
    assert_eq!(status, Some(403), "{}: {copy:?}", profile().name);
    nothing_copied(&app, &target, None, "signed CopyObject").await;
}

#[tokio::test]
async fn cargo_runs_own_store_has_two_keys_and_refuses_the_copy() {
    if external_store().is_some() {
        return;
    }
    // tollgate's own embedded store as `cargo run` starts it from config/local.toml.
    let app = app_with_a_secret(Options {
        own_store: true,
        ..Options::default()
    })
    .await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["checks"]["upload_key_can_read"],
        json!({"status": "ok", "can_read": false}),
        "{body}"
    );
    // The upload key seeded alice's video; it cannot read it back.
    let read = app
        .s3
        .get_object()
        .bucket(&app.settings.storage.bucket)
        .key(app.key("premium1"))
        .send()
        .await;
    assert_eq!(
        read.err()
            .and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
        Some(403)
    );

    let created = call(
        &app,
        reqwest::Method::POST,
        "/uploads",
        Some(json!({"content_type": "video/mp4", "size": SECRET.len()})),
    )
    .await;
    let status = with_copy_source(
        &app,
        reqwest::Method::PUT,
        created["url"].as_str().unwrap(),
        &created["headers"],
        vec![b'x'; SECRET.len()],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // alice's video plays for alice, through the read key's URL.
    let url = app
        .granted_url("premium1", &app.token("alice", &[], &[]))
        .await;
    let fetched = app.fetch(&url).await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(&fetched.bytes().await.unwrap()[..], SECRET);
}
