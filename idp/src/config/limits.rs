//! `[limits]`: abuse limits. Connection limits and timeouts per listener, and request
//! rates per client address (docs/security.md, "Abuse limits").

use serde::Deserialize;
use std::net::IpAddr;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Open connections per listener (lowered at start to fit the file-descriptor limit,
    /// which is raised to the hard limit first).
    pub max_connections: usize,
    /// Open connections from one client address (IPv6: one /64) per listener.
    pub max_connections_per_address: usize,
    /// HTTP/1.1: the request head must arrive within this time, also the longest wait for
    /// the next request on a kept-alive connection.
    pub header_read_timeout_seconds: u64,
    /// A connection with no bytes read or written for this long is closed (TLS, HTTP/1.1
    /// and HTTP/2 alike).
    pub idle_timeout_seconds: u64,
    /// Load balancers and TLS-terminating proxies in front of the IdP: exempt from the
    /// per-address connection limit, and the only peers whose `X-Forwarded-For` names the
    /// client address that rate limits and the audit log use.
    pub trusted_proxies: Vec<IpAddr>,
    /// Requests per minute from one client address, per kind (a burst of this size is
    /// allowed; then the rate). Shared by all nodes when the session store is Redis.
    /// 0 turns a limit off.
    pub rates: RateLimits,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_connections_per_address: 64,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 30,
            trusted_proxies: Vec::new(),
            rates: RateLimits::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// New logins (pending logins: SAML AuthnRequests, OIDC authorization requests).
    pub login_starts_per_minute: u32,
    /// Mobile orders started by browsers.
    pub order_starts_per_minute: u32,
    /// Calls of the app API (`/mobile/v1/`: claim, complete, decline).
    pub mobile_app_per_minute: u32,
    /// Token endpoint requests. One application's back end makes all of its users' token
    /// requests from one address, so this one is generous.
    pub token_requests_per_minute: u32,
    /// Admin API calls.
    pub admin_api_per_minute: u32,
    /// SCIM provisioning calls (an initial load sends one request per person).
    pub scim_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_starts_per_minute: 120,
            order_starts_per_minute: 30,
            mobile_app_per_minute: 120,
            token_requests_per_minute: 6000,
            admin_api_per_minute: 600,
            scim_per_minute: 3000,
        }
    }
}
