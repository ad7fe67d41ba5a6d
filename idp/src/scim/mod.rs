//! SCIM 2.0 provisioning of a tenant's directory (RFC 7643 schema, RFC 7644 protocol):
//! a tenant's provisioning client writes Users as the directory source `<tenant>/scim`,
//! under the same tenancy rule as every source (`directory::admit`). HTTP lives in
//! `web/scim.rs`; this module knows SCIM's JSON: the resources (`user.rs`), filters
//! (`filter.rs`), PATCH (`patch.rs`), the discovery documents (`discovery.rs`) and the
//! operations (`users.rs`).

mod discovery;
mod filter;
mod patch;
mod user;
mod users;

pub use discovery::{resource_types, schemas, service_provider_config};
pub use users::{project, Answer, ListQuery, Scim};

use serde_json::{json, Value};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The HSA extension: personal identity number, employments and commissions.
pub const HSA_SCHEMA: &str = "urn:se:regional-idp:scim:schemas:extension:hsa:1.0:User";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The source name every tenant's SCIM client writes as.
pub const SOURCE_NAME: &str = "scim";

/// Most resources one list answers.
pub const MAX_RESULTS: usize = 200;

/// A SCIM error (RFC 7644 §3.12): HTTP status, `scimType`, and a detail that starts with
/// the IdP's stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub code: &'static str,
    pub detail: String,
}

impl ScimError {
    pub fn new(
        status: u16,
        scim_type: Option<&'static str>,
        code: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            code,
            detail: detail.into(),
        }
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidValue"), "SCIM_INVALID_VALUE", detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidSyntax"), "SCIM_INVALID_SYNTAX", detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidFilter"), "SCIM_INVALID_FILTER", detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidPath"), "SCIM_INVALID_PATH", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, None, "SCIM_NOT_FOUND", format!("{what} not found"))
    }

    pub fn unavailable() -> Self {
        Self::new(
            503,
            None,
            "SCIM_UNAVAILABLE",
            "temporarily unavailable; try again",
        )
    }

    /// The RFC 7644 error body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR],
            "status": self.status.to_string(),
            "detail": format!("{}: {}", self.code, self.detail),
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        body
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl From<crate::directory::DirectoryError> for ScimError {
    fn from(error: crate::directory::DirectoryError) -> Self {
        tracing::error!(code = error.code(), error = %error, "SCIM request failed in the directory");
        ScimError::unavailable()
    }
}

/// An attribute of `object` by name, case-insensitively (SCIM attribute names are).
fn get_ci<'a>(
    object: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Option<(&'a String, &'a Value)> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
}

/// Whether `text` starts with `urn:` (any case), without slicing inside a character.
fn has_urn_prefix(text: &str) -> bool {
    text.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}
