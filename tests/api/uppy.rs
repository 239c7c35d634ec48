//! Uppy `@uppy/aws-s3` 4.x: the Companion-style `/s3/*` routes, as the client calls them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, form_fields, form_secs_left, spawn_app};

const MIB: usize = 1024 * 1024;

/// A query value, percent-encoded.
pub(crate) fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn a_multipart_upload_through_the_4x_routes_plays_back_byte_exact() {
    let app = spawn_app().await;
    let token = app.token("ursula", &[], &["uploader"]);
    let body: Vec<u8> = (0..6 * MIB).map(|i| (i % 241) as u8).collect();

    // createMultipartUpload
    let (status, created) = app.call(reqwest::Method::POST,
        "/s3/multipart",
        &token,
        Some(json!({ "filename": "big trip.mp4", "type": "video/mp4", "metadata": { "name": "big trip.mp4" } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let upload_id = created["uploadId"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&app.settings.storage.key_prefix), "{key}");
    let (q_key, q_upload) = (encode(&key), encode(&upload_id));

    // signPart + the PUT the client makes, for 5 MiB and 1 MiB.
    let mut parts = Vec::new();
    for (index, chunk) in body.chunks(5 * MIB).enumerate() {
        let number = index + 1;
        let path = format!("/s3/multipart/{q_upload}/{number}?key={q_key}");
        let (status, signed) = app.call(reqwest::Method::GET, &path, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{signed}");
        assert_eq!(signed["expires"], 900);
        let response = app
            .http
            .put(signed["url"].as_str().unwrap())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(json!({ "PartNumber": number, "ETag": etag }));
    }

    // listParts
    let (status, listed) = app
        .call(
            reqwest::Method::GET,
            &format!("/s3/multipart/{q_upload}?key={q_key}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let sizes: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [5 * MIB as u64, MIB as u64]);

    // Another user holding the key and uploadId is refused.
    let mallory = app.token("mallory", &[], &["uploader"]);
    let (status, answer) = app
        .call(
            reqwest::Method::GET,
            &format!("/s3/multipart/{q_upload}/1?key={q_key}"),
            &mallory,
            None,
        )
        .await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
    // Companion's error shape, which @uppy/companion-client shows to the user.
    assert_eq!(answer["message"], answer["error"]["message"], "{answer}");
    assert!(
        answer["requestId"]
            .as_str()
            .is_some_and(|id| id.len() == 36),
        "{answer}"
    );

    // completeMultipartUpload
    let (status, done) = app
        .call(
            reqwest::Method::POST,
            &format!("/s3/multipart/{q_upload}/complete?key={q_key}"),
            &token,
            Some(json!({ "parts": parts })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["key"], key);

    let id = key.strip_prefix(&app.settings.storage.key_prefix).unwrap();
    let url = app.granted_url(id, &token).await;
    let fetched = app.fetch(&url).await.bytes().await.unwrap();
    assert!(fetched.as_ref() == body.as_slice(), "byte-exact");
}

pub(crate) fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].to_owned())
}

#[tokio::test]
async fn a_multipart_upload_through_s3_sign_plays_back_byte_exact() {
    let app = spawn_app().await;
    let token = app.token("ursula", &[], &["uploader"]);
    let body: Vec<u8> = (0..6 * MIB).map(|i| (i % 239) as u8).collect();

    // CreateMultipartUpload: tollgate picks the key and signs owner and tier into the request.
    let (status, signed) = app
        .s3_sign(
            &token,
            json!({"method": "POST", "key": "uploads/big.mp4", "contentType": "video/mp4"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let key = signed["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&app.settings.storage.key_prefix), "{key}");
    assert_eq!(signed["headers"]["x-amz-meta-owner"], "ursula");
    let created = app
        .s3_call(reqwest::Method::POST, &signed, Vec::new())
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let upload_id = xml_value(&created.text().await.unwrap(), "UploadId").expect("UploadId");

    // Another user holding key and uploadId gets nothing signed.
    let mallory = app.token("mallory", &[], &["uploader"]);
    let part = json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1});
    let (status, answer) = app.s3_sign(&mallory, part.clone()).await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");

    // UploadPart ×2.
    let mut completion = String::from("<CompleteMultipartUpload>");
    for (index, chunk) in body.chunks(5 * MIB).enumerate() {
        let number = index + 1;
        let (status, signed) = app
            .s3_sign(
                &token,
                json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": number}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{signed}");
        let response = app
            .s3_call(reqwest::Method::PUT, &signed, chunk.to_vec())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        completion.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    completion.push_str("</CompleteMultipartUpload>");

    // ListParts, then CompleteMultipartUpload with S3's XML.
    let (_, signed) = app
        .s3_sign(
            &token,
            json!({"method": "GET", "key": key, "uploadId": upload_id}),
        )
        .await;
    let listed = app.s3_call(reqwest::Method::GET, &signed, Vec::new()).await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert!(
        listed
            .text()
            .await
            .unwrap()
            .contains("<PartNumber>2</PartNumber>")
    );
    let (_, signed) = app
        .s3_sign(
            &token,
            json!({"method": "POST", "key": key, "uploadId": upload_id}),
        )
        .await;
    let done = app
        .s3_call(reqwest::Method::POST, &signed, completion.into_bytes())
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    // Uppy 6.x fails a completion whose result lacks either.
    let result = done.text().await.unwrap();
    assert_eq!(
        xml_value(&result, "Key").as_deref(),
        Some(key.as_str()),
        "{result}"
    );
    assert!(xml_value(&result, "Location").is_some(), "{result}");

    let id = key.strip_prefix(&app.settings.storage.key_prefix).unwrap();
    let url = app.granted_url(id, &token).await;
    let fetched = app.fetch(&url).await.bytes().await.unwrap();
    assert!(fetched.as_ref() == body.as_slice(), "byte-exact");
}

#[tokio::test]
async fn s3_sign_covers_put_object_and_abort_and_refuses_the_rest() {
    let app = spawn_app().await;
    let token = app.token("ursula", &[], &["uploader"]);

    // PutObject is a form; Uppy 6.x may ask for a shorter lifetime.
    let (status, signed) = app.s3_sign(&token,
        json!({"method": "PUT", "key": "clip.mp4", "contentType": "video/mp4", "expiresIn": 60}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let fields = form_fields(&signed);
    let left = form_secs_left(&signed);
    assert!((55..=60).contains(&left), "{left} s left");
    let url = signed["url"].as_str().unwrap();
    let response = app.s3_post_form(url, &fields, b"clip").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let id = signed["key"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.settings.storage.key_prefix)
        .unwrap()
        .to_owned();
    let url = app.granted_url(&id, &token).await;
    assert_eq!(
        app.fetch(&url).await.bytes().await.unwrap().as_ref(),
        b"clip"
    );

    let (_, signed) = app
        .s3_sign(
            &token,
            json!({"method": "POST", "key": "x.mp4", "contentType": "video/mp4"}),
        )
        .await;
    let key = signed["key"].as_str().unwrap().to_owned();
    let created = app
        .s3_call(reqwest::Method::POST, &signed, Vec::new())
        .await;
    let upload_id = xml_value(&created.text().await.unwrap(), "UploadId").unwrap();
    let (_, signed) = app
        .s3_sign(
            &token,
            json!({"method": "DELETE", "key": key, "uploadId": upload_id}),
        )
        .await;
    assert!(
        app.s3_call(reqwest::Method::DELETE, &signed, Vec::new())
            .await
            .status()
            .is_success()
    );

    for (request, expected) in [
        (
            json!({"method": "PUT", "key": "a.html", "contentType": "text/html"}),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        // No type, and none a file extension tells.
        (
            json!({"method": "PUT", "key": "a"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"method": "POST", "key": "uploads/a.bin"}),
            StatusCode::BAD_REQUEST,
        ),
        // An extension that names no media type; one that names a type not allowed here.
        (
            json!({"method": "POST", "key": "a.html"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"method": "POST", "key": "a.flac"}),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            json!({"method": "PATCH", "key": key, "uploadId": upload_id}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"method": "GET", "key": "videos/someone-elses", "uploadId": "u"}),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"method": "PUT", "key": "a.mp4", "contentType": "video/mp4", "bucket": "other"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = app.s3_sign(&token, request.clone()).await;
        assert_eq!(status, expected, "{request} → {answer}");
    }
    let (status, _) = app
        .s3_sign(
            &app.token("bob", &[], &[]),
            json!({"method": "PUT", "key": "a.mp4", "contentType": "video/mp4"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// What `@uppy/aws-s3` 6.3.1 does: it signs CreateMultipartUpload with `{method, key}` only and
/// sends the file's type as the create request's `Content-Type`, unless the signer returns one.
#[tokio::test]
async fn a_6x_create_without_a_type_gets_the_type_its_file_name_tells_signed_in() {
    let app = spawn_app().await;
    let token = app.token("ursula", &[], &["uploader"]);
    let (status, signed) = app
        .s3_sign(&token, json!({"method": "POST", "key": "1f3a-holiday.MOV"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    assert_eq!(signed["headers"]["content-type"], "video/quicktime");

    // The client's own header would be another type: the signed one is the only one accepted.
    let mut forged = signed.clone();
    forged["headers"]["content-type"] = json!("text/html");
    let refused = app
        .s3_call(reqwest::Method::POST, &forged, Vec::new())
        .await;
    assert!(refused.status().is_client_error(), "{}", refused.status());

    let created = app
        .s3_call(reqwest::Method::POST, &signed, Vec::new())
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let upload_id = xml_value(&created.text().await.unwrap(), "UploadId").unwrap();
    let key = signed["key"].as_str().unwrap().to_owned();

    // One (last, so small) part, completed by the client at the store: the object has the type.
    let sign = |request: Value| app.s3_sign(&token, request);
    let (_, part) =
        sign(json!({"method": "PUT", "key": key, "uploadId": upload_id, "partNumber": 1})).await;
    let uploaded = app
        .s3_call(reqwest::Method::PUT, &part, b"moov".to_vec())
        .await;
    let etag = uploaded.headers()["etag"].to_str().unwrap().to_owned();
    let (_, complete) = sign(json!({"method": "POST", "key": key, "uploadId": upload_id})).await;
    let xml = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let done = app
        .s3_call(reqwest::Method::POST, &complete, xml.into_bytes())
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let id = key.strip_prefix(&app.settings.storage.key_prefix).unwrap();
    let (status, verified) = app.complete_upload(id, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["content_type"], "video/quicktime");
}

#[tokio::test]
async fn aborting_through_the_4x_route_leaves_no_object() {
    let app = spawn_app().await;
    let token = app.token("ursula", &[], &["uploader"]);
    let (_, created) = app
        .call(
            reqwest::Method::POST,
            "/s3/multipart",
            &token,
            Some(json!({ "filename": "a.mp4", "type": "video/mp4", "metadata": {} })),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let (q_key, q_upload) = (encode(&key), encode(created["uploadId"].as_str().unwrap()));
    let path = format!("/s3/multipart/{q_upload}?key={q_key}");
    let (status, answer) = app
        .call(
            reqwest::Method::DELETE,
            &path,
            &app.token("mallory", &[], &["uploader"]),
            None,
        )
        .await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
    let (status, answer) = app.call(reqwest::Method::DELETE, &path, &token, None).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({})));
    let head = app
        .s3
        .head_object()
        .bucket(&app.settings.storage.bucket)
        .key(&key)
        .send()
        .await;
    assert!(head.is_err(), "no object after abort");
}
