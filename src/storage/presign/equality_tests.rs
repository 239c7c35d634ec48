//! The fast signer's URLs are aws-sdk-s3's, byte for byte: fixed cases for what tollgate signs
//! (session tokens, signed headers, response overrides, unicode and reserved characters in keys,
//! every addressing style) and a property test over random keys, times and header sets. For the
//! multipart operations the SDK cannot presign, the reference is aws-sigv4 signing the same
//! request on the SDK's endpoint (`sigv4.rs`): the same path, query and signature, with the
//! query parameters in aws-sigv4's order.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, IdentityCache, Region};
use proptest::prelude::*;

use super::fast::FastSigner;
use super::{ObjectRequest, PutObjectGrant, Signed, sdk, sdk_endpoint, sigv4};

const BUCKET: &str = "videos";

struct Pair {
    client: Client,
    fast: FastSigner,
    credentials: Credentials,
}

fn credentials(session_token: Option<&str>) -> Credentials {
    Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        session_token.map(str::to_owned),
        None,
        "test",
    )
}

async fn pair(
    endpoint: Option<&str>,
    path_style: bool,
    region: &str,
    credentials: Credentials,
) -> Pair {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials.clone())
        .identity_cache(IdentityCache::no_cache())
        .force_path_style(path_style);
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    let client = Client::from_conf(config.build());
    let fast = FastSigner::new(sdk_endpoint(&client, BUCKET).await.expect("endpoint"));
    Pair {
        client,
        fast,
        credentials,
    }
}

/// The embedded store's addressing, without a session token.
async fn local_pair() -> Pair {
    pair(
        Some("http://127.0.0.1:9000"),
        true,
        "us-east-1",
        credentials(None),
    )
    .await
}

/// The URL with its query parameters in one order (aws-sigv4 puts the session token before
/// the signature, the SDK after it).
fn query_sorted(mut signed: Signed) -> Signed {
    if let Some((base, query)) = signed.url.split_once('?') {
        let mut params: Vec<&str> = query.split('&').collect();
        params.sort_unstable();
        signed.url = format!("{base}?{}", params.join("&"));
    }
    signed
}

fn sorted(mut signed: Signed) -> Signed {
    signed.headers.sort();
    signed
}

impl Pair {
    async fn both(
        &self,
        request: &ObjectRequest<'_>,
        start: SystemTime,
        secs: u64,
    ) -> (Signed, Signed) {
        let fast = self
            .fast
            .presign(request, start, secs, &self.credentials)
            .expect("fast presign");
        if !request.sdk_can_presign() {
            let reference = sigv4::presign(
                self.fast.endpoint(),
                request,
                start,
                secs,
                &self.credentials,
            )
            .expect("aws-sigv4 presign");
            return (query_sorted(sorted(reference)), query_sorted(sorted(fast)));
        }
        let sdk = sdk::presign(&self.client, BUCKET, request, start, secs)
            .await
            .expect("sdk presign");
        (sorted(sdk), sorted(fast))
    }

    async fn assert_identical(&self, request: &ObjectRequest<'_>, start: SystemTime, secs: u64) {
        let (sdk, fast) = self.both(request, start, secs).await;
        assert_eq!(fast, sdk, "{request:?}");
    }
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

const KEYS: &[&str] = &[
    "videos/demo",
    "videos/vidéo d'été 日本語 🎬.mp4",
    "uploads/a b+c&d=e?f#g%h;i:j@k!l$m'(n)*o,p[q]r{s}t|u\\v^w`x\"y<z>~-._",
    "a//b/./../c",
    "/leading-slash",
    "tab\there",
];

fn requests<'a>(grant: &'a PutObjectGrant, key: &'a str) -> Vec<ObjectRequest<'a>> {
    vec![
        ObjectRequest::Get {
            key,
            content_disposition: None,
        },
        ObjectRequest::Get {
            key,
            content_disposition: Some(
                "attachment; filename=\"clip 1.mp4\"; filename*=UTF-8''clip%201%E2%9C%93.mp4",
            ),
        },
        ObjectRequest::Put { key, grant },
        ObjectRequest::UploadPart {
            key,
            upload_id: "2~abc+/=DEF_ghi.jkl-%20",
            part_number: 10_000,
            content_length: Some(16_777_216),
        },
        ObjectRequest::UploadPart {
            key,
            upload_id: "plain",
            part_number: 1,
            content_length: None,
        },
        ObjectRequest::CreateMultipart { key, grant },
        ObjectRequest::ListParts {
            key,
            upload_id: "2~abc+/=DEF_ghi.jkl-%20",
        },
        ObjectRequest::CompleteMultipart {
            key,
            upload_id: "2~abc+/=DEF_ghi.jkl-%20",
            if_none_match: true,
        },
        ObjectRequest::CompleteMultipart {
            key,
            upload_id: "plain",
            if_none_match: false,
        },
        ObjectRequest::AbortMultipart {
            key,
            upload_id: "plain",
        },
    ]
}

fn full_grant() -> PutObjectGrant {
    PutObjectGrant {
        content_type: "video/mp4; codecs=\"avc1.42E01E,  mp4a.40.2\"".to_owned(),
        content_length: Some(5_368_709_120),
        metadata: vec![
            ("access".to_owned(), "premium".to_owned()),
            ("owner".to_owned(), "  alice   smith ".to_owned()),
            ("filename".to_owned(), "clip%201%E2%9C%93.mp4".to_owned()),
        ],
        checksum_sha256: Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".to_owned()),
        if_none_match: true,
    }
}

#[tokio::test]
async fn fixed_cases_match_the_sdk_for_every_addressing_style_and_token() {
    let endpoints: &[(Option<&str>, bool, &str)] = &[
        (Some("http://127.0.0.1:9000"), true, "us-east-1"),
        (Some("http://localhost:3900"), false, "garage"),
        (Some("https://media.example.com:443"), true, "eu-west-3"),
        (Some("https://s3.example.com/base"), true, "us-east-1"),
        (None, false, "us-west-2"),
        (None, true, "ap-southeast-2"),
        (None, false, "us-east-1"),
    ];
    let tokens = [
        None,
        Some("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+token=="),
    ];
    let minimal = PutObjectGrant {
        content_type: "image/png".to_owned(),
        content_length: None,
        metadata: Vec::new(),
        checksum_sha256: None,
        if_none_match: false,
    };
    let grants = [full_grant(), minimal];
    let mut compared = 0;
    for (endpoint, path_style, region) in endpoints {
        for token in tokens {
            let pair = pair(*endpoint, *path_style, region, credentials(token)).await;
            for key in KEYS {
                for grant in &grants {
                    for request in requests(grant, key) {
                        for (start, secs) in [(at(1_795_000_000), 300), (at(951_782_399), 604_800)]
                        {
                            pair.assert_identical(&request, start, secs).await;
                            compared += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(compared, 7 * 2 * KEYS.len() * 2 * 10 * 2);
}

#[tokio::test]
async fn a_tampered_request_changes_the_signature() {
    let pair = local_pair().await;
    let grant = full_grant();
    let mut other = full_grant();
    other.content_length = Some(1);
    let (_, a) = pair
        .both(
            &ObjectRequest::Put {
                key: "k",
                grant: &grant,
            },
            at(1_795_000_000),
            300,
        )
        .await;
    let (_, b) = pair
        .both(
            &ObjectRequest::Put {
                key: "k",
                grant: &other,
            },
            at(1_795_000_000),
            300,
        )
        .await;
    let signature = |url: &str| {
        url.rsplit_once("X-Amz-Signature=")
            .map(|(_, s)| s.to_owned())
    };
    assert_ne!(signature(&a.url), signature(&b.url));
    assert_eq!(signature(&a.url).map(|s| s.len()), Some(64));
}

#[tokio::test]
async fn the_day_key_follows_the_utc_day_and_the_credentials() {
    let pair = local_pair().await;
    let get = ObjectRequest::Get {
        key: "videos/demo",
        content_disposition: None,
    };
    // Just before and after UTC midnight, then back: every URL still matches the SDK's.
    for start in [at(1_795_046_399), at(1_795_046_400), at(1_795_046_399)] {
        pair.assert_identical(&get, start, 60).await;
    }
    // Rotated credentials get their own key.
    let rotated = Credentials::new("AKIDROTATED", "another-secret", None, None, "test");
    let other = FastSigner::new(sdk_endpoint(&pair.client, BUCKET).await.expect("endpoint"));
    let with_old = other
        .presign(&get, at(1_795_046_400), 60, &pair.credentials)
        .expect("old");
    let with_new = other
        .presign(&get, at(1_795_046_400), 60, &rotated)
        .expect("new");
    assert!(
        with_new.url.contains("AKIDROTATED%2F20261119"),
        "{}",
        with_new.url
    );
    assert_ne!(with_old.url, with_new.url);
    let with_old_again = other
        .presign(&get, at(1_795_046_400), 60, &pair.credentials)
        .expect("old");
    assert_eq!(with_old, with_old_again);
    // A new session token with the same key (the encoded token is kept with the day's key).
    for token in ["first/session+token", "second/session+token"] {
        let session = credentials(Some(token));
        let url = other
            .presign(&get, at(1_795_046_400), 60, &session)
            .expect("session")
            .url;
        let encoded = token.replace('/', "%2F").replace('+', "%2B");
        assert!(
            url.ends_with(&format!("&X-Amz-Security-Token={encoded}")),
            "{url}"
        );
    }
}

#[tokio::test]
async fn header_values_the_sdk_refuses_are_refused() {
    let pair = local_pair().await;
    let mut grant = full_grant();
    grant.metadata = vec![("owner".to_owned(), "line\nbreak".to_owned())];
    let put = ObjectRequest::Put {
        key: "k",
        grant: &grant,
    };
    assert!(
        pair.fast
            .presign(&put, at(1_795_000_000), 60, &pair.credentials)
            .is_err()
    );
    assert!(
        sdk::presign(&pair.client, BUCKET, &put, at(1_795_000_000), 60)
            .await
            .is_err()
    );
}

fn header_value() -> impl Strategy<Value = String> {
    // Visible ASCII and runs of spaces (which SigV4 collapses).
    proptest::string::string_regex("[ -~]{0,24}").expect("regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_requests_match_the_sdk(
        // aws-sdk-s3 refuses a key of whitespace only ("key was missing"); tollgate's keys are
        // a prefix and an id, never that.
        key in "\\PC{1,40}".prop_filter("a key the SDK accepts", |k| !k.trim().is_empty()),
        disposition in proptest::option::of("\\PC{0,30}"),
        start in 0u64..4_102_444_800,
        secs in 1u64..=604_800,
        length in proptest::option::of(0u64..=i64::MAX as u64),
        content_type in header_value(),
        metadata in proptest::collection::vec(("[a-z0-9-]{1,12}", header_value()), 0..4),
        checksum in proptest::option::of("[A-Za-z0-9+/]{43}="),
        if_none_match: bool,
        upload_id in "[ -~]{1,40}",
        part_number in 1u64..=10_000,
        token in proptest::option::of("[A-Za-z0-9+/=]{1,60}"),
        style in 0usize..3,
    ) {
        let mut names = std::collections::HashSet::new();
        let metadata: Vec<_> = metadata.into_iter().filter(|(n, _)| names.insert(n.clone())).collect();
        let grant = PutObjectGrant {
            content_type,
            content_length: length,
            metadata,
            checksum_sha256: checksum,
            if_none_match,
        };
        let requests = [
            ObjectRequest::Get { key: &key, content_disposition: disposition.as_deref() },
            ObjectRequest::Put { key: &key, grant: &grant },
            ObjectRequest::UploadPart { key: &key, upload_id: &upload_id, part_number, content_length: length },
            ObjectRequest::CreateMultipart { key: &key, grant: &grant },
            ObjectRequest::ListParts { key: &key, upload_id: &upload_id },
            ObjectRequest::CompleteMultipart { key: &key, upload_id: &upload_id, if_none_match },
            ObjectRequest::AbortMultipart { key: &key, upload_id: &upload_id },
        ];
        let (endpoint, path_style, region) = [
            (Some("http://127.0.0.1:9000"), true, "us-east-1"),
            (Some("http://localhost:3900"), false, "garage"),
            (None, false, "eu-central-1"),
        ][style];
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async {
            let pair = pair(endpoint, path_style, region, credentials(token.as_deref())).await;
            for request in &requests {
                let (sdk, fast) = pair.both(request, at(start), secs).await;
                prop_assert_eq!(fast, sdk);
            }
            Ok(())
        })?;
    }
}
