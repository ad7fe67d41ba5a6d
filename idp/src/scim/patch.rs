//! SCIM PATCH (RFC 7644 §3.5.2) on a User's JSON: `add`, `replace` and `remove`, with no
//! path (the value is a set of attributes), an attribute path (`name.givenName`, an
//! extension's `urn:...:employments`), or a value filter (`emails[type eq "work"].value`).
//! The result is read again as a whole User (`user.rs`), so a patch can never produce a
//! record a PUT could not.

use serde_json::{Map, Value};

use super::filter::{self, AttrPath, Filter};
use super::{ScimError, PATCH_OP};

const MAX_OPERATIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Applies a PatchOp request body to `resource`; an extension left empty is dropped (an
/// empty object is no value).
pub fn apply(resource: &mut Value, body: &Value) -> Result<(), ScimError> {
    apply_operations(resource, body)?;
    if let Some(object) = resource.as_object_mut() {
        object.retain(|key, value| {
            !(is_extension(key)
                && value
                    .as_object()
                    .is_some_and(|o| o.keys().all(|k| k.eq_ignore_ascii_case("schemas"))))
        });
    }
    Ok(())
}

fn apply_operations(resource: &mut Value, body: &Value) -> Result<(), ScimError> {
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s == PATCH_OP));
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must list {PATCH_OP}"
        )));
    }
    let operations = body
        .as_object()
        .and_then(|o| super::get_ci(o, "Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::invalid_syntax("Operations is required"))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "more than {MAX_OPERATIONS} operations"
        )));
    }
    for operation in operations {
        let operation = operation
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("an operation is a JSON object"))?;
        let field = |name: &str| super::get_ci(operation, name).map(|(_, v)| v);
        let kind = match field("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Kind::Add,
            Some("replace") => Kind::Replace,
            Some("remove") => Kind::Remove,
            _ => {
                return Err(ScimError::invalid_syntax(
                    "op must be add, replace or remove",
                ))
            }
        };
        let value = field("value").cloned();
        match field("path") {
            None | Some(Value::Null) => {
                let Some(Value::Object(attributes)) = value else {
                    return Err(match kind {
                        Kind::Remove => ScimError::new(
                            400,
                            Some("noTarget"),
                            "SCIM_NO_TARGET",
                            "remove needs a path",
                        ),
                        _ => ScimError::invalid_syntax(
                            "without a path the value is an object of attributes",
                        ),
                    });
                };
                let object = object_of(resource)?;
                for (name, value) in attributes {
                    if is_extension(&name) && value.is_object() {
                        let extension =
                            entry(object, &name).or_insert_with(|| Value::Object(Map::new()));
                        let Value::Object(inner) = value else {
                            continue;
                        };
                        for (sub, sub_value) in inner {
                            set(object_of(extension)?, &sub, sub_value, kind)?;
                        }
                    } else {
                        set(object, &name, value, kind)?;
                    }
                }
            }
            Some(Value::String(path)) => at_path(resource, path, value, kind)?,
            Some(_) => return Err(ScimError::invalid_path("path must be a string")),
        }
    }
    Ok(())
}

/// Whether `name` is an extension schema's URN rather than an attribute with a URN prefix.
fn is_extension(name: &str) -> bool {
    name.eq_ignore_ascii_case(super::ENTERPRISE_SCHEMA)
        || name.eq_ignore_ascii_case(super::HSA_SCHEMA)
}

fn object_of(value: &mut Value) -> Result<&mut Map<String, Value>, ScimError> {
    if value.is_null() {
        *value = Value::Object(Map::new());
    }
    value
        .as_object_mut()
        .ok_or_else(|| ScimError::invalid_path("the path does not lead to a complex attribute"))
}

/// The entry of `name` in `object`, found case-insensitively.
fn entry<'a>(object: &'a mut Map<String, Value>, name: &str) -> serde_json::map::Entry<'a> {
    let key = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned());
    object.entry(key)
}

/// `add`, `replace` or `remove` of attribute `name` in `object`.
fn set(
    object: &mut Map<String, Value>,
    name: &str,
    value: Value,
    kind: Kind,
) -> Result<(), ScimError> {
    if kind == Kind::Remove {
        let key = object
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .cloned();
        if let Some(key) = key {
            object.remove(&key);
        }
        return Ok(());
    }
    match (entry(object, name), value) {
        (serde_json::map::Entry::Occupied(mut slot), value) => {
            let current = slot.get_mut();
            match (current, value, kind) {
                (Value::Array(items), Value::Array(more), Kind::Add) => items.extend(more),
                (Value::Array(items), single @ Value::Object(_), Kind::Add) => items.push(single),
                (Value::Object(current), Value::Object(more), _) => {
                    for (sub, sub_value) in more {
                        set(current, &sub, sub_value, kind)?;
                    }
                }
                (current, value, _) => *current = value,
            }
        }
        (serde_json::map::Entry::Vacant(slot), value) => {
            slot.insert(value);
        }
    }
    Ok(())
}

/// `path` split into the attribute, an optional value filter, and an optional
/// sub-attribute after the filter.
fn split_path(path: &str) -> Result<(AttrPath, Option<Filter>, Option<String>), ScimError> {
    let Some(open) = path.find('[') else {
        let attr = AttrPath::parse(path).map_err(ScimError::invalid_path)?;
        return Ok((attr, None, None));
    };
    let close = path
        .rfind(']')
        .filter(|&close| close > open)
        .ok_or_else(|| ScimError::invalid_path("a `[` is not closed"))?;
    let attr = AttrPath::parse(&path[..open]).map_err(ScimError::invalid_path)?;
    if attr.sub.is_some() {
        return Err(ScimError::invalid_path(
            "a value filter follows the attribute",
        ));
    }
    let value_filter = filter::parse(&path[open + 1..close])?;
    let sub = match &path[close + 1..] {
        "" => None,
        rest => Some(
            rest.strip_prefix('.')
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ScimError::invalid_path("a sub-attribute follows `].`"))?
                .to_owned(),
        ),
    };
    Ok((attr, Some(value_filter), sub))
}

fn at_path(
    resource: &mut Value,
    path: &str,
    value: Option<Value>,
    kind: Kind,
) -> Result<(), ScimError> {
    let value = match (kind, value) {
        (Kind::Remove, value) => value.unwrap_or(Value::Null),
        (_, Some(value)) => value,
        (_, None) => return Err(ScimError::invalid_syntax("add and replace need a value")),
    };
    // The path is a whole extension (`urn:…:enterprise:2.0:User`): its object.
    if is_extension(path) {
        return set(object_of(resource)?, path, value, kind);
    }
    let (attr, value_filter, sub_after) = split_path(path)?;
    let root = object_of(resource)?;
    let container = match &attr.schema {
        None => root,
        Some(schema) => {
            if kind == Kind::Remove && !root.keys().any(|k| k.eq_ignore_ascii_case(schema)) {
                return Ok(());
            }
            object_of(entry(root, schema).or_insert_with(|| Value::Object(Map::new())))?
        }
    };
    let Some(value_filter) = value_filter else {
        return match &attr.sub {
            None => set(container, &attr.attribute, value, kind),
            Some(sub) => {
                if kind == Kind::Remove
                    && !container
                        .keys()
                        .any(|k| k.eq_ignore_ascii_case(&attr.attribute))
                {
                    return Ok(());
                }
                match entry(container, &attr.attribute).or_insert_with(|| Value::Object(Map::new()))
                {
                    Value::Array(items) => {
                        for item in items.iter_mut() {
                            set(object_of(item)?, sub, value.clone(), kind)?;
                        }
                        Ok(())
                    }
                    other => set(object_of(other)?, sub, value, kind),
                }
            }
        };
    };
    let no_target = || {
        ScimError::new(
            400,
            Some("noTarget"),
            "SCIM_NO_TARGET",
            format!("no value of {path} matches"),
        )
    };
    let key = container
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&attr.attribute))
        .cloned()
        .ok_or_else(no_target)?;
    let Some(Value::Array(items)) = container.get_mut(&key) else {
        return Err(ScimError::invalid_path(format!(
            "{} is not multi-valued",
            attr.attribute
        )));
    };
    let matching: Vec<usize> = (0..items.len())
        .filter(|&i| value_filter.matches(&items[i]))
        .collect();
    if matching.is_empty() {
        return Err(no_target());
    }
    match (&sub_after, kind) {
        (None, Kind::Remove) => {
            let mut index = 0;
            items.retain(|_| {
                let keep = !matching.contains(&index);
                index += 1;
                keep
            });
        }
        (None, _) => {
            for &i in &matching {
                match (&mut items[i], &value) {
                    (Value::Object(current), Value::Object(more)) => {
                        for (sub, sub_value) in more {
                            set(current, sub, sub_value.clone(), kind)?;
                        }
                    }
                    (current, value) => *current = value.clone(),
                }
            }
        }
        (Some(sub), _) => {
            for &i in &matching {
                set(object_of(&mut items[i])?, sub, value.clone(), kind)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(operations: Value) -> Result<Value, ScimError> {
        let mut user = json!({
            "userName": "anna",
            "name": {"givenName": "Anna", "familyName": "Andersson"},
            "emails": [{"value": "a@work.example", "type": "work"}, {"value": "a@home.example", "type": "home"}]
        });
        apply(
            &mut user,
            &json!({"schemas": [PATCH_OP], "Operations": operations}),
        )?;
        Ok(user)
    }

    #[test]
    fn patches_by_path_filter_and_attribute_set() {
        let user = patched(json!([
            {"op": "replace", "path": "name.familyName", "value": "Berg"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "anna@work.example"},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "add", "value": {"title": "Nurse", "urn:se:regional-idp:scim:schemas:extension:hsa:1.0:User": {"personalIdentityNumber": "198001012387"}}},
            {"op": "add", "path": "emails", "value": [{"value": "new@x.example"}]}
        ]))
        .unwrap();
        assert_eq!(
            user["name"],
            json!({"givenName": "Anna", "familyName": "Berg"})
        );
        assert_eq!(
            user["emails"],
            json!([{"value": "anna@work.example", "type": "work"}, {"value": "new@x.example"}])
        );
        assert_eq!(user["title"], "Nurse");
        assert_eq!(
            user["urn:se:regional-idp:scim:schemas:extension:hsa:1.0:User"]
                ["personalIdentityNumber"],
            "198001012387"
        );
        let removed = patched(json!([{"op": "remove", "path": "name.givenName"}])).unwrap();
        assert_eq!(removed["name"], json!({"familyName": "Andersson"}));
    }

    #[test]
    fn a_patch_that_targets_nothing_says_so() {
        let error = patched(
            json!([{"op": "replace", "path": "emails[type eq \"fax\"].value", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(error.scim_type, Some("noTarget"));
        let error = patched(json!([{"op": "remove"}])).unwrap_err();
        assert_eq!(error.scim_type, Some("noTarget"));
        let error = patched(json!([{"op": "move", "path": "x"}])).unwrap_err();
        assert_eq!(error.scim_type, Some("invalidSyntax"));
    }
}
