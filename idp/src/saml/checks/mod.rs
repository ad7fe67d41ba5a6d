//! The AuthnRequest checks, one small file each, run in the order declared here. The
//! first group protects the IdP and the user (an unverified request, an unlisted ACS):
//! their failures end on an error page. The second group judges what is asked of a
//! verified request: their failures go back to the SP as a SAML status.

mod acs_url;
mod authn_context;
mod destination;
mod issue_instant;
mod name_id_policy;
pub(crate) mod signature;
mod subject;

use time::OffsetDateTime;

use super::error::SamlError;
use super::inbound::Received;
use super::metadata::Endpoint;
use super::registry::ServiceProvider;
use super::request::AuthnRequest;
use crate::auth::Loa;
use crate::config::SamlConfig;
use crate::tenants::NameIdFormat;

/// What the checks see.
pub struct CheckContext<'a> {
    pub sp: &'a ServiceProvider,
    pub received: &'a Received,
    pub request: &'a AuthnRequest,
    pub config: &'a SamlConfig,
    /// The URL the message was sent to (`<public_url>/saml/sso`).
    pub endpoint_url: &'a str,
    /// LoAs the IdP can deliver (from its trust configuration).
    pub deliverable: &'a [Loa],
    pub now: OffsetDateTime,
}

/// What the checks decide.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    pub acs: Option<Endpoint>,
    pub name_id_format: Option<NameIdFormat>,
    pub acceptable_loas: Vec<Loa>,
}

type Check = fn(&CheckContext<'_>, &mut Decisions) -> Result<(), SamlError>;

/// Failures end on an error page.
const PROTECTING: [(&str, Check); 4] = [
    ("signature", signature::check),
    ("destination", destination::check),
    ("issue_instant", issue_instant::check),
    ("acs_url", acs_url::check),
];

/// Failures go back to the SP's (now verified) ACS.
const JUDGING: [(&str, Check); 3] = [
    ("subject", subject::check),
    ("name_id_policy", name_id_policy::check),
    ("authn_context", authn_context::check),
];

/// Runs the protecting checks; `Err` is for an error page.
pub fn protect(ctx: &CheckContext<'_>, decisions: &mut Decisions) -> Result<(), SamlError> {
    run(&PROTECTING, ctx, decisions)
}

/// Runs the judging checks; `Err` carries a SAML status for the SP.
pub fn judge(ctx: &CheckContext<'_>, decisions: &mut Decisions) -> Result<(), SamlError> {
    run(&JUDGING, ctx, decisions)
}

fn run(
    checks: &[(&str, Check)],
    ctx: &CheckContext<'_>,
    decisions: &mut Decisions,
) -> Result<(), SamlError> {
    for (name, check) in checks {
        if let Err(e) = check(ctx, decisions) {
            tracing::info!(check = name, code = e.code(), sp = %ctx.sp.entity_id, "AuthnRequest refused");
            return Err(e);
        }
    }
    Ok(())
}
