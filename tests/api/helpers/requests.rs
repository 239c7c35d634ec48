//! One method per endpoint, so that test files never build requests by hand.

use axum::http::StatusCode;
use serde_json::Value;

use super::TestApp;

impl TestApp {
    /// A request to the API with a bearer token and an optional JSON body.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    /// As [`TestApp::request`]: the status and the JSON answer (`null` when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let response = self.request(method, path, token, body).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /admin/revocations`.
    pub async fn revoke(&self, admin_token: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::POST,
            "/admin/revocations",
            admin_token,
            Some(body),
        )
        .await
    }

    /// `GET` or `DELETE /admin/revocations/{kind}/{id}`.
    pub async fn revocation(
        &self,
        method: reqwest::Method,
        admin_token: &str,
        kind: &str,
        id: &str,
    ) -> (StatusCode, Value) {
        let path = format!("/admin/revocations/{kind}/{id}");
        self.call(method, &path, admin_token, None).await
    }

    /// `GET /admin/subjects/{sub}?tiers=…`.
    pub async fn admin_subject(
        &self,
        admin_token: &str,
        sub: &str,
        tiers: &str,
    ) -> (StatusCode, Value) {
        let path = format!("/admin/subjects/{sub}?tiers={tiers}");
        self.call(reqwest::Method::GET, &path, admin_token, None)
            .await
    }

    /// `GET /videos/{id}/url?session=…`: the whole response, headers included.
    pub async fn video_url_in_session(
        &self,
        id: &str,
        token: &str,
        session: &str,
    ) -> reqwest::Response {
        self.get(&format!("/videos/{id}/url?session={session}"), Some(token))
            .await
    }

    /// `DELETE /videos/{id}/sessions/{session}`.
    pub async fn end_session(&self, id: &str, token: &str, session: &str) -> (StatusCode, Value) {
        let path = format!("/videos/{id}/sessions/{session}");
        self.call(reqwest::Method::DELETE, &path, token, None).await
    }

    /// `POST /uploads`.
    pub async fn post_uploads(&self, token: &str, declaration: &Value) -> (StatusCode, Value) {
        let body = Some(declaration.clone());
        self.call(reqwest::Method::POST, "/uploads", token, body)
            .await
    }

    /// `POST /uploads/{id}/complete`, with the multipart body when there is one.
    pub async fn complete_upload(
        &self,
        id: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let path = format!("/uploads/{id}/complete");
        self.call(reqwest::Method::POST, &path, token, body.cloned())
            .await
    }

    /// `POST /s3/sign` (Uppy 6.x `signRequest`).
    pub async fn s3_sign(&self, token: &str, request: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, "/s3/sign", token, Some(request))
            .await
    }

    /// Calls the store with a signed answer, as a client does: its URL, its headers, a body.
    pub async fn s3_call(
        &self,
        method: reqwest::Method,
        signed: &Value,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, signed["url"].as_str().expect("a signed url"))
            .body(body);
        for (name, value) in signed["headers"].as_object().into_iter().flatten() {
            request = request.header(name, value.as_str().expect("a header value"));
        }
        request.send().await.expect("store request")
    }

    /// A browser form upload (S3 POST policy), as a client makes it: `fields` in order, then
    /// the file as the last part, `multipart/form-data`, to `url`. Tests edit `fields` to play
    /// a hostile client.
    pub async fn s3_post_form(
        &self,
        url: &str,
        fields: &[(String, String)],
        file: &[u8],
    ) -> reqwest::Response {
        self.s3_post_form_with_headers(url, fields, file, &[]).await
    }

    /// As [`TestApp::s3_post_form`], with extra request headers.
    pub async fn s3_post_form_with_headers(
        &self,
        url: &str,
        fields: &[(String, String)],
        file: &[u8],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        const BOUNDARY: &str = "tollgate-test-form-boundary-7d1f";
        let mut body = Vec::with_capacity(file.len() + 4096);
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let mut request = self.http.post(url).header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body).send().await.expect("store request")
    }
}

/// The form fields of a signed answer (`fields`), in the order given.
pub fn form_fields(signed: &Value) -> Vec<(String, String)> {
    signed["fields"]
        .as_object()
        .expect("form fields")
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                value.as_str().expect("a field value").to_owned(),
            )
        })
        .collect()
}

/// Seconds the POST policy of a signed answer's form has left.
pub fn form_secs_left(signed: &Value) -> u64 {
    use base64::Engine;
    let fields = form_fields(signed);
    let encoded = &fields
        .iter()
        .find(|(name, _)| name == "policy")
        .expect("a policy")
        .1;
    let policy: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64"),
    )
    .expect("JSON");
    let expiration = humantime::parse_rfc3339(policy["expiration"].as_str().expect("expiration"))
        .expect("RFC 3339");
    expiration
        .duration_since(std::time::SystemTime::now())
        .map_or(0, |left| left.as_secs())
}
