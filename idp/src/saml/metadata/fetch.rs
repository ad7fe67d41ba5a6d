//! Reading a metadata document from a file or over HTTPS, and naming precisely why that
//! failed: DNS, connection, TLS, timeout, HTTP status, size, transport or file.
//!
//! reqwest reports a failed request as one error whose `source()` chain holds the cause:
//! hyper-util's connect error (`dns error`, `tcp connect error`) over an `io::Error`, or
//! an `io::Error` of kind `InvalidData` wrapping the `rustls::Error` of the handshake.
//! The chain is walked and the typed errors are downcast; only hyper-util's private DNS
//! error is recognised by its message, since it has no public type.

use super::sp::MAX_METADATA_BYTES;
use super::MetadataError;
use std::error::Error as StdError;
use std::io;
use std::path::Path;
use std::time::Duration;
use url::Url;

/// How long one metadata fetch may take, from connecting to the end of the body.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The document at `url`, at most [`MAX_METADATA_BYTES`], within `timeout`.
pub(super) async fn fetch_url(
    http: &reqwest::Client,
    url: &Url,
    timeout: Duration,
) -> Result<Vec<u8>, MetadataError> {
    fetch_url_limited(http, url, timeout, MAX_METADATA_BYTES).await
}

/// [`fetch_url`] with another bound on the size (a federation's aggregate).
pub(super) async fn fetch_url_limited(
    http: &reqwest::Client,
    url: &Url,
    timeout: Duration,
    limit: usize,
) -> Result<Vec<u8>, MetadataError> {
    check_transport(url)?;
    let mut response = http
        .get(url.clone())
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| classify(&e, url, timeout))?;
    let final_url = response.url().clone();
    check_transport(&final_url)?; // after redirects
    let status = response.status();
    if !status.is_success() {
        return Err(MetadataError::HttpStatus {
            status,
            url: shown_url(&final_url),
        });
    }
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify(&e, &final_url, timeout))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The file's content, at most [`MAX_METADATA_BYTES`] (read on the blocking pool in one
/// hand-off; tokio's file type would take several per file).
pub(super) async fn read_file(path: &Path) -> Result<Vec<u8>, MetadataError> {
    read_file_limited(path, MAX_METADATA_BYTES).await
}

/// [`read_file`] with another bound on the size (a federation's aggregate).
pub(super) async fn read_file_limited(path: &Path, limit: usize) -> Result<Vec<u8>, MetadataError> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || read_file_blocking_limited(&owned, limit))
        .await
        .map_err(|e| MetadataError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?
}

/// [`read_file`] for a caller already on a blocking thread.
pub(super) fn read_file_blocking(path: &Path) -> Result<Vec<u8>, MetadataError> {
    read_file_blocking_limited(path, MAX_METADATA_BYTES)
}

fn read_file_blocking_limited(path: &Path, limit: usize) -> Result<Vec<u8>, MetadataError> {
    use std::io::Read;
    let unreadable = |e: io::Error| MetadataError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut body = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(unreadable)?;
    if body.len() > limit {
        return Err(too_large(limit));
    }
    Ok(body)
}

/// HTTPS, or plain HTTP to the local host only.
pub(super) fn check_transport(url: &Url) -> Result<(), MetadataError> {
    let is_local = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    if url.scheme() == "https" || (url.scheme() == "http" && is_local) {
        Ok(())
    } else {
        Err(MetadataError::Transport {
            url: shown_url(url),
        })
    }
}

fn too_large(limit: usize) -> MetadataError {
    MetadataError::TooLarge { limit }
}

/// The URL for messages and logs: without user name, password, query or fragment (a
/// query may carry an access token); an elided query is shown as `?…`.
pub(super) fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    let had_query = shown.query().is_some();
    shown.set_query(None);
    shown.set_fragment(None);
    if had_query {
        format!("{shown}?…")
    } else {
        shown.to_string()
    }
}

/// The precise cause of a failed request to `url`.
pub(super) fn classify(error: &reqwest::Error, url: &Url, timeout: Duration) -> MetadataError {
    let host = url.host_str().unwrap_or_default().to_owned();
    let address = match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let chain = causes(error);
    let innermost = chain.last().map(|e| e.to_string()).unwrap_or_default();

    if let Some(tls) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return MetadataError::Tls {
            reason: tls_reason(tls, &host),
            host,
        };
    }
    if error.is_timeout() || io_kinds(&chain).any(|kind| kind == io::ErrorKind::TimedOut) {
        return MetadataError::Timeout {
            url: shown_url(url),
            timeout,
        };
    }
    if chain.iter().any(|e| is_dns_error(*e)) {
        let reason = innermost
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(&innermost)
            .to_owned();
        return MetadataError::Dns { host, reason };
    }
    if let Some(reason) = io_kinds(&chain).find_map(connect_reason) {
        return MetadataError::Connect {
            address,
            reason: reason.to_owned(),
        };
    }
    if error.is_connect() {
        return MetadataError::Connect {
            address,
            reason: innermost,
        };
    }
    MetadataError::Fetch {
        url: shown_url(url),
        reason: innermost,
    }
}

/// `error` and its causes, outermost first. An `io::Error`'s own `source()` skips the
/// error it wraps (it returns that error's source), so the wrapped error is taken
/// from `get_ref()` instead.
fn causes<'e>(error: &'e (dyn StdError + 'static)) -> Vec<&'e (dyn StdError + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        chain.push(current);
        next = match current.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => current.source(),
        };
        if chain.len() > 32 {
            break; // a cycle would be a bug elsewhere; do not loop on it
        }
    }
    chain
}

fn io_kinds<'a>(
    chain: &'a [&'a (dyn StdError + 'static)],
) -> impl Iterator<Item = io::ErrorKind> + 'a {
    chain
        .iter()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .map(io::Error::kind)
}

/// hyper-util's resolver failure (`ConnectError` "dns error", not a public type) or the
/// system resolver's own message.
fn is_dns_error(error: &(dyn StdError + 'static)) -> bool {
    let message = error.to_string();
    message == "dns error" || message.starts_with("failed to lookup address")
}

fn connect_reason(kind: io::ErrorKind) -> Option<&'static str> {
    Some(match kind {
        io::ErrorKind::ConnectionRefused => "connection refused (nothing listens on that port)",
        io::ErrorKind::HostUnreachable => "host unreachable",
        io::ErrorKind::NetworkUnreachable => "network unreachable",
        io::ErrorKind::ConnectionReset => "connection reset by the server",
        io::ErrorKind::ConnectionAborted => "connection aborted",
        io::ErrorKind::AddrNotAvailable => "address not available",
        _ => return None,
    })
}

/// What went wrong in the handshake, in words an admin can act on.
fn tls_reason(error: &rustls::Error, host: &str) -> String {
    use rustls::CertificateError as Cert;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => {
                "the server's certificate is not trusted (UnknownIssuer)".to_owned()
            }
            Cert::BadSignature => {
                "the server's certificate is not trusted (BadSignature)".to_owned()
            }
            Cert::Expired | Cert::ExpiredContext { .. } => {
                "the server's certificate has expired (Expired)".to_owned()
            }
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (NotValidYet)".to_owned()
            }
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                format!("the server's certificate is not valid for {host} (NotValidForName)")
            }
            Cert::Revoked => "the server's certificate is revoked (Revoked)".to_owned(),
            _ => format!("the server's certificate is not accepted ({error})"),
        },
        rustls::Error::AlertReceived(alert) => {
            format!("the handshake failed: the server sent the alert {alert:?}")
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the handshake failed ({error}); does the server speak HTTPS on that port?")
        }
        _ => format!("the handshake failed ({error})"),
    }
}
