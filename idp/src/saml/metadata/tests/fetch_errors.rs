//! Each cause of a failed fetch, produced for real against servers started here.

use super::servers;
use super::*;
use axum::routing::get;
use std::time::Duration;

fn url_source(url: url::Url) -> MetadataSource {
    MetadataSource {
        entity_id: SP.into(),
        location: SourceLocation::Url(url),
        signer_certificates: None,
    }
}

async fn load_error(cache: &MetadataCache, url: url::Url) -> MetadataError {
    cache.load_one(&url_source(url), NOW).await.unwrap_err()
}

fn metadata_app() -> axum::Router {
    let xml = entity(SP, "_m1", "", false);
    let big = "x".repeat(MAX_METADATA_BYTES + 1);
    axum::Router::new()
        .route("/md", get(move || async move { xml }))
        .route("/big", get(move || async move { big }))
        .route(
            "/big-chunked",
            get(|| async {
                // No Content-Length: the limit must hold while reading.
                let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
                let chunks = (0..=MAX_METADATA_BYTES / chunk.len())
                    .map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
                axum::body::Body::from_stream(futures::stream::iter(chunks))
            }),
        )
}

#[tokio::test]
async fn metadata_is_fetched_over_http_from_localhost() {
    let server = servers::http(metadata_app()).await;
    let cache = MetadataCache::new(http_client());
    cache
        .load_one(&url_source(server.url("http", "/md")), NOW)
        .await
        .unwrap();
    assert!(cache.get(SP).is_some());
    assert!(cache.status(SP).unwrap().is_healthy());
}

#[tokio::test]
async fn an_http_status_names_the_status_and_the_url_without_secrets() {
    let server = servers::http(metadata_app()).await;
    let cache = MetadataCache::new(http_client());
    let err = load_error(&cache, server.url("http", "/missing")).await;
    assert_eq!(err.code(), "SAML_METADATA_HTTP_STATUS");
    assert!(
        matches!(err, MetadataError::HttpStatus { status, .. } if status.as_u16() == 404),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "HTTP status 404 Not Found from http://{}/missing",
            server.address
        )
    );

    let mut with_secrets = server.url("http", "/missing?token=s3cret");
    with_secrets.set_username("admin").unwrap();
    with_secrets.set_password(Some("hunter2")).unwrap();
    let message = load_error(&cache, with_secrets).await.to_string();
    assert!(message.ends_with("/missing?…"), "{message}");
    for secret in ["s3cret", "hunter2", "admin"] {
        assert!(!message.contains(secret), "{message}");
    }
}

#[tokio::test]
async fn too_large_documents_are_refused_with_or_without_a_length() {
    let server = servers::http(metadata_app()).await;
    let cache = MetadataCache::new(http_client());
    for path in ["/big", "/big-chunked"] {
        let err = load_error(&cache, server.url("http", path)).await;
        assert_eq!(err.code(), "SAML_METADATA_TOO_LARGE", "{path}: {err}");
        assert!(err.to_string().contains("1048576 bytes"), "{err}");
    }
}

#[tokio::test]
async fn plain_http_to_another_host_is_refused_before_any_request() {
    let cache = MetadataCache::new(http_client());
    let err = load_error(&cache, "http://sp.example.org/md".parse().unwrap()).await;
    assert_eq!(err.code(), "SAML_METADATA_TRANSPORT");
    assert!(err.to_string().contains("https"), "{err}");
    assert!(
        err.to_string().contains("http://sp.example.org/md"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_host_is_a_dns_error_naming_the_host() {
    let cache = MetadataCache::new(http_client());
    let err = load_error(&cache, "https://sp.example.invalid/md".parse().unwrap()).await;
    assert_eq!(err.code(), "SAML_METADATA_DNS", "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("DNS: no address for host sp.example.invalid"),
        "{message}"
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_naming_the_address() {
    let address = servers::closed_port().await;
    let cache = MetadataCache::new(http_client());
    let err = load_error(&cache, format!("http://{address}/md").parse().unwrap()).await;
    assert_eq!(err.code(), "SAML_METADATA_CONNECT", "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {address}: connection refused (nothing listens on that port)")
    );
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_a_tls_error() {
    let (server, certificate) = servers::https(metadata_app()).await;
    let cache = MetadataCache::new(http_client());
    let err = load_error(&cache, server.url("https", "/md")).await;
    assert_eq!(err.code(), "SAML_METADATA_TLS", "{err:?}");
    assert_eq!(
        err.to_string(),
        "TLS: the server's certificate is not trusted (UnknownIssuer) (host 127.0.0.1)"
    );

    // The same server is fine for a client that trusts its certificate, so the error
    // above is about trust and nothing else.
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(&certificate).unwrap())
        .build()
        .unwrap();
    let cache = MetadataCache::new(trusting);
    cache
        .load_one(&url_source(server.url("https", "/md")), NOW)
        .await
        .unwrap();
    assert!(cache.get(SP).is_some());
}

#[tokio::test]
async fn https_to_a_plain_http_port_is_a_tls_handshake_error() {
    let server = servers::http(metadata_app()).await;
    let cache = MetadataCache::new(http_client());
    let url: url::Url = format!("https://localhost:{}/md", server.address.port())
        .parse()
        .unwrap();
    let err = load_error(&cache, url).await;
    assert_eq!(err.code(), "SAML_METADATA_TLS", "{err:?}");
    assert!(
        err.to_string().starts_with("TLS: the handshake failed"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let server = servers::silent().await;
    let cache = MetadataCache::new(http_client()).with_fetch_timeout(Duration::from_millis(300));
    let err = load_error(&cache, server.url("http", "/md")).await;
    assert_eq!(err.code(), "SAML_METADATA_TIMEOUT", "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "no complete answer from http://{}/md within 300ms",
            server.address
        )
    );
}

#[tokio::test]
async fn an_unreadable_file_is_a_file_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.xml");
    let cache = MetadataCache::new(http_client());
    let err = cache.load_one(&file_source(&path), NOW).await.unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_FILE");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot read the metadata file {}: ",
            path.display()
        )),
        "{message}"
    );

    std::fs::write(&path, vec![b'x'; MAX_METADATA_BYTES + 1]).unwrap();
    let err = cache.load_one(&file_source(&path), NOW).await.unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_TOO_LARGE");
}

#[test]
fn every_cause_has_its_own_stable_code() {
    let url = "https://sp.example.org/md".to_owned();
    let errors = [
        MetadataError::Invalid(String::new()),
        MetadataError::Signature(crate::saml::xml::XmlError::SignatureMissing),
        MetadataError::Expired,
        MetadataError::EntityMissing,
        MetadataError::NoAcs,
        MetadataError::CertificateInvalid {
            key_use: KeyUse::Signing,
            reason: String::new(),
        },
        MetadataError::CertificateExpired {
            key_use: KeyUse::Signing,
            subject: String::new(),
            not_after: NOW,
        },
        MetadataError::Dns {
            host: String::new(),
            reason: String::new(),
        },
        MetadataError::Connect {
            address: String::new(),
            reason: String::new(),
        },
        MetadataError::Tls {
            host: String::new(),
            reason: String::new(),
        },
        MetadataError::Timeout {
            url: url.clone(),
            timeout: Duration::ZERO,
        },
        MetadataError::HttpStatus {
            status: http::StatusCode::NOT_FOUND,
            url: url.clone(),
        },
        MetadataError::TooLarge { limit: 0 },
        MetadataError::Transport { url: url.clone() },
        MetadataError::File {
            path: String::new(),
            reason: String::new(),
        },
        MetadataError::Fetch {
            url,
            reason: String::new(),
        },
    ];
    let mut codes: Vec<&str> = errors.iter().map(MetadataError::code).collect();
    assert!(codes.iter().all(|c| c.starts_with("SAML_METADATA_")));
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len());
}
