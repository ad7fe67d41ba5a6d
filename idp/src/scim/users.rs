//! The User operations of one tenant's SCIM source: read, list with filter and paging,
//! create, replace, patch and delete, with ETags (`If-Match`). Every write is one
//! incremental batch of the source `<tenant>/scim` through the directory's one write
//! path, so the tenancy rule and HSA-id uniqueness hold as for every source.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::user::{etag, record_from_resource, resource};
use super::{filter, patch, ScimError, LIST_RESPONSE, MAX_RESULTS};
use crate::directory::{
    Batch, Mode, SourceId, SourceKind, SourceRecord, SqlDirectory, StoredRecord,
};
use crate::tenants::Tenants;

/// One request's view of a tenant's SCIM source.
pub struct Scim<'a> {
    pub directory: &'a SqlDirectory,
    pub tenants: &'a Tenants,
    pub source: SourceId,
    /// `https://<idp>/scim/v2`, for `meta.location`.
    pub base_url: String,
    pub now: OffsetDateTime,
}

/// The query of a list request.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub sort_by: Option<String>,
}

/// A User as answered: the resource and its ETag.
pub struct Answer {
    pub resource: Value,
    pub etag: String,
}

fn precondition_failed() -> ScimError {
    ScimError::new(
        412,
        None,
        "SCIM_PRECONDITION_FAILED",
        "the User was changed since the version given in If-Match",
    )
}

/// Whether `if_match` (an `If-Match` header) allows a change of `stored`.
fn check_if_match(stored: &StoredRecord, if_match: Option<&str>) -> Result<(), ScimError> {
    let Some(header) = if_match else {
        return Ok(());
    };
    let current = etag(stored);
    let weak_free = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let matches = header
        .split(',')
        .any(|tag| tag.trim() == "*" || weak_free(tag) == weak_free(&current));
    if matches {
        Ok(())
    } else {
        Err(precondition_failed())
    }
}

impl Scim<'_> {
    fn answer(&self, stored: &StoredRecord) -> Answer {
        Answer {
            resource: resource(stored, &self.base_url),
            etag: etag(stored),
        }
    }

    async fn stored(&self, id: &str) -> Result<StoredRecord, ScimError> {
        self.directory
            .record(&self.source, id)
            .await?
            .ok_or_else(|| ScimError::not_found(&format!("User {id}")))
    }

    pub async fn get(&self, id: &str) -> Result<Answer, ScimError> {
        Ok(self.answer(&self.stored(id).await?))
    }

    pub async fn list(&self, query: &ListQuery) -> Result<Value, ScimError> {
        if query.sort_by.is_some() {
            return Err(ScimError::new(
                400,
                Some("invalidValue"),
                "SCIM_SORT_UNSUPPORTED",
                "sorting is not supported",
            ));
        }
        let filter = query.filter.as_deref().map(filter::parse).transpose()?;
        let matching: Vec<Value> = self
            .directory
            .records(&self.source)
            .await?
            .iter()
            .map(|stored| resource(stored, &self.base_url))
            .filter(|resource| filter.as_ref().is_none_or(|f| f.matches(resource)))
            .collect();
        let start = query.start_index.unwrap_or(1).max(1);
        let count = query
            .count
            .unwrap_or(MAX_RESULTS as i64)
            .clamp(0, MAX_RESULTS as i64);
        let page: Vec<Value> = matching
            .iter()
            .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
            .take(usize::try_from(count).unwrap_or(0))
            .map(|r| project(r.clone(), query))
            .collect();
        Ok(json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": matching.len(),
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }))
    }

    pub async fn create(&self, body: Value) -> Result<Answer, ScimError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (record, active) = record_from_resource(&id, body)?;
        self.write(record, active).await
    }

    pub async fn replace(
        &self,
        id: &str,
        body: Value,
        if_match: Option<&str>,
    ) -> Result<Answer, ScimError> {
        let stored = self.stored(id).await?;
        check_if_match(&stored, if_match)?;
        let (record, active) = record_from_resource(id, body)?;
        self.write(record, active).await
    }

    pub async fn patch(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Answer, ScimError> {
        let stored = self.stored(id).await?;
        check_if_match(&stored, if_match)?;
        let mut current = resource(&stored, &self.base_url);
        patch::apply(&mut current, body)?;
        let (record, active) = record_from_resource(id, current)?;
        self.write(record, active).await
    }

    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        let stored = self.stored(id).await?;
        check_if_match(&stored, if_match)?;
        if self.directory.remove(&self.source, id).await? {
            Ok(())
        } else {
            Err(ScimError::not_found(&format!("User {id}")))
        }
    }

    /// Writes `record` as one incremental batch of the source.
    async fn write(&self, record: SourceRecord, active: bool) -> Result<Answer, ScimError> {
        let id = record.external_id.clone();
        if let Some(user_name) = &record.user_name {
            let holder = self
                .directory
                .find_by_user_name(&self.source, user_name)
                .await?;
            if holder.is_some_and(|holder| holder != id) {
                return Err(ScimError::new(
                    409,
                    Some("uniqueness"),
                    "SCIM_USERNAME_TAKEN",
                    "another User has this userName",
                ));
            }
        }
        let batch = Batch {
            kind: SourceKind::Scim,
            mode: Mode::Incremental,
            records: vec![record],
            removed: if active { Vec::new() } else { vec![id.clone()] },
            cursor: None,
        };
        let report = self
            .directory
            .apply(&self.source, &batch, self.tenants, self.now)
            .await?;
        if let Some(refusal) = report.refused.first() {
            return Err(match refusal.code.as_str() {
                "HSA_ID_TAKEN" => ScimError::new(
                    409,
                    Some("uniqueness"),
                    "HSA_ID_TAKEN",
                    refusal.reason.clone(),
                ),
                "OUTSIDE_POPULATION" => ScimError::new(
                    400,
                    Some("invalidValue"),
                    "OUTSIDE_POPULATION",
                    refusal.reason.clone(),
                ),
                _ => ScimError::invalid_value(refusal.reason.clone()),
            });
        }
        Ok(self.answer(&self.stored(&id).await?))
    }
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.9) on one resource: top-level
/// attributes and `attr.sub`; `id` and `schemas` are always returned.
pub fn project(mut resource: Value, query: &ListQuery) -> Value {
    let names = |list: &Option<String>| -> Vec<(String, Option<String>)> {
        list.as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                let n = if super::has_urn_prefix(n) {
                    if n.to_ascii_lowercase()
                        .starts_with(&super::USER_SCHEMA.to_ascii_lowercase())
                    {
                        n[super::USER_SCHEMA.len()..].trim_start_matches(':')
                    } else {
                        // An extension's attribute: keep the whole extension.
                        return (
                            n[..n.rfind(':').unwrap_or(n.len())].to_ascii_lowercase(),
                            None,
                        );
                    }
                } else {
                    n
                };
                match n.split_once('.') {
                    Some((a, s)) => (a.to_ascii_lowercase(), Some(s.to_ascii_lowercase())),
                    None => (n.to_ascii_lowercase(), None),
                }
            })
            .collect()
    };
    let Some(object) = resource.as_object_mut() else {
        return resource;
    };
    let always = |key: &str| key == "id" || key == "schemas";
    let included = names(&query.attributes);
    if !included.is_empty() {
        object.retain(|key, _| {
            always(key) || included.iter().any(|(a, _)| *a == key.to_ascii_lowercase())
        });
        for (attribute, _) in included.iter().filter(|(_, sub)| sub.is_some()) {
            let wanted: Vec<&Option<String>> = included
                .iter()
                .filter(|(a, _)| a == attribute)
                .map(|(_, s)| s)
                .collect();
            if wanted.iter().any(|s| s.is_none()) {
                continue;
            }
            for (key, value) in object.iter_mut() {
                if key.eq_ignore_ascii_case(attribute) {
                    let keep = |o: &mut serde_json::Map<String, Value>| {
                        o.retain(|k, _| {
                            wanted
                                .iter()
                                .any(|s| s.as_deref() == Some(k.to_ascii_lowercase().as_str()))
                        })
                    };
                    match value {
                        Value::Object(o) => keep(o),
                        Value::Array(items) => items
                            .iter_mut()
                            .filter_map(Value::as_object_mut)
                            .for_each(keep),
                        _ => {}
                    }
                }
            }
        }
    }
    for (attribute, sub) in names(&query.excluded_attributes) {
        let keys: Vec<String> = object
            .keys()
            .filter(|k| k.to_ascii_lowercase() == attribute && !always(k))
            .cloned()
            .collect();
        for key in keys {
            match &sub {
                None => {
                    object.remove(&key);
                }
                Some(sub) => {
                    let drop = |o: &mut serde_json::Map<String, Value>| {
                        o.retain(|k, _| k.to_ascii_lowercase() != *sub)
                    };
                    match object.get_mut(&key) {
                        Some(Value::Object(o)) => drop(o),
                        Some(Value::Array(items)) => items
                            .iter_mut()
                            .filter_map(Value::as_object_mut)
                            .for_each(drop),
                        _ => {}
                    }
                }
            }
        }
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_select_and_exclude_without_tripping_on_any_name() {
        let user = json!({"schemas": ["s"], "id": "1", "userName": "a", "externalId": "x",
                          "name": {"givenName": "A", "familyName": "B"}});
        let query = |attributes: Option<&str>, excluded: Option<&str>| ListQuery {
            attributes: attributes.map(str::to_owned),
            excluded_attributes: excluded.map(str::to_owned),
            ..ListQuery::default()
        };
        assert_eq!(
            project(
                user.clone(),
                &query(Some("externalId,name.givenName"), None)
            ),
            json!({"schemas": ["s"], "id": "1", "externalId": "x", "name": {"givenName": "A"}})
        );
        assert_eq!(
            project(user.clone(), &query(None, Some("name,id"))),
            json!({"schemas": ["s"], "id": "1", "userName": "a", "externalId": "x"})
        );
        // Names that are no attribute (also not ASCII) select nothing and break nothing.
        assert_eq!(
            project(user.clone(), &query(Some("abcé,uré"), Some("ééé"))),
            json!({"schemas": ["s"], "id": "1"})
        );
    }
}
