//! How an SSO session is stored: JSON (what every release wrote first) or a compact
//! form (postcard, a maintained serde format without field names; about half the
//! bytes, which in Redis is most of what a session costs).
//!
//! Every node reads both, whatever it writes: a compact value starts with
//! [`COMPACT_VERSION`], which no JSON object starts with. The compact form has been read
//! since the release before the one that made it the default, so a rolling upgrade from
//! that release loses no session; `[session] sso_session_encoding = "json"` writes JSON
//! again, for nodes of older releases (docs/operations.md).
//!
//! The compact form is [`CompactSession`], not [`SsoSession`] itself: its fields are
//! positional, so their order is the format, and it leaves out what the key already
//! says (the session id). Enums are stored by variant index: `Loa`, `LoginMethod` and
//! `CertificateType` only ever gain variants at their end (the unit test
//! `a_compact_session_of_this_release_still_decodes` fails otherwise).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use super::sso::{ChosenCommission, Participant, ParticipantProtocol, SsoSession};
use super::LoginMethod;
use crate::auth::{CertificateType, Loa};
use crate::ids::{HsaId, TenantId};
use crate::session::{Codec, StoreError, StoreResult};

/// The first byte of a compact session (JSON starts with `{`).
pub const COMPACT_VERSION: u8 = 1;

/// Which encoding this node writes SSO sessions in (`[session] sso_session_encoding`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionEncoding {
    /// JSON: readable by every release.
    Json,
    /// Postcard after a version byte: readable by the release that introduced it and
    /// later ones; the default since the release after it.
    #[default]
    Compact,
}

impl Codec<SsoSession> for SessionEncoding {
    fn encode(&self, session: &SsoSession) -> StoreResult<Vec<u8>> {
        match self {
            SessionEncoding::Json => serde_json::to_vec(session).map_err(decode_error),
            SessionEncoding::Compact => {
                let mut bytes = vec![COMPACT_VERSION];
                postcard::to_io(&CompactSession::of(session), &mut bytes).map_err(decode_error)?;
                Ok(bytes)
            }
        }
    }

    /// The session without its id (the caller knows its key).
    fn decode(&self, bytes: &[u8]) -> StoreResult<SsoSession> {
        match bytes.split_first() {
            Some((&COMPACT_VERSION, rest)) => postcard::from_bytes::<CompactSession<'_>>(rest)
                .map(CompactSession::into_session)
                .map_err(decode_error),
            _ => serde_json::from_slice(bytes).map_err(decode_error),
        }
    }
}

fn decode_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Decode(e.to_string())
}

/// [`SsoSession`] as stored compactly, field by field in this order.
#[derive(Serialize, Deserialize)]
struct CompactSession<'a> {
    sid: Cow<'a, str>,
    person_id: Cow<'a, str>,
    display_name: Cow<'a, str>,
    employee_hsa_id: Cow<'a, HsaId>,
    user_tenant: Cow<'a, TenantId>,
    loa: Loa,
    method: LoginMethod,
    authenticated_at: i64,
    certificate_serial: Cow<'a, str>,
    certificate_issuer: Cow<'a, str>,
    issuer_name: Option<Cow<'a, str>>,
    certificate_type: Option<CertificateType>,
    is_employment_bound: bool,
    participants: Vec<CompactParticipant<'a>>,
    last_used_at: i64,
    idle_timeout_seconds: Option<u64>,
    commissions: Vec<(Cow<'a, str>, Cow<'a, HsaId>)>,
}

#[derive(Serialize, Deserialize)]
struct CompactParticipant<'a> {
    application: Cow<'a, str>,
    protocol: CompactProtocol<'a>,
}

#[derive(Serialize, Deserialize)]
enum CompactProtocol<'a> {
    Saml {
        sp_entity_id: Cow<'a, str>,
        name_id: Cow<'a, str>,
        name_id_format: Urn<'a>,
    },
    Oidc {
        client_id: Cow<'a, str>,
    },
}

/// A NameID format: the URN's standard prefix as a number, and the rest.
#[derive(Serialize, Deserialize)]
struct Urn<'a>(u8, Cow<'a, str>);

/// The prefixes [`Urn`] numbers (from 1; 0 is none). Append only.
const URN_PREFIXES: [&str; 2] = [
    "urn:oasis:names:tc:SAML:2.0:nameid-format:",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:",
];

impl<'a> Urn<'a> {
    fn of(urn: &'a str) -> Self {
        URN_PREFIXES
            .iter()
            .zip(1u8..)
            .find_map(|(prefix, code)| urn.strip_prefix(prefix).map(|rest| Urn(code, rest.into())))
            .unwrap_or(Urn(0, urn.into()))
    }

    fn into_string(self) -> String {
        match URN_PREFIXES.get(usize::from(self.0).wrapping_sub(1)) {
            Some(prefix) => format!("{prefix}{}", self.1),
            None => self.1.into_owned(),
        }
    }
}

impl<'a> CompactSession<'a> {
    fn of(s: &'a SsoSession) -> Self {
        Self {
            sid: Cow::Borrowed(&s.sid),
            person_id: Cow::Borrowed(&s.person_id),
            display_name: Cow::Borrowed(&s.display_name),
            employee_hsa_id: Cow::Borrowed(&s.employee_hsa_id),
            user_tenant: Cow::Borrowed(&s.user_tenant),
            loa: s.loa,
            method: s.method,
            authenticated_at: s.authenticated_at,
            certificate_serial: Cow::Borrowed(&s.certificate_serial),
            certificate_issuer: Cow::Borrowed(&s.certificate_issuer),
            issuer_name: s.issuer_name.as_deref().map(Cow::Borrowed),
            certificate_type: s.certificate_type,
            is_employment_bound: s.is_employment_bound,
            participants: s
                .participants
                .iter()
                .map(|p| CompactParticipant {
                    application: Cow::Borrowed(&p.application),
                    protocol: match &p.protocol {
                        ParticipantProtocol::Saml {
                            sp_entity_id,
                            name_id,
                            name_id_format,
                        } => CompactProtocol::Saml {
                            sp_entity_id: Cow::Borrowed(sp_entity_id),
                            name_id: Cow::Borrowed(name_id),
                            name_id_format: Urn::of(name_id_format),
                        },
                        ParticipantProtocol::Oidc { client_id } => CompactProtocol::Oidc {
                            client_id: Cow::Borrowed(client_id),
                        },
                    },
                })
                .collect(),
            last_used_at: s.last_used_at,
            idle_timeout_seconds: s.idle_timeout_seconds,
            commissions: s
                .commissions
                .iter()
                .map(|c| {
                    (
                        Cow::Borrowed(c.application.as_str()),
                        Cow::Borrowed(&c.commission),
                    )
                })
                .collect(),
        }
    }

    fn into_session(self) -> SsoSession {
        SsoSession {
            id: String::new(),
            sid: self.sid.into_owned(),
            person_id: self.person_id.into_owned(),
            display_name: self.display_name.into_owned(),
            employee_hsa_id: self.employee_hsa_id.into_owned(),
            user_tenant: self.user_tenant.into_owned(),
            loa: self.loa,
            method: self.method,
            authenticated_at: self.authenticated_at,
            certificate_serial: self.certificate_serial.into_owned(),
            certificate_issuer: self.certificate_issuer.into_owned(),
            issuer_name: self.issuer_name.map(Cow::into_owned),
            certificate_type: self.certificate_type,
            is_employment_bound: self.is_employment_bound,
            participants: self
                .participants
                .into_iter()
                .map(|p| Participant {
                    application: p.application.into_owned(),
                    protocol: match p.protocol {
                        CompactProtocol::Saml {
                            sp_entity_id,
                            name_id,
                            name_id_format,
                        } => ParticipantProtocol::Saml {
                            sp_entity_id: sp_entity_id.into_owned(),
                            name_id: name_id.into_owned(),
                            name_id_format: name_id_format.into_string(),
                        },
                        CompactProtocol::Oidc { client_id } => ParticipantProtocol::Oidc {
                            client_id: client_id.into_owned(),
                        },
                    },
                })
                .collect(),
            last_used_at: self.last_used_at,
            idle_timeout_seconds: self.idle_timeout_seconds,
            commissions: self
                .commissions
                .into_iter()
                .map(|(application, commission)| ChosenCommission {
                    application: application.into_owned(),
                    commission: commission.into_owned(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session with something in every field, as a login to two applications leaves it.
    fn session() -> SsoSession {
        SsoSession {
            id: String::new(),
            sid: "k3J9xQ".into(),
            person_id: "person-1".into(),
            display_name: "Åsa Öberg".into(),
            employee_hsa_id: "SE2321000016-asa01".parse().unwrap(),
            user_tenant: "region".parse().unwrap(),
            loa: Loa::Loa3,
            method: LoginMethod::MobileQr,
            authenticated_at: 1_796_630_400,
            certificate_serial: "0A1B".into(),
            certificate_issuer: "CN=TEST SITHS e-id Person HSA-id 3 CA v1".into(),
            issuer_name: Some("siths-person".into()),
            certificate_type: Some(CertificateType::Mobile),
            is_employment_bound: true,
            participants: vec![
                Participant {
                    application: "region/journal".into(),
                    protocol: ParticipantProtocol::Saml {
                        sp_entity_id: "https://journal.example/sp".into(),
                        name_id: "_f3a9".into(),
                        name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
                            .into(),
                    },
                },
                Participant {
                    application: "lillby/hemtjanst".into(),
                    protocol: ParticipantProtocol::Oidc {
                        client_id: "lillby-hemtjanst".into(),
                    },
                },
            ],
            last_used_at: 1_796_630_500,
            idle_timeout_seconds: Some(1800),
            commissions: vec![ChosenCommission {
                application: "region/journal".into(),
                commission: "SE2321000016-upp1".parse().unwrap(),
            }],
        }
    }

    /// What this release writes for [`session`] (hex): pinned, so that a change to
    /// the format (a field moved, an enum's variants reordered) fails here instead of
    /// losing the sessions stored before it.
    const STORED_BY_THIS_RELEASE: &str = concat!(
        "01066b334a39785108706572736f6e2d310bc385736120c396626572671253453233323130303030",
        "31362d617361303106726567696f6e0102809eb3b10d043041314228434e3d544553542053495448",
        "5320652d696420506572736f6e204853412d69642033204341207631010c73697468732d70657273",
        "6f6e010101020e726567696f6e2f6a6f75726e616c001a68747470733a2f2f6a6f75726e616c2e65",
        "78616d706c652f7370055f6633613901097472616e7369656e74106c696c6c62792f68656d746a61",
        "6e737401106c696c6c62792d68656d746a616e7374c89fb3b10d01880e010e726567696f6e2f6a6f",
        "75726e616c115345323332313030303031362d75707031",
    );

    #[test]
    fn a_compact_session_reads_back_as_it_was_written() {
        let bytes = SessionEncoding::Compact.encode(&session()).unwrap();
        assert_eq!(bytes[0], COMPACT_VERSION);
        assert_eq!(SessionEncoding::Json.decode(&bytes).unwrap(), session());
        assert_eq!(SessionEncoding::Compact.decode(&bytes).unwrap(), session());
    }

    #[test]
    fn a_compact_session_of_this_release_still_decodes() {
        let stored: Vec<u8> = (0..STORED_BY_THIS_RELEASE.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&STORED_BY_THIS_RELEASE[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(SessionEncoding::Compact.decode(&stored).unwrap(), session());
        assert_eq!(SessionEncoding::Compact.encode(&session()).unwrap(), stored);
    }

    #[test]
    fn sessions_stored_as_json_read_the_same_whatever_a_node_writes() {
        let mut stored = session();
        stored.id = "the-key".into();
        let json = serde_json::to_vec(&stored).unwrap();
        assert_eq!(SessionEncoding::Json.encode(&stored).unwrap(), json);
        for writing in [SessionEncoding::Json, SessionEncoding::Compact] {
            assert_eq!(writing.decode(&json).unwrap(), stored);
        }
    }

    #[test]
    fn the_compact_form_is_at_most_half_the_json() {
        let json = SessionEncoding::Json.encode(&session()).unwrap();
        let compact = SessionEncoding::Compact.encode(&session()).unwrap();
        assert!(
            compact.len() * 2 <= json.len(),
            "{} compact bytes against {} of JSON",
            compact.len(),
            json.len()
        );
    }

    #[test]
    fn a_format_urn_of_no_known_prefix_is_kept_whole() {
        for urn in [
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "urn:example:custom-format",
            "",
        ] {
            let mut with = session();
            with.participants[0].protocol = ParticipantProtocol::Saml {
                sp_entity_id: "https://sp".into(),
                name_id: "x".into(),
                name_id_format: urn.into(),
            };
            let bytes = SessionEncoding::Compact.encode(&with).unwrap();
            assert_eq!(SessionEncoding::Compact.decode(&bytes).unwrap(), with);
        }
    }

    #[test]
    fn damaged_bytes_are_a_decode_error_not_a_panic() {
        let bytes = SessionEncoding::Compact.encode(&session()).unwrap();
        for cut in [1, 2, bytes.len() / 2, bytes.len() - 1] {
            let result = SessionEncoding::Compact.decode(&bytes[..cut]);
            assert!(matches!(result, Err(StoreError::Decode(_))), "cut at {cut}");
        }
        assert!(SessionEncoding::Compact.decode(b"").is_err());
    }
}
