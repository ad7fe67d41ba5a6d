//! `login_hint`: an employee HSA-id. When it names a person in the directory, only that
//! person may complete the login.

use super::Checking;
use crate::ids::HsaId;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    if let Some(hint) = c.params.get("login_hint") {
        c.request.login_hint = hint.parse::<HsaId>().ok();
    }
    Ok(())
}
