//! A pending login: opened by a protocol engine (SAML AuthnRequest, OIDC authorize) for
//! one application, waiting for the user to authenticate. It is bound to the browser
//! that opened it by a secret cookie, so that a login link forwarded to someone else
//! cannot complete the sender's login with the receiver's certificate.

use aws_lc_rs::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use subtle::ConstantTimeEq;

use crate::clock::SharedClock;
use crate::ids::{ApplicationId, TenantId};
use crate::session::{random_key, Entry, Namespace, SharedStore, StoreResult, Stored, TypedStore};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub id: String,
    pub tenant_id: TenantId,
    pub application_id: ApplicationId,
    /// Path on the IdP where the protocol engine resumes once authenticated.
    pub resume_path: String,
    /// SHA-256 of the browser binding secret (hex).
    pub binding_hash: String,
    /// Set once a login method succeeded: the SSO session created.
    pub authenticated_session: Option<String>,
    /// When the login must be by a known person (re-authentication of an SSO session,
    /// ForceAuthn, a login hint): their directory id. A certificate of anyone else is
    /// refused (`USER_MISMATCH`).
    #[serde(default)]
    pub expected_person_id: Option<String>,
    /// When it was opened (Unix milliseconds): for the login duration metric only; no
    /// decision depends on it.
    #[serde(default)]
    pub opened_at_ms: i64,
}

/// The secret kept in the browser's `__Host-idp_login` cookie: one per browser, shared by
/// every login that browser has waiting (tabs, other sites' requests), so that starting
/// one login never breaks another.
#[derive(Clone)]
pub struct BindingSecret(pub String);

impl BindingSecret {
    /// The browser's own secret when it presented a well-formed one (as `random_key`
    /// makes them), otherwise a new one.
    pub fn reuse_or_new(presented: Option<&BindingSecret>) -> BindingSecret {
        match presented {
            Some(secret)
                if secret.0.len() == 43
                    && secret
                        .0
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                secret.clone()
            }
            _ => BindingSecret(random_key()),
        }
    }
}

impl std::fmt::Debug for BindingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindingSecret(****)")
    }
}

fn hash_hex(secret: &str) -> String {
    hex::encode(digest(&SHA256, secret.as_bytes()))
}

impl PendingLogin {
    /// How long before `now` it was opened (for the login duration metric); `None` for
    /// one opened before this field existed.
    pub fn age(&self, now: time::OffsetDateTime) -> Option<Duration> {
        let ms = crate::storage::to_millis(now).checked_sub(self.opened_at_ms)?;
        (self.opened_at_ms > 0).then(|| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }

    /// Whether `secret` is this login's browser binding (constant time).
    pub fn is_bound_to(&self, secret: &BindingSecret) -> bool {
        let presented = hash_hex(&secret.0);
        presented
            .as_bytes()
            .ct_eq(self.binding_hash.as_bytes())
            .into()
    }
}

/// A pending login to open (`PendingLogins::open_parking`).
pub struct Opening<'a> {
    pub tenant_id: TenantId,
    pub application_id: ApplicationId,
    pub resume: Resume<'a>,
    /// The binding secret the browser presented, if any.
    pub browser: Option<&'a BindingSecret>,
    /// The SSO session that already authenticated it: a step after login (choosing a
    /// commission) for a request answered from single sign-on.
    pub authenticated_session: Option<String>,
    /// The person who must complete it (see [`PendingLogin::expected_person_id`]).
    pub expected_person_id: Option<String>,
}

/// Where a pending login resumes once authenticated.
pub enum Resume<'a> {
    /// At this path.
    At(String),
    /// At a base path with the login's id added as a query parameter (base, parameter).
    WithLoginId(&'a str, &'a str),
}

#[derive(Clone)]
pub struct PendingLogins {
    store: TypedStore<PendingLogin>,
    /// The same store untyped, for a login written together with its parked request.
    shared: SharedStore,
    clock: SharedClock,
}

impl PendingLogins {
    pub fn new(store: SharedStore, ttl: Duration, clock: SharedClock) -> Self {
        Self {
            store: TypedStore::new(store.clone(), Namespace::PendingLogin, ttl),
            shared: store,
            clock,
        }
    }

    /// Opens a pending login bound to the browser that presented `browser` (its binding
    /// cookie; a new secret if it had none); returns it and the secret for the cookie.
    pub async fn create(
        &self,
        tenant_id: TenantId,
        application_id: ApplicationId,
        resume_path: String,
        browser: Option<&BindingSecret>,
    ) -> StoreResult<(PendingLogin, BindingSecret)> {
        let (login, secret) = self.build(Opening {
            tenant_id,
            application_id,
            resume: Resume::At(resume_path),
            browser,
            authenticated_session: None,
            expected_person_id: None,
        });
        self.store.put(&login.id, &login).await?;
        Ok((login, secret))
    }

    /// Opens a pending login and stores, in the same write, the entry `park` makes for
    /// it: the protocol request that waits for the login (one round trip, not two).
    pub async fn open_parking(
        &self,
        opening: Opening<'_>,
        park: impl FnOnce(&PendingLogin) -> StoreResult<Entry>,
    ) -> StoreResult<(PendingLogin, BindingSecret)> {
        let (login, secret) = self.build(opening);
        let entries = [self.store.entry(&login.id, &login)?, park(&login)?];
        self.shared.put_many(&entries).await?;
        Ok((login, secret))
    }

    fn build(&self, opening: Opening<'_>) -> (PendingLogin, BindingSecret) {
        let secret = BindingSecret::reuse_or_new(opening.browser);
        let id = random_key();
        let resume_path = match opening.resume {
            Resume::At(path) => path,
            Resume::WithLoginId(base, parameter) => {
                let separator = if base.contains('?') { '&' } else { '?' };
                format!("{base}{separator}{parameter}={id}")
            }
        };
        let login = PendingLogin {
            id,
            tenant_id: opening.tenant_id,
            application_id: opening.application_id,
            resume_path,
            binding_hash: hash_hex(&secret.0),
            authenticated_session: opening.authenticated_session,
            expected_person_id: opening.expected_person_id,
            opened_at_ms: crate::storage::to_millis(self.clock.now()),
        };
        (login, secret)
    }

    /// The login with the bytes it was read from (its changes compare those).
    pub async fn find(&self, id: &str) -> StoreResult<Option<Stored<PendingLogin>>> {
        self.store.get_stored(id).await
    }

    /// Requires that this login is completed by the person `person_id`.
    pub async fn expect_person(
        &self,
        login: &Stored<PendingLogin>,
        person_id: &str,
    ) -> StoreResult<bool> {
        let mut expecting = login.value.clone();
        expecting.expected_person_id = Some(person_id.to_owned());
        self.store
            .replace_stored_if(&login.id, login, &expecting)
            .await
    }

    /// Records the SSO session that authenticated this login (only once: a login that
    /// changed meanwhile is not overwritten). The login as recorded, `None` when it had
    /// changed.
    pub async fn mark_authenticated(
        &self,
        login: &Stored<PendingLogin>,
        session_id: &str,
    ) -> StoreResult<Option<PendingLogin>> {
        let mut done = login.value.clone();
        done.authenticated_session = Some(session_id.to_owned());
        let recorded = self
            .store
            .replace_stored_if(&login.id, login, &done)
            .await?;
        Ok(recorded.then_some(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::session::MemoryStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_login_opened_with_its_parked_request_finds_both() {
        let clock = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-12-07 08:00 UTC),
        ));
        let store: SharedStore = Arc::new(MemoryStore::new(clock.clone()));
        let logins = PendingLogins::new(store.clone(), Duration::from_secs(900), clock);
        let waiting: TypedStore<String> =
            TypedStore::new(store, Namespace::SamlRequest, Duration::from_secs(900));
        let browser = BindingSecret(random_key());

        let (login, secret) = logins
            .open_parking(
                Opening {
                    tenant_id: "region".parse().unwrap(),
                    application_id: "journal".parse().unwrap(),
                    resume: Resume::WithLoginId("/saml/resume?x=1", "login"),
                    browser: Some(&browser),
                    authenticated_session: Some("session-1".into()),
                    expected_person_id: Some("person-1".into()),
                },
                |login| waiting.entry(&login.id, &format!("request of {}", login.id)),
            )
            .await
            .unwrap();

        assert_eq!(
            logins.find(&login.id).await.unwrap().map(|l| l.value),
            Some(login.clone())
        );
        assert_eq!(
            waiting.get(&login.id).await.unwrap(),
            Some(format!("request of {}", login.id))
        );
        assert_eq!(
            login.resume_path,
            format!("/saml/resume?x=1&login={}", login.id)
        );
        assert_eq!(login.authenticated_session.as_deref(), Some("session-1"));
        assert_eq!(login.expected_person_id.as_deref(), Some("person-1"));
        // The browser's own binding secret is kept (its other logins stay bound).
        assert_eq!(secret.0, browser.0);
        assert!(login.is_bound_to(&browser));
    }
}
