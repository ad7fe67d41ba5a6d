//! `acr_values`: the levels of assurance the client would like (voluntary). Only the
//! Swedish eID Framework and Sambi LoA URIs are recognised; the ID token's `acr` states
//! the level actually reached, which the client must check.

use super::Checking;
use crate::auth::Loa;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    if let Some(values) = c.params.get("acr_values") {
        c.request.acr_values = values
            .split(' ')
            .filter(|v| {
                [Loa::Loa2, Loa::Loa3, Loa::Loa4]
                    .iter()
                    .any(|l| l.swedish_eid_uri() == *v || l.sambi_uri() == *v)
            })
            .map(str::to_owned)
            .collect();
    }
    Ok(())
}
