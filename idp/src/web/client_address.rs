//! The client's address: the TCP peer, or, when the peer is a trusted proxy
//! (`[limits] trusted_proxies`), the last address in `X-Forwarded-For` that is not itself
//! a trusted proxy. A header from anyone else is ignored (a client cannot choose its own
//! rate-limit bucket).

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The client's address for a request (what the audit log records and rate limits
/// count), resolved once by the request middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        if let Some(resolved) = parts.extensions.get::<ClientAddress>() {
            return Ok(*resolved);
        }
        // Outside the middleware (a router without it): the TCP peer.
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

/// Upper bound on the `X-Forwarded-For` entries looked at.
const MAX_HOPS: usize = 16;

pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .take(MAX_HOPS)
        .find(|hop| !trusted_proxies.contains(hop))
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        // The proxy appends the address it saw; what the client wrote before is ignored.
        let forwarded = headers("203.0.113.9, 198.51.100.7");
        assert_eq!(client_address(proxy, &forwarded, &[proxy]), client);
        // From anyone else the header counts for nothing.
        assert_eq!(client_address(client, &forwarded, &[proxy]), client);
        // Chained proxies are skipped.
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        let chained = headers("198.51.100.7, 10.0.0.2");
        assert_eq!(client_address(proxy, &chained, &[proxy, inner]), client);
        // No usable header: the proxy itself.
        assert_eq!(client_address(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }
}
