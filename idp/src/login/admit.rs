//! Single sign-on re-checks admission for every application, against the person as the
//! directory has them now (never against the organisation cached in the session): a
//! person employed by two organisations reaches each application through whichever
//! employment it admits, and the assertion names that one.

use super::SsoSession;
use crate::auth::IdentityError;
use crate::directory::{Directory, Person};
use crate::tenants::{Admission, Application, Tenant, Tenants};

/// The person of `session`, admitted to `application` of `owner`, or why not.
pub async fn admit_session(
    directory: &dyn Directory,
    tenants: &Tenants,
    owner: &Tenant,
    application: &Application<'_>,
    session: &SsoSession,
) -> Result<(Person, Admission), IdentityError> {
    let person = directory
        .find_by_hsa_id(&session.employee_hsa_id)
        .await?
        .ok_or(IdentityError::UnknownUser)?;
    let employments = if session.is_employment_bound {
        person
            .employment(&session.employee_hsa_id)
            .cloned()
            .into_iter()
            .collect()
    } else {
        person.employments.clone()
    };
    let admission = tenants.admit(
        owner,
        application,
        &employments,
        session.issuer_name.as_deref(),
    )?;
    Ok((person, admission))
}
