//! `prompt`: `none` (never show a page; `login_required` without a session) or `login`
//! (always authenticate again). Other values are not supported.

use super::{Checking, Prompt};
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    let Some(prompt) = c.params.get("prompt") else {
        return Ok(());
    };
    let values: Vec<&str> = prompt.split(' ').filter(|v| !v.is_empty()).collect();
    c.request.prompt = match values.as_slice() {
        [] => Prompt::Default,
        ["none"] => Prompt::None,
        ["login"] => Prompt::Login,
        v if v.contains(&"none") => {
            return Err(OidcError::InvalidRequest("prompt=none cannot be combined"))
        }
        _ => {
            return Err(OidcError::InvalidRequest(
                "prompt supports none and login only",
            ))
        }
    };
    Ok(())
}
