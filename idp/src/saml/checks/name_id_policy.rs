//! `NameIDPolicy Format`: persistent or transient (or unspecified, meaning the SP's
//! configured default); anything else (an e-mail address, a personal number in clear)
//! is refused with `InvalidNameIDPolicy`.

use super::{CheckContext, Decisions};
use crate::saml::error::SamlError;
use crate::tenants::NameIdFormat;

const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

pub fn check(ctx: &CheckContext<'_>, decisions: &mut Decisions) -> Result<(), SamlError> {
    decisions.name_id_format = Some(match ctx.request.name_id_format.as_deref() {
        None | Some(UNSPECIFIED) => ctx.sp.default_name_id_format(),
        Some(uri) => NameIdFormat::from_uri(uri).ok_or(SamlError::InvalidNameIdPolicy)?,
    });
    Ok(())
}
