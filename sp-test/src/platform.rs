//! `sp-test platform`: a generated platform of many organisations, for benchmarks of
//! the registry at the size it is built for (one region and 49 municipalities, 20
//! applications each). The three development tenants are copied as they are (their
//! users, certificates and applications keep working), and the other municipalities are
//! generated: each with half its applications SAML service providers (metadata written
//! beside the tenant files, signed with the test SP's development key) and half
//! confidential OIDC clients, and grants for the region's shared applications. With
//! `persons`, each generated municipality also gets an HSA-style import file of its
//! staff (`directory/<tenant>.csv`, for `idp directory import --tenant <tenant>`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::saml_sp::SamlSp;

/// What to write.
pub struct PlatformRequest {
    /// The repository root (config/tenants and certs-dev are read from it).
    pub root: PathBuf,
    /// Where `tenants/` and `metadata/` are written.
    pub out: PathBuf,
    /// Tenants in all, the three development tenants included.
    pub tenants: usize,
    /// Applications of each generated tenant.
    pub applications: usize,
    /// Directory persons in all, spread evenly over the generated tenants (0: none).
    pub persons: usize,
    /// The base URL of the test applications (sp-test serve).
    pub applications_url: String,
    /// The IdP's base URL (the SAML SPs' metadata names it).
    pub idp_url: String,
}

/// What was written.
#[derive(Debug, serde::Serialize)]
pub struct PlatformReport {
    pub tenants: usize,
    pub applications: usize,
    pub persons: usize,
    pub tenants_dir: PathBuf,
    /// The import files, one per generated tenant (empty without persons).
    pub directory_files: Vec<(String, PathBuf)>,
}

/// The development tenants, copied as they are.
const DEVELOPMENT_TENANTS: [&str; 3] = ["region", "storstad", "lillby"];

/// The development secret of the generated OIDC clients: "dev-secret-storstad-personal"
/// (docs/oidc.md), so a load driver can use any of them.
const CLIENT_SECRET_SHA256: &str =
    "f6480100f465ef1eb8749777223eff66c347d8a5a64514fe7d135e84eb4f43b3";

/// What a grant releases to the region's shared applications.
const GRANTED_ATTRIBUTES: &str = r#"["givenName", "surname", "displayName", "employeeHsaId", "mail", "organizationName", "organizationIdentifier", "orgAffiliation", "commissionHsaId", "commissionName", "commissionPurpose", "commissionRight", "healthCareProviderHsaId", "healthCareUnitHsaId"]"#;

pub fn write(request: &PlatformRequest) -> Result<PlatformReport, String> {
    let tenants_dir = request.out.join("tenants");
    let metadata_dir = request.out.join("metadata");
    let directory_dir = request.out.join("directory");
    for dir in [&tenants_dir, &metadata_dir, &directory_dir] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut applications = 0;
    for id in DEVELOPMENT_TENANTS {
        let from = request.root.join(format!("config/tenants/{id}.toml"));
        let text =
            std::fs::read_to_string(&from).map_err(|e| format!("{}: {e}", from.display()))?;
        // Their metadata files are named relative to the repository root.
        let text = text.replace(
            "metadata_file = \"config/",
            &format!("metadata_file = \"{}/config/", request.root.display()),
        );
        applications +=
            text.matches("[[saml_sp]]").count() + text.matches("[[oidc_client]]").count();
        write_file(&tenants_dir.join(format!("{id}.toml")), &text)?;
    }
    let generated = request.tenants.saturating_sub(DEVELOPMENT_TENANTS.len());
    let mut directory_files = Vec::new();
    let mut persons = 0;
    for n in 1..=generated {
        let text = municipality(request, n, &metadata_dir)?;
        write_file(&tenants_dir.join(format!("{}.toml", tenant_id(n))), &text)?;
        applications += request.applications;
        // The first tenants take one more person each when the count does not divide.
        let staff = request.persons / generated + usize::from(n <= request.persons % generated);
        if staff > 0 {
            let file = directory_dir.join(format!("{}.csv", tenant_id(n)));
            write_file(&file, &staff_csv(n, persons, staff))?;
            directory_files.push((tenant_id(n), file));
            persons += staff;
        }
    }
    Ok(PlatformReport {
        tenants: DEVELOPMENT_TENANTS.len() + generated,
        applications,
        persons,
        tenants_dir,
        directory_files,
    })
}

fn tenant_id(n: usize) -> String {
    format!("kommun-{n:02}")
}

/// A generated municipality's organisation number: 2120010NN with its check digit
/// (the development tenants' numbers begin 212000 and 232100).
fn organisation_number(n: usize) -> String {
    with_check_digit(&format!("{:09}", 212_001_000 + n))
}

/// The `index`th generated person's personal identity number: born in the 1950s (the
/// development persons are born 1966-1992), serial 100-999, with its check digit.
pub(crate) fn personal_identity_number(index: usize) -> String {
    let day = index / 900;
    let (year, month, date) = (50 + day / (12 * 28), 1 + (day / 28) % 12, 1 + day % 28);
    let serial = 100 + index % 900;
    let ten = with_check_digit(&format!("{year:02}{month:02}{date:02}{serial:03}"));
    format!("19{ten}")
}

/// `body` (ASCII digits) and its Luhn check digit.
fn with_check_digit(body: &str) -> String {
    format!("{body}{}", idp::ids::luhn_digit(body.as_bytes()))
}

/// Municipality `n`'s staff, persons `first..first + count` of the platform, as an
/// import file: one employment each, every tenth person with a commission.
fn staff_csv(n: usize, first: usize, count: usize) -> String {
    let number = organisation_number(n);
    let mut csv = String::from(
        "personal_identity_number,given_name,surname,mail,hsa_id,organisation_number,\
         organisation_name,title,commission_hsa_id,commission_name,commission_purpose\n",
    );
    for index in first..first + count {
        let pnr = personal_identity_number(index);
        let commission = if index % 10 == 0 {
            format!("SE{number}-u{index},Hemtjänst {n:02},Vård och behandling")
        } else {
            ",,".to_owned()
        };
        let _ = writeln!(
            csv,
            "{pnr},Person,Nummer {index},p{index}@kommun-{n:02}.example,SE{number}-p{index},\
             {number},Kommun {n:02},Undersköterska,{commission}"
        );
    }
    csv
}

fn municipality(
    request: &PlatformRequest,
    n: usize,
    metadata_dir: &Path,
) -> Result<String, String> {
    let id = tenant_id(n);
    let number = organisation_number(n);
    let apps = request.applications_url.trim_end_matches('/');
    let mut text = String::new();
    let _ = write!(
        text,
        "# Generated by `sp-test platform`: municipality {n} of a benchmark platform.\n\n\
         id = \"{id}\"\nkind = \"municipality\"\norganisation_number = \"{number}\"\n\
         display_name = {{ sv = \"Kommun {n:02}\", en = \"Municipality {n:02}\" }}\n\
         admins = [\"SE{number}-adm01\"]\n\n\
         [users]\nhsa_id_prefixes = [\"SE{number}-\"]\norganisation_numbers = [\"{number}\"]\n"
    );
    let saml_count = request.applications / 2;
    for k in 1..=saml_count {
        let entity_id = format!("{apps}/sp/{id}-sp-{k:02}");
        let sp = SamlSp::with_dev_keys(
            &request.root,
            &entity_id,
            &request.idp_url,
            &request.idp_url,
            false,
        )?;
        let metadata = metadata_dir.join(format!("{id}-sp-{k:02}.xml"));
        write_file(&metadata, &sp.metadata())?;
        let _ = write!(
            text,
            "\n[[saml_sp]]\nid = \"sp-{k:02}\"\n\
             display_name = {{ sv = \"Tjänst {k:02}\", en = \"Service {k:02}\" }}\n\
             entity_id = \"{entity_id}\"\nprofile = \"sambi\"\nmetadata_file = \"{}\"\n",
            metadata.display()
        );
    }
    for k in saml_count + 1..=request.applications {
        let client_id = format!("{id}-app-{k:02}");
        let _ = write!(
            text,
            "\n[[oidc_client]]\nid = \"app-{k:02}\"\n\
             display_name = {{ sv = \"Appen {k:02}\", en = \"App {k:02}\" }}\n\
             client_id = \"{client_id}\"\ntoken_endpoint_auth_method = \"client_secret_basic\"\n\
             client_secret_sha256 = \"{CLIENT_SECRET_SHA256}\"\n\
             scopes = [\"openid\", \"profile\", \"hsa\"]\n\
             redirect_uris = [\"{apps}/rp/{client_id}/callback\"]\n"
        );
    }
    for application in ["region/journal", "region/appen"] {
        let _ = write!(
            text,
            "\n[[grant]]\napplication = \"{application}\"\nattributes = {GRANTED_ATTRIBUTES}\n"
        );
    }
    Ok(text)
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_numbers_parse_and_differ() {
        let numbers: Vec<String> = (1..=99).map(organisation_number).collect();
        for number in &numbers {
            assert!(
                number.parse::<idp::ids::OrganisationNumber>().is_ok(),
                "{number} has a bad check digit"
            );
        }
        assert!(all_differ(&numbers));
    }

    fn all_differ(numbers: &[String]) -> bool {
        numbers
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
            == numbers.len()
    }

    #[test]
    fn personal_identity_numbers_parse_and_differ() {
        let numbers: Vec<String> = (0..100_000).map(personal_identity_number).collect();
        for number in numbers.iter().step_by(97) {
            assert!(
                number.parse::<idp::ids::PersonalIdentityNumber>().is_ok(),
                "{number} has a bad check digit"
            );
        }
        assert!(all_differ(&numbers));
        assert!(
            numbers.iter().all(|n| n.starts_with("195")),
            "born in the 1950s"
        );
    }
}
