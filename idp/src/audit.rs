//! Audit events: who logged in where, when, with which certificate, and the result.
//! Written to the `audit_log` table; never carries a personal identity number.

use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: uuid::Uuid,
    pub at: OffsetDateTime,
    /// What happened: `login`, `logout`, `config-applied`, ...
    pub event: String,
    pub outcome: Outcome,
    /// Stable error code on failure (`CERT_REVOKED`).
    pub code: Option<String>,
    pub method: Option<String>,
    pub tenant_id: Option<String>,
    pub application_id: Option<String>,
    /// Internal person id from the directory (not the personal identity number).
    pub person_id: Option<String>,
    pub employee_hsa_id: Option<String>,
    pub certificate_serial: Option<String>,
    pub certificate_issuer: Option<String>,
    /// What the certificate was: "smart-card", "mobile", "soft" or "unspecified".
    pub certificate_type: Option<String>,
    pub client_address: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(event: &str, outcome: Outcome, at: OffsetDateTime) -> Self {
        Self {
            // Time-ordered (UUIDv7): the audit table's primary key index then grows at
            // its end, where a random id would touch (and read back) a random page of a
            // large index on every insert.
            id: uuid::Uuid::now_v7(),
            at,
            event: event.to_owned(),
            outcome,
            code: None,
            method: None,
            tenant_id: None,
            application_id: None,
            person_id: None,
            employee_hsa_id: None,
            certificate_serial: None,
            certificate_issuer: None,
            certificate_type: None,
            client_address: None,
            request_id: None,
            detail: None,
        }
    }
}
