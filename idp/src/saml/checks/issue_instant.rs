//! `IssueInstant` within the accepted window (not older than the request lifetime, not
//! further ahead than the clock skew): an old captured request cannot be used again
//! after its ID has left the replay cache.

use std::time::Duration;

use super::{CheckContext, Decisions};
use crate::saml::error::SamlError;

pub fn check(ctx: &CheckContext<'_>, _: &mut Decisions) -> Result<(), SamlError> {
    let skew = Duration::from_secs(ctx.config.clock_skew_seconds);
    let max_age = Duration::from_secs(ctx.config.request_max_age_seconds);
    let issued = ctx.request.issue_instant;
    if issued > ctx.now + skew || issued + max_age + skew < ctx.now {
        return Err(SamlError::Expired);
    }
    Ok(())
}
