//! `acr_values`: the levels of assurance the client accepts, as Swedish eID Framework or
//! Sambi LoA URIs. They are enforced, as SAML's exact comparison is: a single sign-on
//! session below them is stepped up by a new login, a login that does not reach them is
//! answered with `unmet_authentication_requirements`, and the ID token's `acr` is one of
//! the values asked for. A request naming only unknown values cannot be met at all.

use super::{AuthorizationRequest, Checking};
use crate::auth::Loa;
use crate::oidc::OidcError;

const LEVELS: [Loa; 3] = [Loa::Loa2, Loa::Loa3, Loa::Loa4];

/// The level an `acr` URI names, in either profile.
fn level_of(uri: &str) -> Option<Loa> {
    LEVELS
        .into_iter()
        .find(|l| l.swedish_eid_uri() == uri || l.sambi_uri() == uri)
}

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    if let Some(values) = c.params.get("acr_values") {
        c.request.acr_values = values
            .split(' ')
            .filter(|v| level_of(v).is_some())
            .map(str::to_owned)
            .collect();
        if c.request.acr_values.is_empty() {
            return Err(OidcError::UnmetAuthenticationRequirements);
        }
    }
    Ok(())
}

impl AuthorizationRequest {
    /// The `acr` to state for a login at `loa`: the first value the client asked for at
    /// that level, or, when it asked for none, the Swedish eID URI. `None`: the client
    /// does not accept a login at `loa`.
    pub fn acr_for(&self, loa: Loa) -> Option<String> {
        if self.acr_values.is_empty() {
            return Some(loa.swedish_eid_uri().to_owned());
        }
        self.acr_values
            .iter()
            .find(|v| level_of(v) == Some(loa))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_acr_is_one_the_client_asked_for() {
        let mut request = AuthorizationRequest::default();
        assert_eq!(
            request.acr_for(Loa::Loa2).as_deref(),
            Some(Loa::Loa2.swedish_eid_uri())
        );
        request.acr_values = vec![Loa::Loa3.sambi_uri().to_owned()];
        assert_eq!(request.acr_for(Loa::Loa2), None);
        assert_eq!(request.acr_for(Loa::Loa4), None);
        assert_eq!(
            request.acr_for(Loa::Loa3).as_deref(),
            Some(Loa::Loa3.sambi_uri())
        );
    }
}
