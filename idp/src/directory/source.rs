//! Directory sources: who writes (a tenant's LDAP sync, SCIM client or import, or a
//! platform source such as the development seed), what one write carries (a [`Batch`]),
//! and what came of it (a [`Report`]).

use serde::{Deserialize, Serialize};
use std::fmt;

use super::SourceRecord;
use crate::ids::TenantId;

/// A source's name: `<tenant>/<name>` for a tenant's source, `platform/<name>` for the
/// operator's own (the development seed). Stored with every record it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceId {
    scope: SourceScope,
    name: String,
}

/// Whose staff a source may write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceScope {
    /// Only persons inside this tenant's population (the governed-tenancy rule).
    Tenant(TenantId),
    /// The platform operator's own source: anyone (the development seed).
    Platform,
}

/// The source names a tenant's source may take: lower-case letters, digits, `-`.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl SourceId {
    pub fn tenant(tenant: TenantId, name: &str) -> Result<Self, String> {
        if !is_valid_name(name) {
            return Err(format!(
                "source name {name:?}: 1-64 characters of a-z, 0-9 and -"
            ));
        }
        Ok(Self {
            scope: SourceScope::Tenant(tenant),
            name: name.to_owned(),
        })
    }

    pub fn platform(name: &str) -> Self {
        Self {
            scope: SourceScope::Platform,
            name: name.to_owned(),
        }
    }

    pub fn scope(&self) -> &SourceScope {
        &self.scope
    }

    pub fn tenant_id(&self) -> Option<&TenantId> {
        match &self.scope {
            SourceScope::Tenant(tenant) => Some(tenant),
            SourceScope::Platform => None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            SourceScope::Tenant(tenant) => write!(f, "{tenant}/{}", self.name),
            SourceScope::Platform => write!(f, "platform/{}", self.name),
        }
    }
}

/// What kind of source it is (shown in the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Ldap,
    Scim,
    File,
    Seed,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Ldap => "ldap",
            SourceKind::Scim => "scim",
            SourceKind::File => "file",
            SourceKind::Seed => "seed",
        }
    }
}

/// Whether a batch is the source's whole content or a set of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The source's whole population: every active record the batch does not list is
    /// disabled (and removed after the retention period).
    Full,
    /// Only what changed: the listed records are written, `removed` ones disabled.
    Incremental,
}

/// One write of a source.
#[derive(Debug, Clone)]
pub struct Batch {
    pub kind: SourceKind,
    pub mode: Mode,
    pub records: Vec<SourceRecord>,
    /// External ids the source no longer has (incremental mode); one that `records`
    /// also lists is written, then disabled (a SCIM User with `active: false`).
    pub removed: Vec<String>,
    /// The high-water mark to resume from next time (LDAP `modifyTimestamp`).
    pub cursor: Option<String>,
}

/// A record the directory did not take, and why (stable code, safe to show an admin:
/// never a personal identity number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The record: its name at the source (SCIM userName, LDAP DN), its external id, or
    /// its position in an import file.
    pub record: String,
    pub code: String,
    pub reason: String,
}

impl Refusal {
    pub fn new(record: &str, code: &str, reason: String) -> Self {
        Self {
            record: record.to_owned(),
            code: code.to_owned(),
            reason,
        }
    }
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub disabled: usize,
    pub removed: usize,
    pub refused: Vec<Refusal>,
    /// Each change by external id, in the order made (for `--dry-run`; not stored).
    #[serde(skip)]
    pub changes: Vec<Change>,
}

impl Report {
    pub fn note(&mut self, external_id: &str, kind: ChangeKind) {
        self.changes.push(Change {
            external_id: external_id.to_owned(),
            kind,
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub external_id: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Disabled,
    Removed,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.kind {
            ChangeKind::Created => "+",
            ChangeKind::Updated => "~",
            ChangeKind::Disabled => "-",
            ChangeKind::Removed => "x",
        };
        write!(f, "{sign} {}", self.external_id)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} disabled, {} removed, {} refused",
            self.created,
            self.updated,
            self.unchanged,
            self.disabled,
            self.removed,
            self.refused.len()
        )
    }
}

/// The state of a source, as the admin API, `idp directory status` and `/metrics` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    pub source: String,
    pub kind: String,
    /// Unix milliseconds.
    pub last_attempt_at_ms: Option<i64>,
    pub last_success_at_ms: Option<i64>,
    /// Why the last attempt failed (the directory keeps the last good state meanwhile).
    pub last_error: Option<String>,
    pub active_records: i64,
    pub disabled_records: i64,
    pub last_report: Option<Report>,
}

/// The sources' state in the Prometheus text format (appended to `/metrics`).
pub fn render_metrics(statuses: &[SourceStatus]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP idp_directory_source_records Directory records of a source by state."
    );
    let _ = writeln!(out, "# TYPE idp_directory_source_records gauge");
    for s in statuses {
        let _ = writeln!(
            out,
            "idp_directory_source_records{{source=\"{}\",state=\"active\"}} {}",
            s.source, s.active_records
        );
        let _ = writeln!(
            out,
            "idp_directory_source_records{{source=\"{}\",state=\"disabled\"}} {}",
            s.source, s.disabled_records
        );
    }
    let _ = writeln!(out, "# HELP idp_directory_source_last_success_timestamp_seconds When the source's last run succeeded.");
    let _ = writeln!(
        out,
        "# TYPE idp_directory_source_last_success_timestamp_seconds gauge"
    );
    for s in statuses {
        if let Some(ms) = s.last_success_at_ms {
            let _ = writeln!(
                out,
                "idp_directory_source_last_success_timestamp_seconds{{source=\"{}\"}} {}",
                s.source,
                ms / 1000
            );
        }
    }
    let _ = writeln!(out, "# HELP idp_directory_source_failing 1 when the source's last run failed (its last good state is in use).");
    let _ = writeln!(out, "# TYPE idp_directory_source_failing gauge");
    for s in statuses {
        let _ = writeln!(
            out,
            "idp_directory_source_failing{{source=\"{}\"}} {}",
            s.source,
            u8::from(s.last_error.is_some())
        );
    }
    let _ = writeln!(
        out,
        "# HELP idp_directory_source_refused Records the source's last run refused."
    );
    let _ = writeln!(out, "# TYPE idp_directory_source_refused gauge");
    for s in statuses {
        let refused = s.last_report.as_ref().map_or(0, |r| r.refused.len());
        let _ = writeln!(
            out,
            "idp_directory_source_refused{{source=\"{}\"}} {refused}",
            s.source
        );
    }
    out
}
