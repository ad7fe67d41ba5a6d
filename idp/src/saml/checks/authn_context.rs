//! `RequestedAuthnContext`: the LoAs the SP accepts, in its profile's URIs, compared
//! `exact`ly (both profiles require it; `minimum` is also understood). What the IdP can
//! deliver (its trust configuration) and the SP's `required_loa` narrow the set; an
//! empty set is `NoAuthnContext`. Without a request, any LoA the SP allows will do.

use super::{CheckContext, Decisions};
use crate::auth::Loa;
use crate::saml::attributes::loa_from_uri;
use crate::saml::error::SamlError;

pub fn check(ctx: &CheckContext<'_>, decisions: &mut Decisions) -> Result<(), SamlError> {
    let profile = ctx.sp.profile();
    let floor = ctx
        .sp
        .config
        .required_loa
        .and_then(Loa::from_level)
        .unwrap_or(Loa::Loa2);
    let requested: Vec<Loa> = match &ctx.request.requested_authn_context {
        None => ctx.deliverable.to_vec(),
        Some(requested) => {
            let named: Vec<Loa> = requested
                .class_refs
                .iter()
                .filter_map(|uri| loa_from_uri(profile, uri))
                .collect();
            match requested.comparison.as_str() {
                "exact" => named,
                "minimum" => match named.iter().min() {
                    Some(lowest) => ctx
                        .deliverable
                        .iter()
                        .copied()
                        .filter(|l| l >= lowest)
                        .collect(),
                    None => Vec::new(),
                },
                _ => Vec::new(),
            }
        }
    };
    decisions.acceptable_loas = requested
        .into_iter()
        .filter(|loa| *loa >= floor && ctx.deliverable.contains(loa))
        .collect();
    if decisions.acceptable_loas.is_empty() {
        return Err(SamlError::NoAuthnContext);
    }
    Ok(())
}
