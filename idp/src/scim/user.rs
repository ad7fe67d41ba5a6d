//! A SCIM User and the directory record it is. The client's resource is kept as sent
//! (less what the server owns: `id`, `meta`, `schemas`, `active`, and `password`, which
//! is never stored), so that it reads back as written; what the directory uses is
//! taken from it: `userName`, `name`, the primary e-mail, and the HSA extension's
//! personal identity number and employments.

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;

use super::{get_ci, ScimError, ENTERPRISE_SCHEMA, HSA_SCHEMA, USER_SCHEMA};
use crate::directory::{import::hsa_extension, SourceRecord, StoredRecord};

/// Attributes the server owns: whatever a client sends for them is dropped. (`active`
/// is kept as sent: a User without it is active, and reads back without it.)
const SERVER_OWNED: [&str; 4] = ["id", "meta", "schemas", "password"];

/// The resource a client sent, as the record `id` (and whether it is active).
pub fn record_from_resource(id: &str, resource: Value) -> Result<(SourceRecord, bool), ScimError> {
    let Value::Object(mut object) = resource else {
        return Err(ScimError::invalid_syntax("a User is a JSON object"));
    };
    let active = match get_ci(&object, "active").map(|(_, v)| v) {
        None | Some(Value::Null) => true,
        Some(Value::Bool(active)) => *active,
        Some(_) => return Err(ScimError::invalid_value("active: not a boolean")),
    };
    object.retain(|key, _| {
        !SERVER_OWNED
            .iter()
            .any(|owned| key.eq_ignore_ascii_case(owned))
    });
    let text = |object: &Map<String, Value>, name: &str| -> Result<Option<String>, ScimError> {
        match get_ci(object, name).map(|(_, v)| v) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::invalid_value(format!("{name}: not a string"))),
        }
    };
    let user_name = text(&object, "userName")?
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let (given_name, surname) = match get_ci(&object, "name").map(|(_, v)| v) {
        Some(Value::Object(name)) => (text(name, "givenName")?, text(name, "familyName")?),
        None | Some(Value::Null) => (None, None),
        Some(_) => return Err(ScimError::invalid_value("name: not an object")),
    };
    // A User needs only a userName; the directory shows it when there is no name.
    let (given_name, surname) = match (given_name, surname) {
        (None, None) => (
            String::new(),
            text(&object, "displayName")?.unwrap_or_else(|| user_name.clone()),
        ),
        (given, family) => (given.unwrap_or_default(), family.unwrap_or_default()),
    };
    let mail = primary_email(&object)?;
    let (pnr, employments) = match get_ci(&object, HSA_SCHEMA).map(|(_, v)| v.clone()) {
        None | Some(Value::Null) => (None, Vec::new()),
        Some(extension) => hsa_extension(extension)
            .map_err(|e| ScimError::invalid_value(format!("{HSA_SCHEMA}: {e}")))?,
    };
    let record = SourceRecord {
        external_id: id.to_owned(),
        user_name: Some(user_name),
        personal_identity_number: pnr,
        given_name,
        surname,
        mail,
        employments,
        source_attributes: Some(Value::Object(object)),
    };
    record
        .check()
        .map_err(|refusal| ScimError::invalid_value(refusal.reason))?;
    Ok((record, active))
}

/// The primary e-mail, else the first.
fn primary_email(object: &Map<String, Value>) -> Result<Option<String>, ScimError> {
    let emails = match get_ci(object, "emails").map(|(_, v)| v) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(emails)) => emails,
        Some(_) => return Err(ScimError::invalid_value("emails: not a list")),
    };
    let value = |email: &Value| {
        email
            .as_object()
            .and_then(|e| get_ci(e, "value"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned)
    };
    let primary = emails.iter().find(|e| {
        e.as_object()
            .and_then(|e| get_ci(e, "primary"))
            .is_some_and(|(_, p)| p == &Value::Bool(true))
    });
    Ok(primary.or(emails.first()).and_then(value))
}

/// `meta.version` and the `ETag` of a stored record.
pub fn etag(stored: &StoredRecord) -> String {
    format!("W/\"{}\"", stored.version)
}

fn timestamp(ms: i64) -> Value {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// The stored record as the SCIM User it was written as, with what the server owns.
pub fn resource(stored: &StoredRecord, base_url: &str) -> Value {
    let mut object = match &stored.record.source_attributes {
        Some(Value::Object(object)) => object.clone(),
        _ => Map::new(),
    };
    let id = &stored.record.external_id;
    let mut schemas = vec![json!(USER_SCHEMA)];
    for extension in [ENTERPRISE_SCHEMA, HSA_SCHEMA] {
        if get_ci(&object, extension).is_some() {
            schemas.push(json!(extension));
        }
    }
    object.insert("schemas".into(), Value::Array(schemas));
    object.insert("id".into(), json!(id));
    if stored.disabled_at_ms.is_some() {
        object.retain(|key, _| !key.eq_ignore_ascii_case("active"));
        object.insert("active".into(), json!(false));
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": timestamp(stored.created_at_ms),
            "lastModified": timestamp(stored.updated_at_ms),
            "location": format!("{base_url}/Users/{id}"),
            "version": etag(stored),
        }),
    );
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_reads_back_as_written_without_its_password() {
        let sent = json!({
            "schemas": [USER_SCHEMA, HSA_SCHEMA],
            "userName": "anna@lillby.example",
            "externalId": "ad-4711",
            "name": {"givenName": "Anna", "familyName": "Andersson"},
            "emails": [{"value": "home@example.org"}, {"value": "anna@lillby.example", "primary": true}],
            "password": "hunter2",
            "active": false,
            HSA_SCHEMA: {
                "personalIdentityNumber": "198001012387",
                "employments": [{"hsaId": "SE2120007774-a1", "organisationNumber": "2120007774",
                                 "organisationName": "Lillby kommun"}]
            }
        });
        let (record, active) = record_from_resource("id-1", sent).unwrap();
        assert!(!active);
        assert_eq!(record.mail.as_deref(), Some("anna@lillby.example"));
        assert_eq!(record.employments[0].hsa_id.as_str(), "SE2120007774-a1");
        assert_eq!(
            record.personal_identity_number.as_ref().map(|p| p.as_str()),
            Some("198001012387")
        );
        let stored = StoredRecord {
            record,
            person_id: "p".into(),
            version: 3,
            created_at_ms: 0,
            updated_at_ms: 1000,
            disabled_at_ms: Some(1000),
        };
        let back = resource(&stored, "https://idp.example/scim/v2");
        assert_eq!(back["externalId"], "ad-4711");
        assert_eq!(back["active"], false);
        assert_eq!(back["meta"]["version"], "W/\"3\"");
        assert_eq!(
            back["meta"]["location"],
            "https://idp.example/scim/v2/Users/id-1"
        );
        assert_eq!(back["schemas"], json!([USER_SCHEMA, HSA_SCHEMA]));
        assert!(back.get("password").is_none());
    }

    #[test]
    fn a_bad_personal_number_is_named_but_not_repeated() {
        let sent = json!({"userName": "x", HSA_SCHEMA: {"personalIdentityNumber": "191212121213"}});
        let error = record_from_resource("id", sent).unwrap_err();
        assert_eq!(error.scim_type, Some("invalidValue"));
        assert!(
            error.detail.contains("personalIdentityNumber"),
            "{}",
            error.detail
        );
        assert!(!error.detail.contains("191212121213"));
    }
}
