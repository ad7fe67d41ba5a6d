//! `client_id` names a registered client.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    let client_id = c.params.get("client_id").ok_or(OidcError::UnknownClient)?;
    let (tenant, client) = c
        .tenants
        .find_oidc_client(client_id)
        .ok_or(OidcError::UnknownClient)?;
    c.request.client_id = client.client_id.clone();
    c.client = Some((tenant.clone(), client.clone()));
    Ok(())
}
