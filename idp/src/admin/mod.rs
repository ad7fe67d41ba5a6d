//! The admin API's engine: who is asking (`Actor`), whether they may (`authorize`, the
//! one place that decides), and the commands, each a change of the registry through
//! `registry::commit` (validated whole, one transaction, audited). `web/admin_api.rs`
//! turns HTTP into these calls and their errors into JSON.

mod authorize;
mod commands;
mod platform;
mod receives;
mod tokens;
mod views;

pub use authorize::{authorize, Action, Actor};
pub use commands::*;
pub use platform::{platform_overview, MetadataHealth, PlatformGrant, PlatformView};
pub use receives::{
    asked_attributes, find_own_person, grant_requests, what_application_receives, GrantRequest,
    ReceivedAttribute, Receives, URI_NAME_FORMAT,
};
pub use tokens::{
    authenticate_token, create_api_token, is_api_token, list_tokens, revoke_api_token,
    CreatedToken, TokenPurpose, TokenScope, TokenView,
};
pub use views::{ApplicationView, TenantSummary};

use time::OffsetDateTime;

use crate::registry::{CommitError, LoadError, RegistryHandle};
use crate::saml::metadata::{MetadataCache, MetadataError};
use crate::storage::{Database, StorageError};
use crate::tenants::validate::{Context, Problem};

/// What an admin command needs from the running IdP.
#[derive(Clone, Copy)]
pub struct AdminContext<'a> {
    pub db: &'a Database,
    pub registry: &'a RegistryHandle,
    pub rules: &'a Context,
    pub metadata: &'a MetadataCache,
    /// Whether tenant admins may name metadata URLs on loopback or private networks.
    pub allow_private_metadata_hosts: bool,
    pub now: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("a valid bearer token is required")]
    Unauthenticated,
    #[error("you may not do this here")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    #[error("{0}")]
    BadRequest(String),
    #[error("the SP metadata cannot be used: {0}")]
    Metadata(#[from] MetadataError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the registry cannot be reloaded: {0}")]
    Reload(String),
}

impl AdminError {
    /// A stable code for the JSON answer and the log.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Unauthenticated => "ADMIN_UNAUTHENTICATED",
            AdminError::Forbidden => "ADMIN_FORBIDDEN",
            AdminError::NotFound(_) => "ADMIN_NOT_FOUND",
            AdminError::Conflict(_) => "ADMIN_CONFLICT",
            AdminError::Invalid(_) => "ADMIN_INVALID",
            AdminError::BadRequest(_) => "ADMIN_BAD_REQUEST",
            AdminError::Metadata(e) => e.code(),
            AdminError::Storage(e) => e.code(),
            AdminError::Reload(_) => "ADMIN_RELOAD",
        }
    }

    /// One problem with a field of `tenant`.
    pub fn invalid(tenant: &crate::ids::TenantId, field: &str, message: impl Into<String>) -> Self {
        AdminError::Invalid(vec![Problem {
            tenant: tenant.clone(),
            field: field.to_owned(),
            message: message.into(),
        }])
    }
}

impl From<CommitError> for AdminError {
    fn from(error: CommitError) -> Self {
        match error {
            CommitError::Invalid(problems) => AdminError::Invalid(problems),
            CommitError::Conflict => AdminError::Conflict(
                "the registry was changed by someone else meanwhile; try again".into(),
            ),
            CommitError::Encode(message) => AdminError::BadRequest(message),
            CommitError::Storage(e) => AdminError::Storage(e),
        }
    }
}

impl From<LoadError> for AdminError {
    fn from(error: LoadError) -> Self {
        AdminError::Reload(error.to_string())
    }
}
