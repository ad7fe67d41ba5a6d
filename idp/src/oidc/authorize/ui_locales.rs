//! `ui_locales`: the first of Swedish or English decides the login page's language.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    if let Some(locales) = c.params.get("ui_locales") {
        c.request.ui_locale = locales.split(' ').find_map(|tag| {
            let tag = tag.to_ascii_lowercase();
            if tag.starts_with("sv") {
                Some("sv".to_owned())
            } else if tag.starts_with("en") {
                Some("en".to_owned())
            } else {
                None
            }
        });
    }
    Ok(())
}
