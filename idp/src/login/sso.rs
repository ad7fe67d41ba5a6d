//! The SSO session: created by a successful login, shared by every application of every
//! tenant that the user's tenant may use, in the session store so any node serves it.
//!
//! The session id is the secret in the browser's cookie and is never shown to an
//! application; applications see `sid`, a separate random public identifier (the SAML
//! `SessionIndex` and the OIDC `sid` claim), so that one logout can name the session
//! in both protocols.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

use super::sso_encoding::SessionEncoding;
use super::LoginMethod;
use crate::auth::Loa;
use crate::ids::{HsaId, TenantId};
use crate::session::{random_key, Namespace, SharedStore, StoreResult, Stored, TypedStore};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    pub id: String,
    /// Public session identifier: SAML `SessionIndex`, OIDC `sid`.
    #[serde(default)]
    pub sid: String,
    /// Internal person id (directory); never the personal identity number.
    pub person_id: String,
    pub display_name: String,
    pub employee_hsa_id: HsaId,
    pub user_tenant: TenantId,
    pub loa: Loa,
    pub method: LoginMethod,
    /// Unix seconds.
    pub authenticated_at: i64,
    pub certificate_serial: String,
    pub certificate_issuer: String,
    /// The `[[trust.issuer]]` name of the login's certificate (tenants may narrow which
    /// issuers their staff log in with); `None` in sessions made before it was kept.
    #[serde(default)]
    pub issuer_name: Option<String>,
    /// What the login's certificate was (smart card, mobile, ...), by its issuer.
    #[serde(default)]
    pub certificate_type: Option<crate::auth::CertificateType>,
    /// Whether only `employee_hsa_id` may be used (an HSA-id certificate names one
    /// employment); otherwise any of the person's employments may admit them.
    #[serde(default = "is_bound_by_default")]
    pub is_employment_bound: bool,
    /// Applications that received an assertion or token in this session, for logout.
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// Unix seconds of the last single sign-on from the browser (0: never since the
    /// login); kept coarsely, see [`TOUCH_EVERY_SECONDS`].
    #[serde(default)]
    pub last_used_at: i64,
    /// The idle timeout fixed at login from the user's tenant's policy (`None` in
    /// sessions made before it was kept: the configured default).
    #[serde(default)]
    pub idle_timeout_seconds: Option<u64>,
    /// The commission (medarbetaruppdrag) the person chose for each application that
    /// asked (`login/commission.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commissions: Vec<ChosenCommission>,
}

/// A commission chosen for one application in this session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenCommission {
    /// `<tenant>/<application>`.
    pub application: String,
    pub commission: HsaId,
}

/// One application's part in an SSO session: what its protocol needs to log it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// `<tenant>/<application>`.
    pub application: String,
    pub protocol: ParticipantProtocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum ParticipantProtocol {
    Saml {
        sp_entity_id: String,
        name_id: String,
        name_id_format: String,
    },
    Oidc {
        client_id: String,
    },
}

fn is_bound_by_default() -> bool {
    true
}

impl SsoSession {
    /// Whether the session has been used within its idle timeout at `now`.
    pub fn is_active(&self, default_idle: Duration, now: OffsetDateTime) -> bool {
        let idle = self
            .idle_timeout_seconds
            .map_or(default_idle, Duration::from_secs);
        let last = self.last_used_at.max(self.authenticated_at);
        let quiet = now.unix_timestamp() - last;
        quiet < 0 || (quiet as u64) <= idle.as_secs()
    }

    /// The commission chosen for `application` (`<tenant>/<application>`) in this
    /// session, if one was.
    pub fn commission_for(&self, application: &str) -> Option<&HsaId> {
        self.commissions
            .iter()
            .find(|c| c.application == application)
            .map(|c| &c.commission)
    }

    /// Whether the login is at most `max_age` old at `now`.
    pub fn is_younger_than(&self, max_age: Duration, now: OffsetDateTime) -> bool {
        let age = now.unix_timestamp() - self.authenticated_at;
        age >= 0 && (age as u64) <= max_age.as_secs()
    }
}

/// How long an SSO session may go unused, by the user's tenant's policy.
#[derive(Debug, Clone, Copy)]
pub struct IdleTimeouts {
    /// `[session] sso_idle_timeout_seconds`: for tenants that set none.
    pub default: Duration,
    /// `[session] shared_workstation_idle_timeout_seconds`: the longest idle timeout of a
    /// tenant whose staff share workstations.
    pub shared_workstation: Duration,
}

impl IdleTimeouts {
    /// The idle timeout for a login of `tenant`'s staff.
    pub fn for_tenant(&self, tenant: &crate::tenants::Tenant) -> Duration {
        let policy = &tenant.session;
        let chosen = policy
            .idle_timeout_minutes
            .map_or(self.default, |m| Duration::from_secs(u64::from(m) * 60));
        if policy.shared_workstations {
            chosen.min(self.shared_workstation)
        } else {
            chosen
        }
    }
}

/// A session's use is recorded at most this often (each record is a store write; the
/// idle timeout is minutes, so a minute's precision is plenty).
pub const TOUCH_EVERY_SECONDS: i64 = 60;

#[derive(Clone)]
pub struct SsoSessions {
    store: TypedStore<SsoSession, SessionEncoding>,
    /// Each person's session ids (newest last), so that an admin can end them.
    by_person: TypedStore<PersonSessions>,
    ttl: Duration,
    idle: IdleTimeouts,
}

/// The ids of one person's SSO sessions, newest last, at most [`MAX_INDEXED_SESSIONS`]
/// (ended and expired ones drop out as new ones come).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSessions {
    pub ids: Vec<String>,
}

/// How many sessions of one person the index keeps (more browsers than this at once is
/// not one person's working day).
pub const MAX_INDEXED_SESSIONS: usize = 16;

/// Attempts at a compare-and-swap update before giving up (concurrent logins to
/// several applications in one browser are rare; endless contention is a fault).
const UPDATE_ATTEMPTS: usize = 8;

impl SsoSessions {
    pub fn new(store: SharedStore, ttl: Duration, idle: IdleTimeouts) -> Self {
        Self {
            store: TypedStore::with_codec(
                store.clone(),
                Namespace::SsoSession,
                ttl,
                SessionEncoding::default(),
            ),
            by_person: TypedStore::new(store, Namespace::SsoByPerson, ttl),
            ttl,
            idle,
        }
    }

    /// Writes sessions in `encoding` (every node reads both; see `sso_encoding.rs`).
    pub fn writing(mut self, encoding: SessionEncoding) -> Self {
        self.store = self.store.using(encoding);
        self
    }

    pub fn idle_timeouts(&self) -> IdleTimeouts {
        self.idle
    }

    /// Stores `session` under a fresh random id (and public `sid`) and returns it.
    pub async fn create(&self, mut session: SsoSession) -> StoreResult<SsoSession> {
        session.id = random_key();
        session.sid = random_key();
        self.store.put(&session.id, &session).await?;
        self.index(&session.person_id, &session.id).await?;
        Ok(session)
    }

    /// Adds session `id` to `person_id`'s index (compare-and-swap; the oldest id drops
    /// out past [`MAX_INDEXED_SESSIONS`]).
    async fn index(&self, person_id: &str, id: &str) -> StoreResult<()> {
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.by_person.get_stored(person_id).await?;
            let mut next = current
                .as_ref()
                .map(|c| c.value.clone())
                .unwrap_or_default();
            next.ids.push(id.to_owned());
            let excess = next.ids.len().saturating_sub(MAX_INDEXED_SESSIONS);
            next.ids.drain(..excess);
            let stored = match &current {
                None => self.by_person.insert_new(person_id, &next).await?,
                Some(current) => {
                    self.by_person
                        .replace_stored_if(person_id, current, &next)
                        .await?
                }
            };
            if stored {
                return Ok(());
            }
        }
        // Endless contention on one person's index: the session works, it just cannot
        // be found by an admin; say so rather than fail the login.
        tracing::warn!("the SSO session index of a person could not be updated");
        Ok(())
    }

    /// The current SSO sessions of person `person_id` at `now`, newest first.
    pub async fn of_person(
        &self,
        person_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<SsoSession>> {
        let Some(index) = self.by_person.get(person_id).await? else {
            return Ok(Vec::new());
        };
        let mut sessions = Vec::new();
        for id in index.ids.iter().rev() {
            if let Some(session) = self.find_current(id, now).await? {
                if session.person_id == person_id {
                    sessions.push(session);
                }
            }
        }
        Ok(sessions)
    }

    pub async fn find(&self, id: &str) -> StoreResult<Option<SsoSession>> {
        Ok(self.find_stored(id).await?.map(|stored| stored.value))
    }

    /// The session `id` with the bytes it is stored as, for a compare-and-swap (which
    /// then holds whichever encoding wrote it).
    async fn find_stored(&self, id: &str) -> StoreResult<Option<Stored<SsoSession>>> {
        let mut stored = self.store.get_stored(id).await?;
        if let Some(stored) = &mut stored {
            // The compact encoding leaves out the id: it is the key.
            stored.value.id = id.to_owned();
        }
        Ok(stored)
    }

    /// The session `id` if it exists, its login is within the session lifetime and it was
    /// used within its idle timeout at `now` (the store's TTL is refreshed by updates; the
    /// lifetime is not). Does not count as a use: applications' back ends call this
    /// (token refresh, UserInfo) without the user being there.
    pub async fn find_current(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SsoSession>> {
        Ok(self
            .find_current_stored(id, now)
            .await?
            .map(|stored| stored.value))
    }

    async fn find_current_stored(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Stored<SsoSession>>> {
        Ok(self.find_stored(id).await?.filter(|stored| {
            let s = &stored.value;
            s.is_younger_than(self.ttl, now) && s.is_active(self.idle.default, now)
        }))
    }

    /// Like [`SsoSessions::find_current`], for single sign-on in the user's browser: counts
    /// as a use, so the idle timeout starts again (recorded at most once a minute).
    pub async fn use_current(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SsoSession>> {
        let Some(stored) = self.find_current_stored(id, now).await? else {
            return Ok(None);
        };
        let session = &stored.value;
        let at = now.unix_timestamp();
        if at - session.last_used_at.max(session.authenticated_at) < TOUCH_EVERY_SECONDS {
            return Ok(Some(stored.value));
        }
        let mut used = session.clone();
        used.last_used_at = at;
        // A concurrent change (another tab's login to an application) wins; this use
        // is then recorded by the next one.
        if self.store.replace_stored_if(id, &stored, &used).await? {
            Ok(Some(used))
        } else {
            Ok(Some(stored.value))
        }
    }

    pub async fn delete(&self, id: &str) -> StoreResult<bool> {
        self.store.delete(id).await
    }

    /// A new login in a browser that held session `old` ends `old` (no replaced session
    /// stays valid server-side). When both are the same person's, the applications of
    /// `old` move to `new` (unless `new` already has them), so that single logout still
    /// reaches them.
    pub async fn replace(&self, old: &str, new: &str) -> StoreResult<()> {
        if old == new {
            return Ok(());
        }
        let Some(replaced) = self.take(old).await? else {
            return Ok(());
        };
        let Some(current) = self.find(new).await? else {
            return Ok(());
        };
        if replaced.person_id != current.person_id {
            return Ok(());
        }
        let mut latest = current.clone();
        for participant in replaced.participants {
            let is_newer_there = current.participants.iter().any(|p| {
                p.application == participant.application
                    && std::mem::discriminant(&p.protocol)
                        == std::mem::discriminant(&participant.protocol)
            });
            if !is_newer_there {
                match self.add_participant(&latest, participant).await? {
                    Some(updated) => latest = updated,
                    None => return Ok(()),
                }
            }
        }
        Ok(())
    }

    /// Deletes the session and returns what it was (exactly one concurrent caller gets it).
    pub async fn take(&self, id: &str) -> StoreResult<Option<SsoSession>> {
        let mut taken = self.store.take(id).await?;
        if let Some(session) = &mut taken {
            session.id = id.to_owned();
        }
        Ok(taken)
    }

    /// Records that `participant` took part in `session` (once per application and
    /// protocol identity). `session` is the session as the caller's request read it:
    /// the compare-and-swap starts from it instead of reading it again (a copy another
    /// request changed meanwhile costs one read more), and a participant it already
    /// lists is not written again, which on single sign-on to an application it has
    /// been to is every time. Returns the updated session, `None` if it no longer
    /// exists.
    pub async fn add_participant(
        &self,
        session: &SsoSession,
        participant: Participant,
    ) -> StoreResult<Option<SsoSession>> {
        self.update(&session.id, Some(session.clone()), |session| {
            if session.participants.contains(&participant) {
                return false;
            }
            // One entry per application and protocol: a new login replaces the old one
            // (a transient NameID changes with every login).
            session.participants.retain(|p| {
                p.application != participant.application
                    || std::mem::discriminant(&p.protocol)
                        != std::mem::discriminant(&participant.protocol)
            });
            session.participants.push(participant.clone());
            true
        })
        .await
    }

    /// Forgets that `application` took part in session `id` (a try from the admin
    /// console, which the application itself never saw: single logout must not visit
    /// it). Returns the updated session, `None` if it no longer exists.
    pub async fn remove_participant(
        &self,
        id: &str,
        application: &str,
    ) -> StoreResult<Option<SsoSession>> {
        self.update(id, None, |session| {
            let before = session.participants.len();
            session
                .participants
                .retain(|p| p.application != application);
            session.participants.len() != before
        })
        .await
    }

    /// Remembers that the person chose `commission` for `application` in session `id`
    /// (a later choice for the same application replaces it). Returns the updated
    /// session, `None` if it no longer exists.
    pub async fn remember_commission(
        &self,
        id: &str,
        application: &str,
        commission: &HsaId,
    ) -> StoreResult<Option<SsoSession>> {
        self.update(id, None, |session| {
            if session.commission_for(application) == Some(commission) {
                return false;
            }
            session.commissions.retain(|c| c.application != application);
            session.commissions.push(ChosenCommission {
                application: application.to_owned(),
                commission: commission.clone(),
            });
            true
        })
        .await
    }

    /// Applies `change` to session `id` with compare-and-swap (retried when another
    /// node changed the session meanwhile), starting from `known` when the caller has
    /// it; `change` returns whether it changed anything. Returns the session as it is
    /// afterwards, `None` if it no longer exists.
    async fn update(
        &self,
        id: &str,
        mut known: Option<SsoSession>,
        mut change: impl FnMut(&mut SsoSession) -> bool,
    ) -> StoreResult<Option<SsoSession>> {
        for _ in 0..UPDATE_ATTEMPTS {
            let (current, read) = match known.take() {
                Some(known) => (known, None),
                None => match self.find_stored(id).await? {
                    Some(Stored { value, bytes }) => (value, Some(bytes)),
                    None => return Ok(None),
                },
            };
            let mut updated = current.clone();
            if !change(&mut updated) {
                return Ok(Some(current));
            }
            // The caller's copy is compared as this node would write it: if another
            // node wrote it differently, the swap fails and the next attempt reads.
            let expected = match read {
                Some(bytes) => Stored {
                    value: current,
                    bytes,
                },
                None => self.store.stored(current)?,
            };
            if self
                .store
                .replace_stored_if(id, &expected, &updated)
                .await?
            {
                return Ok(Some(updated));
            }
        }
        Err(crate::session::StoreError::Unavailable(
            "SSO session kept changing during an update".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::session::MemoryStore;
    use std::sync::Arc;

    const LOGIN_AT: OffsetDateTime = time::macros::datetime!(2026-12-07 08:00 UTC);

    fn store() -> SharedStore {
        Arc::new(MemoryStore::new(Arc::new(ManualClock::new(LOGIN_AT))))
    }

    fn sessions_on(store: SharedStore) -> SsoSessions {
        let idle = IdleTimeouts {
            default: Duration::from_secs(3600),
            shared_workstation: Duration::from_secs(600),
        };
        SsoSessions::new(store, Duration::from_secs(8 * 3600), idle)
    }

    fn sessions() -> SsoSessions {
        sessions_on(store())
    }

    fn session() -> SsoSession {
        SsoSession {
            id: String::new(),
            sid: String::new(),
            person_id: "person-1".into(),
            display_name: "Anna Andersson".into(),
            employee_hsa_id: "SE2321000016-anna01".parse().unwrap(),
            user_tenant: "region".parse().unwrap(),
            loa: Loa::Loa3,
            method: LoginMethod::Mtls,
            authenticated_at: LOGIN_AT.unix_timestamp(),
            certificate_serial: "0A1B".into(),
            certificate_issuer: "CN=TEST CA".into(),
            issuer_name: None,
            certificate_type: None,
            is_employment_bound: true,
            participants: Vec::new(),
            last_used_at: 0,
            idle_timeout_seconds: None,
            commissions: Vec::new(),
        }
    }

    fn oidc(client_id: &str) -> Participant {
        Participant {
            application: format!("region/{client_id}"),
            protocol: ParticipantProtocol::Oidc {
                client_id: client_id.into(),
            },
        }
    }

    #[tokio::test]
    async fn a_participant_added_from_a_stale_copy_keeps_what_another_request_added() {
        let sessions = sessions();
        let read_by_request_a = sessions.create(session()).await.unwrap();
        let read_by_request_b = read_by_request_a.clone();
        sessions
            .add_participant(&read_by_request_a, oidc("journal"))
            .await
            .unwrap()
            .unwrap();
        // Request B's copy predates A's change: its compare-and-swap fails and reads
        // the session again.
        let after_b = sessions
            .add_participant(&read_by_request_b, oidc("lab"))
            .await
            .unwrap()
            .unwrap();
        let stored = sessions.find(&read_by_request_a.id).await.unwrap().unwrap();
        assert_eq!(stored, after_b);
        assert_eq!(stored.participants, [oidc("journal"), oidc("lab")]);
    }

    #[tokio::test]
    async fn a_participant_of_a_session_that_ended_is_not_recorded() {
        let sessions = sessions();
        let session = sessions.create(session()).await.unwrap();
        sessions.delete(&session.id).await.unwrap();
        let added = sessions
            .add_participant(&session, oidc("journal"))
            .await
            .unwrap();
        assert_eq!(added, None);
        assert_eq!(sessions.find(&session.id).await.unwrap(), None);
    }

    /// Sessions are written compact unless the configuration says JSON (whose default
    /// is `SessionEncoding::default()`).
    #[tokio::test]
    async fn sessions_are_written_compact_by_default() {
        let store = store();
        let created = sessions_on(store.clone()).create(session()).await.unwrap();
        let bytes = store
            .get(Namespace::SsoSession, &created.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            bytes.first(),
            Some(&super::super::sso_encoding::COMPACT_VERSION)
        );
    }

    /// A change of encoding half rolled out: nodes writing JSON and nodes writing the
    /// compact form update the same sessions (each compare-and-swap holds whatever the
    /// other node stored), and neither loses what the other recorded.
    #[tokio::test]
    async fn nodes_writing_different_encodings_update_each_others_sessions() {
        let store = store();
        let json = sessions_on(store.clone()).writing(SessionEncoding::Json);
        let compact = sessions_on(store).writing(SessionEncoding::Compact);

        let created = json.create(session()).await.unwrap();
        let read = compact.find(&created.id).await.unwrap().unwrap();
        assert_eq!(read, created);
        compact
            .add_participant(&read, oidc("journal"))
            .await
            .unwrap()
            .unwrap();

        let read = json.find(&created.id).await.unwrap().unwrap();
        assert_eq!(read.participants, [oidc("journal")]);
        json.add_participant(&read, oidc("lab"))
            .await
            .unwrap()
            .unwrap();
        let commission: HsaId = "SE2321000016-uppdrag1".parse().unwrap();
        compact
            .remember_commission(&created.id, "region/lab", &commission)
            .await
            .unwrap()
            .unwrap();
        let later = LOGIN_AT + time::Duration::minutes(5);
        let used = json.use_current(&created.id, later).await.unwrap().unwrap();
        assert_eq!(used.last_used_at, later.unix_timestamp());

        let stored = compact.find(&created.id).await.unwrap().unwrap();
        assert_eq!(stored.participants, [oidc("journal"), oidc("lab")]);
        assert_eq!(stored.commission_for("region/lab"), Some(&commission));
        assert_eq!(stored.last_used_at, later.unix_timestamp());
        assert_eq!(stored.id, created.id);
        assert_eq!(compact.take(&created.id).await.unwrap(), Some(stored));
    }
}
