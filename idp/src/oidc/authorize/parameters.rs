//! No parameter twice (RFC 6749 section 3.1), none longer than the configured limit.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    let mut seen = std::collections::HashSet::new();
    for (name, value) in c.params.pairs() {
        if !seen.insert(name.as_str()) {
            return Err(OidcError::RepeatedParameter(short(name)));
        }
        if value.len() > c.max_parameter_length || name.len() > c.max_parameter_length {
            return Err(OidcError::ParameterTooLong(short(name)));
        }
    }
    Ok(())
}

/// A parameter name as it may appear in a message (bounded).
fn short(name: &str) -> String {
    name.chars().take(40).collect()
}
