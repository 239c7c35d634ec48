//! `/metrics`: Prometheus's text, without a token, counting what tollgate does; on
//! `server.admin_port` when set, and then not on the API's port.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Meta, TestApp, spawn_app, spawn_app_with};

/// The value of the sample `name{labels}` (the whole line's start), 0 when absent.
pub(crate) fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

pub(crate) async fn scrape(app: &TestApp, base: &str) -> String {
    let response = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        response.headers()
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_urls_decisions_store_calls_and_cache_lookups() {
    let app = spawn_app().await;
    app.put_video("v1", b"x", Meta::tier("premium")).await;
    let bob = app.token("bob", &["premium"], &[]);
    let before = scrape(&app, &app.address).await;

    for _ in 0..2 {
        assert_eq!(app.video_url("v1", &bob).await.0, StatusCode::OK);
    }
    let alice = app.token("alice", &[], &[]);
    assert_eq!(app.video_url("v1", &alice).await.0, StatusCode::FORBIDDEN);
    let uploader = app.token("ursula", &[], &["uploader"]);
    let (status, _) = app
        .post_uploads(&uploader, &json!({"content_type": "video/mp4", "size": 5}))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let after = scrape(&app, &app.address).await;
    // The registry is the process's, shared by the tests running beside this one: at least
    // this test's own counts were added.
    let grew = |series: &str, by: f64| {
        let delta = sample(&after, series) - sample(&before, series);
        assert!(delta >= by, "{series} grew by {delta}, not {by}:\n{after}");
    };
    grew(
        r#"tollgate_http_requests_total{route="/videos/{id}/url",method="GET",status="200"}"#,
        2.0,
    );
    grew(
        r#"tollgate_http_requests_total{route="/videos/{id}/url",method="GET",status="403"}"#,
        1.0,
    );
    grew(r#"tollgate_urls_issued_total{operation="get_object"}"#, 2.0);
    grew(r#"tollgate_urls_issued_total{operation="put_object"}"#, 1.0);
    grew(
        r#"tollgate_decisions_total{action="playback_url",decision="granted",code=""}"#,
        2.0,
    );
    grew(
        r#"tollgate_decisions_total{action="playback_url",decision="refused",code="not_entitled"}"#,
        1.0,
    );
    grew(
        r#"tollgate_decisions_total{action="upload",decision="granted",code=""}"#,
        1.0,
    );
    // The first lookup of v1 asked the store; the next ones were cache hits.
    grew(
        r#"tollgate_store_requests_total{operation="head_object",outcome="ok"}"#,
        1.0,
    );
    grew(
        r#"tollgate_cache_lookups_total{cache="metadata",result="hit"}"#,
        2.0,
    );
    grew(
        r#"tollgate_cache_lookups_total{cache="token",result="hit"}"#,
        1.0,
    );
    // Each granted playback asked the shared state (revocation) once.
    grew(r#"tollgate_state_calls_total{result="ok"}"#, 2.0);
    assert!(
        after.contains(r#"tollgate_http_request_duration_seconds_bucket{le="#),
        "latency histogram:\n{after}"
    );
    assert!(after.contains("tollgate_store_request_duration_seconds_bucket"));
    assert!(
        after.ends_with("# EOF\n"),
        "a complete OpenMetrics exposition"
    );
    // Never a token, a subject or a URL in a label.
    for secret in [bob.as_str(), "bob", "X-Amz-Signature"] {
        assert!(!after.contains(secret), "{secret} in /metrics");
    }
}

/// Any token is a method to hyper: a client inventing methods must not invent series.
#[tokio::test]
async fn invented_methods_share_one_label_and_add_no_series() {
    let app = spawn_app().await;
    let methods = ["BREW", "PROPFIND", "X-TOLLGATE-1", "X-TOLLGATE-2"];
    for method in methods {
        let response = app
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}/videos/v1/url", app.address),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
    }
    let text = scrape(&app, &app.address).await;
    for method in methods {
        assert!(!text.contains(method), "{method} became a label:\n{text}");
    }
    assert!(
        sample(
            &text,
            r#"tollgate_http_requests_total{route="/videos/{id}/url",method="other",status="405"}"#
        ) >= 4.0,
        "{text}"
    );
}

#[tokio::test]
async fn with_an_admin_port_metrics_are_there_and_not_on_the_api_port() {
    let app = spawn_app_with(|s| s.server.admin_port = Some(0)).await;
    let admin = app.admin_address.clone().expect("an admin address");
    assert_ne!(admin, app.address);
    scrape(&app, &admin).await;
    let health = app
        .http
        .get(format!("{admin}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let other = app
        .http
        .get(format!("{admin}/videos/v1/url"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/metrics", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_grafana_dashboard_asks_only_for_metrics_tollgate_exposes() {
    // A family is scraped only once it has a sample, which depends on what ran before in this
    // process: the dashboard is held to the registered families, and what a scrape shows to
    // those too.
    let registered = tollgate::metrics::Metrics::global().families();
    let app = spawn_app().await;
    let text = scrape(&app, &app.address).await;
    for scraped in text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
    {
        assert!(
            registered.iter().any(|r| r == scraped),
            "{scraped} is not in Metrics::families(): {registered:?}"
        );
    }
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana-dashboard.json"
    ))
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !word.starts_with("tollgate_") {
                    continue;
                }
                let family = ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| word.strip_suffix(suffix))
                    .unwrap_or(word);
                asked += 1;
                assert!(
                    registered.iter().any(|r| r == family),
                    "{word} in the dashboard is not a tollgate metric: {registered:?}"
                );
            }
        }
    }
    // Every family has a panel.
    for family in registered {
        assert!(
            dashboard.to_string().contains(family.as_str()),
            "{family} has no panel"
        );
    }
    assert!(asked >= 14, "{asked}");
}
