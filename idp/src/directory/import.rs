//! Import files of HSA-style records (docs/directory.md, "Import files"), for
//! organisations that export from HSA: JSON (one object per person) or CSV (one row per
//! employment, or per commission). A person the file gets wrong is refused with its
//! position, never the whole file; what is read becomes the records of one source.

use serde::Deserialize;
use std::collections::HashMap;

use super::{Commission, Employment, Refusal, SourceRecord};
use crate::ids::{HsaId, OrganisationNumber, PersonalIdentityNumber};

/// The largest import file read.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// An import file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    Json,
    Csv,
}

impl ImportFormat {
    /// From a file name's extension.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// What a file held: the records, and the persons it got wrong.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<SourceRecord>,
    pub refused: Vec<Refusal>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is larger than {MAX_IMPORT_BYTES} bytes")]
    TooLarge,
    #[error("not a readable {format} import file: {message}")]
    Unreadable {
        format: &'static str,
        message: String,
    },
}

impl ImportError {
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::TooLarge => "IMPORT_TOO_LARGE",
            ImportError::Unreadable { .. } => "IMPORT_UNREADABLE",
        }
    }
}

pub fn parse(format: ImportFormat, bytes: &[u8]) -> Result<Parsed, ImportError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge);
    }
    match format {
        ImportFormat::Json => parse_json(bytes),
        ImportFormat::Csv => parse_csv(bytes),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFile {
    persons: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonPerson {
    personal_identity_number: Option<PersonalIdentityNumber>,
    given_name: String,
    surname: String,
    mail: Option<String>,
    employments: Vec<JsonEmployment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonEmployment {
    hsa_id: HsaId,
    organisation_number: OrganisationNumber,
    organisation_name: String,
    title: Option<String>,
    #[serde(default)]
    commissions: Vec<JsonCommission>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonCommission {
    hsa_id: HsaId,
    name: String,
    purpose: String,
    health_care_provider_hsa_id: Option<HsaId>,
    health_care_unit_hsa_id: Option<HsaId>,
    #[serde(default)]
    rights: Vec<String>,
}

/// The HSA extension of a SCIM User (`directory` reads the same shape as an import
/// file's person): personal identity number and employments.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HsaExtension {
    personal_identity_number: Option<PersonalIdentityNumber>,
    #[serde(default)]
    employments: Vec<JsonEmployment>,
}

/// Reads a SCIM User's HSA extension; the error names the field, never its value.
pub fn hsa_extension(
    value: serde_json::Value,
) -> Result<(Option<PersonalIdentityNumber>, Vec<Employment>), String> {
    let extension: HsaExtension = serde_path_to_error::deserialize(value)
        .map_err(|e| format!("{}: {}", e.path(), redact(e.inner())))?;
    Ok((
        extension.personal_identity_number,
        extension.employments.into_iter().map(employment).collect(),
    ))
}

fn employment(e: JsonEmployment) -> Employment {
    Employment {
        hsa_id: e.hsa_id,
        organisation_number: e.organisation_number,
        organisation_name: e.organisation_name,
        title: e.title,
        commissions: e
            .commissions
            .into_iter()
            .map(|c| Commission {
                hsa_id: c.hsa_id,
                name: c.name,
                purpose: c.purpose,
                health_care_provider_hsa_id: c.health_care_provider_hsa_id,
                health_care_unit_hsa_id: c.health_care_unit_hsa_id,
                rights: c.rights,
            })
            .collect(),
    }
}

/// A record's external id in an import: its first employment's HSA-id (never the
/// personal identity number, which would then show in every report).
fn record_from(
    position: &str,
    pnr: Option<PersonalIdentityNumber>,
    given_name: String,
    surname: String,
    mail: Option<String>,
    employments: Vec<Employment>,
) -> Result<SourceRecord, Refusal> {
    let Some(first) = employments.first() else {
        return Err(Refusal::new(
            position,
            "RECORD_INVALID",
            "a person without an employment (HSA-id) cannot log in".into(),
        ));
    };
    Ok(SourceRecord {
        external_id: first.hsa_id.to_string(),
        user_name: None,
        personal_identity_number: pnr,
        given_name,
        surname,
        mail: mail.filter(|m| !m.is_empty()),
        employments,
        source_attributes: None,
    })
}

fn parse_json(bytes: &[u8]) -> Result<Parsed, ImportError> {
    let file: JsonFile = serde_json::from_slice(bytes).map_err(|e| ImportError::Unreadable {
        format: "JSON",
        message: e.to_string(),
    })?;
    let mut parsed = Parsed::default();
    for (i, value) in file.persons.into_iter().enumerate() {
        let position = format!("persons[{i}]");
        let person = match serde_path_to_error::deserialize::<_, JsonPerson>(value) {
            Ok(person) => person,
            Err(e) => {
                // The path names the field; the value itself may be a personal number.
                parsed.refused.push(Refusal::new(
                    &position,
                    "RECORD_INVALID",
                    format!("{}: {}", e.path(), redact(e.inner())),
                ));
                continue;
            }
        };
        let employments = person.employments.into_iter().map(employment).collect();
        match record_from(
            &position,
            person.personal_identity_number,
            person.given_name,
            person.surname,
            person.mail,
            employments,
        ) {
            Ok(record) => parsed.records.push(record),
            Err(refusal) => parsed.refused.push(refusal),
        }
    }
    Ok(parsed)
}

/// A serde error's message without the offending value (serde quotes it: `invalid
/// value: string "19121212..."`), which may be a personal identity number.
fn redact(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.find(": string \"") {
        Some(at) => format!("{}: invalid value", &message[..at]),
        None => message,
    }
}

/// The CSV columns, in any order; `hsa_id`, `organisation_number`, `organisation_name`,
/// `given_name` and `surname` are required, the others may be absent or empty.
const CSV_REQUIRED: [&str; 5] = [
    "hsa_id",
    "organisation_number",
    "organisation_name",
    "given_name",
    "surname",
];

#[derive(Default)]
struct CsvPerson {
    first_line: u64,
    pnr: Option<PersonalIdentityNumber>,
    given_name: String,
    surname: String,
    mail: Option<String>,
    employments: Vec<Employment>,
    error: Option<String>,
}

fn parse_csv(bytes: &[u8]) -> Result<Parsed, ImportError> {
    let unreadable = |message: String| ImportError::Unreadable {
        format: "CSV",
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| unreadable(e.to_string()))?
        .clone();
    let column: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    if let Some(missing) = CSV_REQUIRED.iter().find(|c| !column.contains_key(*c)) {
        return Err(unreadable(format!("no column {missing:?} in the header")));
    }
    // Persons by personal identity number (or, without one, by employment HSA-id), in
    // the order they first appear.
    let mut order: Vec<String> = Vec::new();
    let mut persons: HashMap<String, CsvPerson> = HashMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| unreadable(e.to_string()))?;
        let line = row.position().map_or(0, |p| p.line());
        let field =
            |name: &str| -> &str { column.get(name).and_then(|&i| row.get(i)).unwrap_or("") };
        let optional = |name: &str| Some(field(name).to_owned()).filter(|v| !v.is_empty());
        let key = match field("personal_identity_number") {
            "" => format!("hsa:{}", field("hsa_id")),
            number => format!("pnr:{number}"),
        };
        let person = persons.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            CsvPerson {
                first_line: line,
                given_name: field("given_name").to_owned(),
                surname: field("surname").to_owned(),
                mail: optional("mail"),
                ..CsvPerson::default()
            }
        });
        if person.error.is_some() {
            continue;
        }
        if let Err(message) = add_csv_row(person, &field) {
            person.error = Some(format!("line {line}: {message}"));
        }
    }
    let mut parsed = Parsed::default();
    for key in order {
        let person = persons.remove(&key).unwrap_or_default();
        let position = format!("line {}", person.first_line);
        if let Some(error) = person.error {
            parsed
                .refused
                .push(Refusal::new(&position, "RECORD_INVALID", error));
            continue;
        }
        match record_from(
            &position,
            person.pnr,
            person.given_name,
            person.surname,
            person.mail,
            person.employments,
        ) {
            Ok(record) => parsed.records.push(record),
            Err(refusal) => parsed.refused.push(refusal),
        }
    }
    Ok(parsed)
}

/// One CSV row into its person: the employment (new or repeated) and its commission.
fn add_csv_row<'a>(person: &mut CsvPerson, field: &impl Fn(&str) -> &'a str) -> Result<(), String> {
    let hsa_id = |name: &str| -> Result<Option<HsaId>, String> {
        match field(name) {
            "" => Ok(None),
            value => value
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}: not an HSA-id")),
        }
    };
    let number = field("personal_identity_number");
    if person.pnr.is_none() && !number.is_empty() {
        person.pnr = Some(
            number
                .parse()
                .map_err(|_| "personal_identity_number: not a valid number".to_owned())?,
        );
    }
    let employment_id = hsa_id("hsa_id")?.ok_or("hsa_id: empty")?;
    let index = match person
        .employments
        .iter()
        .position(|e| e.hsa_id == employment_id)
    {
        Some(index) => index,
        None => {
            person.employments.push(Employment {
                hsa_id: employment_id,
                organisation_number: field("organisation_number")
                    .parse()
                    .map_err(|_| "organisation_number: not an organisation number")?,
                organisation_name: field("organisation_name").to_owned(),
                title: Some(field("title").to_owned()).filter(|t| !t.is_empty()),
                commissions: Vec::new(),
            });
            person.employments.len() - 1
        }
    };
    if let Some(commission_id) = hsa_id("commission_hsa_id")? {
        person.employments[index].commissions.push(Commission {
            hsa_id: commission_id,
            name: field("commission_name").to_owned(),
            purpose: field("commission_purpose").to_owned(),
            health_care_provider_hsa_id: hsa_id("health_care_provider_hsa_id")?,
            health_care_unit_hsa_id: hsa_id("health_care_unit_hsa_id")?,
            rights: field("commission_rights")
                .split(';')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\
personal_identity_number,given_name,surname,mail,hsa_id,organisation_number,organisation_name,title,commission_hsa_id,commission_name,commission_purpose,health_care_provider_hsa_id,health_care_unit_hsa_id,commission_rights
198001012387,Anna,Andersson,anna@lillby.example,SE2120007774-a1,2120007774,Lillby kommun,Nurse,SE2120007774-c1,Home care,Vård och behandling,,SE2120007774-u1,Läsa;Skriva
198001012387,Anna,Andersson,anna@lillby.example,SE2120007774-a1,2120007774,Lillby kommun,Nurse,SE2120007774-c2,Night care,Vård och behandling,,,Läsa
,Bo,Berg,,SE2120007774-b1,2120007774,Lillby kommun,,,,,,,
198001012387,Anna,Andersson,,SE2120007774-a2,2120007774,Lillby kommun,,,,,,,
191212121213,Bad,Number,,SE2120007774-x1,2120007774,Lillby kommun,,,,,,,
";

    #[test]
    fn csv_rows_group_into_persons_employments_and_commissions() {
        let parsed = parse(ImportFormat::Csv, CSV.as_bytes()).unwrap();
        assert_eq!(parsed.records.len(), 2);
        let anna = &parsed.records[0];
        assert_eq!(anna.external_id, "SE2120007774-a1");
        assert_eq!(anna.employments.len(), 2);
        assert_eq!(anna.employments[0].commissions.len(), 2);
        assert_eq!(
            anna.employments[0].commissions[0].rights,
            ["Läsa", "Skriva"]
        );
        assert_eq!(
            anna.employments[0].commissions[0]
                .health_care_unit_hsa_id
                .as_ref()
                .map(HsaId::as_str),
            Some("SE2120007774-u1")
        );
        let bo = &parsed.records[1];
        assert_eq!(bo.personal_identity_number, None);
        assert_eq!(bo.mail, None);
        // The bad number is refused by its line, and the number is not repeated.
        assert_eq!(parsed.refused.len(), 1);
        assert_eq!(parsed.refused[0].record, "line 6");
        assert!(!parsed.refused[0].reason.contains("191212121213"));
    }

    #[test]
    fn json_persons_are_refused_one_by_one() {
        let json = r#"{"persons": [
            {"personalIdentityNumber": "198001012387", "givenName": "Anna", "surname": "A",
             "employments": [{"hsaId": "SE2120007774-a1", "organisationNumber": "2120007774",
                              "organisationName": "Lillby kommun",
                              "commissions": [{"hsaId": "SE2120007774-c1", "name": "Care",
                                               "purpose": "Vård och behandling", "rights": ["Läsa"]}]}]},
            {"personalIdentityNumber": "191212121213", "givenName": "Bad", "surname": "B",
             "employments": []},
            {"givenName": "No", "surname": "Job", "employments": []}
        ]}"#;
        let parsed = parse(ImportFormat::Json, json.as_bytes()).unwrap();
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(
            parsed.records[0].employments[0].commissions[0].rights,
            ["Läsa"]
        );
        let refused: Vec<(&str, &str)> = parsed
            .refused
            .iter()
            .map(|r| (r.record.as_str(), r.code.as_str()))
            .collect();
        assert_eq!(
            refused,
            [
                ("persons[1]", "RECORD_INVALID"),
                ("persons[2]", "RECORD_INVALID")
            ]
        );
        assert!(parsed.refused[0].reason.contains("personalIdentityNumber"));
        assert!(
            !parsed.refused[0].reason.contains("191212121213"),
            "{}",
            parsed.refused[0].reason
        );
    }

    #[test]
    fn a_file_without_required_columns_is_unreadable() {
        let error = parse(ImportFormat::Csv, b"given_name,surname\nA,B\n").unwrap_err();
        assert_eq!(error.code(), "IMPORT_UNREADABLE");
        assert!(error.to_string().contains("hsa_id"));
    }
}
