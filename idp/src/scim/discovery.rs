//! The discovery documents (RFC 7644 §4, RFC 7643 §5-7): what the server supports, the
//! User resource type, and the schemas of its attributes (core User: the attributes
//! the directory uses or keeps; the enterprise extension; the HSA extension).

use serde_json::{json, Value};

use super::{ENTERPRISE_SCHEMA, HSA_SCHEMA, MAX_RESULTS, USER_SCHEMA};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A SCIM token of the tenant, made in the admin API (purpose \"scim\")",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig")
        }
    })
}

fn user_resource_type(base_url: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person of the tenant's staff",
        "schema": USER_SCHEMA,
        "schemaExtensions": [
            {"schema": ENTERPRISE_SCHEMA, "required": false},
            {"schema": HSA_SCHEMA, "required": false}
        ],
        "meta": {"resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/User")}
    })
}

/// The resource types: only User (no Groups).
pub fn resource_types(base_url: &str) -> Vec<Value> {
    vec![user_resource_type(base_url)]
}

/// One attribute's definition.
fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none"
    })
}

fn complex(name: &str, description: &str, multi: bool, subs: Vec<Value>) -> Value {
    let mut attribute = attribute(name, "complex", description);
    attribute["multiValued"] = json!(multi);
    attribute["subAttributes"] = Value::Array(subs);
    attribute
}

fn strings(name: &str, description: &str) -> Value {
    let mut attribute = attribute(name, "string", description);
    attribute["multiValued"] = json!(true);
    attribute
}

fn required(mut attribute: Value) -> Value {
    attribute["required"] = json!(true);
    attribute
}

fn schema(
    id: &str,
    name: &str,
    description: &str,
    attributes: Vec<Value>,
    base_url: &str,
) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base_url}/Schemas/{id}")}
    })
}

pub fn schemas(base_url: &str) -> Vec<Value> {
    let mut user_name = required(attribute(
        "userName",
        "string",
        "The login name, unique within the tenant's SCIM source",
    ));
    user_name["uniqueness"] = json!("server");
    let mut id = attribute("id", "string", "The server's id of the User");
    id["mutability"] = json!("readOnly");
    id["returned"] = json!("always");
    id["caseExact"] = json!(true);
    id["uniqueness"] = json!("server");
    let user = schema(
        USER_SCHEMA,
        "User",
        "User Account",
        vec![
            id,
            attribute(
                "externalId",
                "string",
                "The provisioning client's id of the User",
            ),
            user_name,
            complex(
                "name",
                "The person's name",
                false,
                vec![
                    attribute("givenName", "string", "Given name"),
                    attribute("familyName", "string", "Family name"),
                    attribute("formatted", "string", "The full name"),
                ],
            ),
            attribute("displayName", "string", "The name shown"),
            attribute("title", "string", "Job title"),
            complex(
                "emails",
                "E-mail addresses; the primary one is released as the person's mail",
                true,
                vec![
                    attribute("value", "string", "The address"),
                    attribute("type", "string", "work, home or other"),
                    attribute("primary", "boolean", "The one to use"),
                ],
            ),
            attribute("active", "boolean", "false: the person cannot log in"),
        ],
        base_url,
    );
    let enterprise = schema(
        ENTERPRISE_SCHEMA,
        "EnterpriseUser",
        "Enterprise User",
        vec![
            attribute("employeeNumber", "string", "Employee number"),
            attribute("organization", "string", "Organisation"),
            attribute("division", "string", "Division"),
            attribute("department", "string", "Department"),
            attribute("costCenter", "string", "Cost center"),
        ],
        base_url,
    );
    let commission = complex(
        "commissions",
        "Commissions (medarbetaruppdrag) of the employment",
        true,
        vec![
            required(attribute("hsaId", "string", "The commission's HSA-id")),
            required(attribute("name", "string", "The commission's name")),
            required(attribute(
                "purpose",
                "string",
                "Its purpose, e.g. Vård och behandling",
            )),
            attribute(
                "healthCareProviderHsaId",
                "string",
                "The care provider's HSA-id",
            ),
            attribute("healthCareUnitHsaId", "string", "The care unit's HSA-id"),
            strings("rights", "Rights, e.g. Läsa"),
        ],
    );
    let hsa = schema(
        HSA_SCHEMA,
        "HsaUser",
        "HSA: the personal identity number and the employments (employee HSA-ids) that log in",
        vec![
            attribute(
                "personalIdentityNumber",
                "string",
                "Personnummer or samordningsnummer, 12 digits",
            ),
            complex(
                "employments",
                "Employments; every HSA-id must lie in the tenant's population",
                true,
                vec![
                    required(attribute("hsaId", "string", "The employee HSA-id")),
                    required(attribute(
                        "organisationNumber",
                        "string",
                        "The employer's organisation number",
                    )),
                    required(attribute(
                        "organisationName",
                        "string",
                        "The employer's name",
                    )),
                    attribute("title", "string", "Title"),
                    commission,
                ],
            ),
        ],
        base_url,
    );
    vec![user, enterprise, hsa]
}
