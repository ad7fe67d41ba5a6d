//! The session store: SSO sessions, pending login requests, one-time codes, mobile
//! orders and replay caches. One trait with two implementations, in-memory (the embedded
//! default, one node) and Redis (several stateless nodes), held to one contract test
//! suite (tests/tests/session_store.rs).
//!
//! Every entry has a TTL. One-time things are consumed with [`SessionStore::take`], which
//! hands the value to exactly one caller even under races; state machines (a mobile
//! order) move with [`SessionStore::replace_if`], a compare-and-swap.

mod memory;
mod observed;
mod redis_link;
mod redis_store;
mod typed;

pub use memory::{MemoryStore, DEFAULT_MAX_ENTRIES as MEMORY_DEFAULT_MAX_ENTRIES};
pub use observed::Observed;
pub use redis_link::RedisTarget;
pub use redis_store::RedisStore;
pub use typed::{Codec, Json, ReplayCache, Stored, TypedStore};

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// What an entry is; each kind has its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    SsoSession,
    PendingLogin,
    OneTimeCode,
    MobileOrder,
    Replay,
    SamlRequest,
    SamlLogout,
    /// A validated OIDC authorization request waiting for its login (by pending login id).
    OidcRequest,
    /// OIDC authorization codes (by SHA-256 of the code) and their used markers.
    OidcCode,
    /// OIDC grants: what a code exchange granted; deleting one revokes its tokens.
    OidcGrant,
    /// OIDC refresh tokens (by SHA-256 of the token) and their used markers.
    OidcRefresh,
    /// Rate-limit buckets (by kind and client address).
    RateLimit,
    /// The SSO sessions of each person (by directory person id): for an admin to find
    /// and end them (a lost phone).
    SsoByPerson,
    /// The admin console's logins in progress (state, PKCE verifier, nonce).
    ConsoleLogin,
    /// The admin console's sessions (by the console cookie).
    ConsoleSession,
}

impl Namespace {
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::SsoSession => "sso",
            Namespace::PendingLogin => "login",
            Namespace::OneTimeCode => "code",
            Namespace::MobileOrder => "order",
            Namespace::Replay => "replay",
            Namespace::SamlRequest => "saml-request",
            Namespace::SamlLogout => "saml-logout",
            Namespace::OidcRequest => "oidc-request",
            Namespace::OidcCode => "oidc-code",
            Namespace::OidcGrant => "oidc-grant",
            Namespace::OidcRefresh => "oidc-refresh",
            Namespace::RateLimit => "rate",
            Namespace::SsoByPerson => "sso-person",
            Namespace::ConsoleLogin => "console-login",
            Namespace::ConsoleSession => "console",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    #[error("session store timed out")]
    Timeout,
    #[error("session store full")]
    Full,
    #[error("invalid TTL: must be at least one millisecond")]
    InvalidTtl,
    #[error("stored value could not be decoded: {0}")]
    Decode(String),
}

impl StoreError {
    /// Stable code for logs and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "SESSION_STORE_UNAVAILABLE",
            StoreError::Timeout => "SESSION_STORE_TIMEOUT",
            StoreError::Full => "SESSION_STORE_FULL",
            StoreError::InvalidTtl => "SESSION_STORE_INVALID_TTL",
            StoreError::Decode(_) => "SESSION_STORE_DECODE",
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Short name for readiness reports and metrics ("memory", "redis").
    fn backend_name(&self) -> &'static str;

    /// Stores `value` under `key`, replacing any previous value.
    async fn put(&self, ns: Namespace, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()>;

    /// Stores every entry, as [`SessionStore::put`] does, in one round trip where the
    /// backend has round trips. Not atomic: on an error, some entries may be stored.
    async fn put_many(&self, entries: &[Entry]) -> StoreResult<()> {
        for entry in entries {
            self.put(entry.ns, &entry.key, &entry.value, entry.ttl)
                .await?;
        }
        Ok(())
    }

    /// Stores `value` only if `key` is absent; `true` when it was stored.
    async fn insert_new(
        &self,
        ns: Namespace,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> StoreResult<bool>;

    async fn get(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Removes and returns the value: of many concurrent callers, exactly one gets it.
    async fn take(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Removes the value; `true` when there was one.
    async fn delete(&self, ns: Namespace, key: &str) -> StoreResult<bool>;

    /// Replaces the value with `new` (and a fresh TTL) only if it is still `expected`.
    async fn replace_if(
        &self,
        ns: Namespace,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> StoreResult<bool>;

    /// Remaining lifetime of an entry, `None` when absent.
    async fn ttl(&self, ns: Namespace, key: &str) -> StoreResult<Option<Duration>>;

    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
}

pub type SharedStore = Arc<dyn SessionStore>;

/// One value to store with [`SessionStore::put_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub ns: Namespace,
    pub key: String,
    pub value: Vec<u8>,
    pub ttl: Duration,
}

fn ttl_millis(ttl: Duration) -> StoreResult<u64> {
    let millis = u64::try_from(ttl.as_millis()).map_err(|_| StoreError::InvalidTtl)?;
    if millis == 0 {
        return Err(StoreError::InvalidTtl);
    }
    Ok(millis)
}

/// The length of a [`random_key`]: 256 bits in unpadded base64url.
pub const RANDOM_KEY_LENGTH: usize = 43;

/// A random, URL-safe, unguessable key (256 bits, [`RANDOM_KEY_LENGTH`] characters) for
/// codes, sessions and orders.
pub fn random_key() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Fills `buffer` from aws-lc's generator: a DRBG on each thread, seeded and reseeded
/// from the operating system's generator (and safe across a fork), so a key costs no
/// system call. Should aws-lc ever refuse, the operating system's generator fills it.
pub fn random_bytes(buffer: &mut [u8]) {
    if aws_lc_rs::rand::fill(buffer).is_err() {
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, buffer);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_random_key_is_always_as_long_as_its_length_says() {
        for _ in 0..64 {
            assert_eq!(super::random_key().len(), super::RANDOM_KEY_LENGTH);
        }
    }

    #[test]
    fn random_bytes_fill_the_whole_buffer_differently_each_time() {
        let fill = || {
            let mut bytes = [0u8; 64];
            super::random_bytes(&mut bytes);
            bytes
        };
        let (first, second) = (fill(), fill());
        assert_ne!(first, second);
        // Each half of the buffer is filled (a zero run of 32 bytes has chance 2^-256).
        for bytes in [first, second] {
            assert!(bytes[..32].iter().any(|b| *b != 0) && bytes[32..].iter().any(|b| *b != 0));
        }
    }
}
