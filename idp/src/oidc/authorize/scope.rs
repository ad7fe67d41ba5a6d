//! `scope` contains `openid`, and only scopes the client may use.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    let scope = c
        .params
        .get("scope")
        .ok_or_else(|| OidcError::InvalidScope("scope is missing".into()))?;
    let scopes: Vec<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OidcError::InvalidScope("scope must contain openid".into()));
    }
    let client = c.client()?;
    if let Some(refused) = scopes
        .iter()
        .find(|s| *s != "openid" && !client.scopes.contains(s))
    {
        let shown: String = refused.chars().take(80).collect();
        return Err(OidcError::InvalidScope(format!(
            "scope {shown:?} is not allowed for this client"
        )));
    }
    let mut unique = scopes;
    unique.dedup();
    c.request.scopes = unique;
    Ok(())
}
