//! Authorization in one place: every admin action asks [`authorize`] with the actor, the
//! action and the registry snapshot it acts on. The platform operator decides which
//! tenants exist and whose staff they are; a tenant's admins and tokens act within
//! their tenant only.

use super::tokens::TokenScope;
use super::AdminError;
use crate::ids::{HsaId, TenantId};
use crate::registry::Registry;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An API token (automation).
    Token { id: String, scope: TokenScope },
    /// A person, logged in through the IdP (their employee HSA-id).
    Person { hsa_id: HsaId, is_operator: bool },
}

impl Actor {
    /// How the audit trail names the actor.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Token { id, .. } => format!("token:{id}"),
            Actor::Person { hsa_id, .. } => format!("admin:{hsa_id}"),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(
            self,
            Actor::Token {
                scope: TokenScope::Operator,
                ..
            } | Actor::Person {
                is_operator: true,
                ..
            }
        )
    }
}

/// What the actor wants to do.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Create or delete tenants, set their identity and population.
    GovernPlatform,
    /// Read and change one tenant's applications, grants, admins, tokens and audit.
    ManageTenant(&'a TenantId),
}

/// `Ok` when `actor` may do `action` in `registry`.
pub fn authorize(actor: &Actor, action: Action<'_>, registry: &Registry) -> Result<(), AdminError> {
    if actor.is_operator() {
        return Ok(());
    }
    let allowed = match action {
        Action::GovernPlatform => false,
        Action::ManageTenant(tenant) => match actor {
            Actor::Token {
                scope: TokenScope::Tenant(scope),
                ..
            } => scope == tenant,
            Actor::Token { .. } => false,
            Actor::Person { hsa_id, .. } => registry
                .tenants
                .get(tenant)
                .is_some_and(|t| t.admins.contains(hsa_id)),
        },
    };
    if allowed {
        Ok(())
    } else {
        Err(AdminError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        let tenant: crate::tenants::Tenant = toml::from_str(
            r#"
            id = "storstad"
            kind = "municipality"
            organisation_number = "212000-8889"
            display_name = { sv = "Storstads kommun" }
            admins = ["SE2120008889-dav04"]
            [users]
            hsa_id_prefixes = ["SE2120008889-"]
            "#,
        )
        .unwrap();
        Registry {
            tenants: crate::tenants::Tenants::new([tenant]),
            ..Registry::default()
        }
    }

    #[test]
    fn tenants_act_only_on_themselves_and_never_govern_the_platform() {
        let registry = registry();
        let storstad: TenantId = "storstad".parse().unwrap();
        let lillby: TenantId = "lillby".parse().unwrap();
        let token = |scope| Actor::Token {
            id: "t".into(),
            scope,
        };
        let own = token(TokenScope::Tenant(storstad.clone()));
        let other = token(TokenScope::Tenant(lillby.clone()));
        assert!(authorize(&own, Action::ManageTenant(&storstad), &registry).is_ok());
        assert!(authorize(&other, Action::ManageTenant(&storstad), &registry).is_err());
        assert!(authorize(&own, Action::GovernPlatform, &registry).is_err());
        let operator = token(TokenScope::Operator);
        assert!(authorize(&operator, Action::GovernPlatform, &registry).is_ok());
        assert!(authorize(&operator, Action::ManageTenant(&lillby), &registry).is_ok());

        let admin = Actor::Person {
            hsa_id: "SE2120008889-dav04".parse().unwrap(),
            is_operator: false,
        };
        assert!(authorize(&admin, Action::ManageTenant(&storstad), &registry).is_ok());
        assert!(authorize(&admin, Action::ManageTenant(&lillby), &registry).is_err());
        assert!(authorize(&admin, Action::GovernPlatform, &registry).is_err());
        let stranger = Actor::Person {
            hsa_id: "SE2120008889-gun07".parse().unwrap(),
            is_operator: false,
        };
        assert!(authorize(&stranger, Action::ManageTenant(&storstad), &registry).is_err());
    }
}
