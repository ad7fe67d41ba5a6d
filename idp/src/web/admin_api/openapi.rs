//! The admin API described as OpenAPI 3.1, served at `/admin/api/v1/openapi.json`.
//!
//! Written as data beside the handlers rather than derived: the request and response
//! bodies are the registry's serde documents (the tenant file's keys), whose shape the
//! tests check against real answers (tests/tests/admin_api.rs and schemathesis).

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array_of(name: &str) -> Value {
    json!({ "type": "array", "items": schema(name) })
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": { "type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$" }
    })
}

/// One operation: `request` (a body schema, if any) and its success answer.
fn operation(
    id: &str,
    summary: &str,
    parameters: &[&str],
    request: Option<Value>,
    success: (&str, Option<Value>),
) -> Value {
    let parameters: Vec<Value> = parameters
        .iter()
        .map(|p| match *p {
            "tenant" => path_parameter("tenant", "the tenant acted on"),
            "app" => path_parameter("app", "an application id of the tenant"),
            "owner" => path_parameter("owner", "the tenant that owns the application"),
            other => json!({
                "name": other, "in": "path", "required": true,
                "schema": { "type": "string", "maxLength": 64 }
            }),
        })
        .collect();
    let mut responses = Map::new();
    let (statuses, body) = success;
    for status in statuses.split('|') {
        responses.insert(
            status.to_owned(),
            match &body {
                Some(body) => json!({
                    "description": if status == "201" { "created" } else { "done" },
                    "content": { "application/json": { "schema": body } }
                }),
                None => json!({ "description": "done" }),
            },
        );
    }
    for (code, description) in [
        ("400", "malformed request (ADMIN_BAD_REQUEST)"),
        ("401", "no valid bearer token (ADMIN_UNAUTHENTICATED)"),
        ("403", "not allowed for this actor (ADMIN_FORBIDDEN)"),
        ("404", "no such tenant, application, grant or token (ADMIN_NOT_FOUND)"),
        ("405", "method not allowed"),
        ("409", "already exists, or changed meanwhile (ADMIN_CONFLICT)"),
        ("415", "not JSON"),
        ("422", "refused by the registry's rules (ADMIN_INVALID, with problems) or the SP's metadata (SAML_METADATA_*)"),
        ("429", "too many requests from this address (RATE_LIMITED, with Retry-After)"),
        ("503", "storage temporarily unavailable"),
    ] {
        responses.insert(
            code.to_owned(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": schema("Error") } }
            }),
        );
    }
    let mut op = json!({
        "operationId": id,
        "summary": summary,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(request) = request {
        op["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": request } }
        });
    }
    op
}

fn localized() -> Value {
    json!({
        "type": "object",
        "required": ["sv"],
        "properties": { "sv": { "type": "string" }, "en": { "type": ["string", "null"] } }
    })
}

fn strings() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

fn commission_policy() -> Value {
    json!({
        "type": "string", "enum": ["auto", "choose", "required"], "default": "auto",
        "description": "which commission (medarbetaruppdrag) the application receives (docs/directory.md)"
    })
}

/// A directory source's state (own function: one `json!` would exceed the macro
/// recursion limit).
fn federation() -> Value {
    let time = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({
        "type": "object",
        "required": ["id", "source", "service_providers", "admitted"],
        "properties": {
            "id": { "type": "string", "description": "what a [[saml_sp]] names in federation" },
            "source": { "type": "string", "description": "the aggregate's file or URL" },
            "name": { "type": ["string", "null"] },
            "valid_until": time,
            "cache_duration_seconds": { "type": ["integer", "null"] },
            "service_providers": { "type": "integer" },
            "admitted": { "type": "integer", "description": "SPs the federation's rules admit" },
            "status": {
                "type": ["object", "null"],
                "properties": {
                    "last_attempt": { "type": "string", "format": "date-time" },
                    "last_success": time,
                    "consecutive_failures": { "type": "integer" },
                    "failing_since": time,
                    "has_good_copy": { "type": "boolean" },
                    "last_error": {
                        "type": ["object", "null"],
                        "properties": { "code": { "type": "string" }, "message": { "type": "string" }, "at": { "type": "string" } }
                    }
                }
            }
        }
    })
}

fn directory_source() -> Value {
    json!({
        "type": "object",
        "required": ["source", "kind", "active_records", "disabled_records"],
        "properties": {
            "source": { "type": "string", "description": "<tenant>/<name>" },
            "kind": { "type": "string", "enum": ["ldap", "scim", "file", "seed"] },
            "last_attempt_at_ms": { "type": ["integer", "null"] },
            "last_success_at_ms": { "type": ["integer", "null"] },
            "last_error": { "type": ["string", "null"], "description": "why the last run failed; the last good state stays in use" },
            "active_records": { "type": "integer" },
            "disabled_records": { "type": "integer" },
            "last_report": {
                "type": ["object", "null"],
                "properties": {
                    "created": { "type": "integer" }, "updated": { "type": "integer" },
                    "unchanged": { "type": "integer" }, "disabled": { "type": "integer" },
                    "removed": { "type": "integer" },
                    "refused": { "type": "array", "items": {
                        "type": "object", "required": ["record", "code", "reason"],
                        "properties": { "record": { "type": "string" }, "code": { "type": "string" }, "reason": { "type": "string" } }
                    } }
                }
            }
        }
    })
}

fn components() -> Value {
    let users = json!({
        "type": "object",
        "properties": {
            "hsa_id_prefixes": strings(),
            "organisation_numbers": strings()
        }
    });
    let kind = json!({ "type": "string", "enum": ["region", "municipality", "other"] });
    let nullable_object = json!({ "type": ["object", "null"] });
    let mut components = json!({
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "an API token (idpat_…)" }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": { "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string" },
                        "message": { "type": "string" },
                        "problems": { "type": "array", "items": {
                            "type": "object",
                            "required": ["tenant", "field", "message"],
                            "properties": {
                                "tenant": { "type": "string" },
                                "field": { "type": "string" },
                                "message": { "type": "string" }
                            }
                        } }
                    }
                } }
            },
            "TenantSummary": {
                "type": "object",
                "required": ["id", "kind", "display_name", "organisation_number", "users", "admins", "applications"],
                "properties": {
                    "id": { "type": "string" }, "kind": kind, "display_name": localized(),
                    "organisation_number": { "type": "string" }, "users": users,
                    "admins": strings(), "applications": { "type": "integer", "minimum": 0 }
                }
            },
            "Tenant": {
                "type": "object",
                "description": "The tenant file's keys (docs/admin-guide.md), secrets left out.",
                "required": ["id", "kind", "display_name", "organisation_number", "users"],
                "properties": {
                    "id": { "type": "string" }, "kind": kind, "display_name": localized(),
                    "organisation_number": { "type": "string" }, "users": users,
                    "admins": strings(), "accepted_issuers": strings(),
                    "saml_sp": { "type": "array", "items": schema("SamlServiceProvider") },
                    "oidc_client": { "type": "array", "items": { "type": "object" } },
                    "grant": array_of("Grant"),
                    "session": schema("SessionPolicy"),
                    "branding": schema("Branding")
                }
            },
            "Branding": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "logo_png": {
                        "type": "string", "contentEncoding": "base64", "contentMediaType": "image/png",
                        "description": "The logo on the login pages: a PNG image of at most 32 KiB, base64."
                    }
                }
            },
            "SessionPolicy": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "idle_timeout_minutes": { "type": "integer", "minimum": 1, "maximum": 720 },
                    "shared_workstations": { "type": "boolean" }
                }
            },
            "NewTenant": {
                "type": "object",
                "required": ["id", "kind", "display_name", "organisation_number", "users"],
                "additionalProperties": false,
                "properties": {
                    "id": { "type": "string" }, "kind": kind, "display_name": localized(),
                    "organisation_number": { "type": "string" }, "users": users, "admins": strings()
                }
            },
            "TenantIdentity": {
                "type": "object",
                "required": ["kind", "display_name", "organisation_number", "users"],
                "additionalProperties": false,
                "properties": {
                    "kind": kind, "display_name": localized(),
                    "organisation_number": { "type": "string" }, "users": users,
                    "branding": schema("Branding")
                }
            },
            "Admins": {
                "type": "object", "required": ["admins"], "additionalProperties": false,
                "properties": { "admins": strings() }
            },
            "Application": {
                "type": "object",
                "required": ["id", "protocol", "protocol_id", "display_name", "user_tenants"],
                "properties": {
                    "id": { "type": "string" },
                    "protocol": { "type": "string", "enum": ["saml", "oidc"] },
                    "protocol_id": { "type": "string" },
                    "display_name": localized(),
                    "user_tenants": strings(),
                    "metadata": nullable_object
                }
            },
            "SamlServiceProvider": {
                "type": "object",
                "description": "A [[saml_sp]] table (docs/saml.md).",
                "required": ["id", "display_name", "entity_id", "profile"],
                "properties": {
                    "id": { "type": "string" }, "display_name": localized(),
                    "entity_id": { "type": "string", "format": "uri" },
                    "profile": { "type": "string", "enum": ["sambi", "swedish-eid"] },
                    "metadata_url": { "type": "string", "format": "uri" },
                    "federation": { "type": "string", "description": "register the SP by entity_id from this federation's aggregate" },
                    "acs_urls": strings(), "user_tenants": strings(), "release": strings(),
                    "commission": commission_policy()
                }
            },
            "SpRegistered": {
                "type": "object", "required": ["application", "warnings"],
                "properties": { "application": schema("SamlServiceProvider"), "warnings": { "type": "array" } }
            },
            "OidcClient": {
                "type": "object",
                "description": "An [[oidc_client]] table without secrets (docs/oidc.md).",
                "required": ["id", "display_name", "client_id", "token_endpoint_auth_method", "redirect_uris"],
                "properties": {
                    "id": { "type": "string" }, "display_name": localized(),
                    "client_id": { "type": "string" },
                    "token_endpoint_auth_method": { "type": "string", "enum": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] },
                    "redirect_uris": strings(), "post_logout_redirect_uris": strings(),
                    "scopes": strings(), "claims": strings(), "user_tenants": strings(),
                    "allow_without_pkce": { "type": "boolean", "description": "legacy confidential clients only; warned about" },
                    "commission": commission_policy(),
                    "id_token_signed_response_alg": { "type": "string", "enum": ["RS256", "ES256"], "default": "RS256" },
                    "access_token_format": { "type": "string", "enum": ["jwt_es256", "jwt_rs256", "opaque"], "default": "jwt_es256", "description": "opaque: a reference resource servers check at the introspection endpoint" }
                }
            },
            "ClientRegistered": {
                "type": "object", "required": ["application", "warnings"],
                "properties": {
                    "application": schema("OidcClient"),
                    "client_secret": { "type": "string", "description": "shown once, when the IdP made it" },
                    "warnings": strings()
                }
            },
            "RotateSecret": {
                "type": "object", "additionalProperties": false,
                "properties": { "overlap_seconds": { "type": ["integer", "null"], "minimum": 0, "maximum": 2592000 } }
            },
            "SecretRotated": {
                "type": "object", "required": ["client_secret", "previous_expires_at"],
                "properties": {
                    "client_secret": { "type": "string" },
                    "previous_expires_at": { "type": ["integer", "null"] }
                }
            },
            "GrantBody": {
                "type": "object", "required": ["attributes"], "additionalProperties": false,
                "properties": { "attributes": strings() }
            },
            "Grant": {
                "type": "object", "required": ["application", "attributes"],
                "properties": { "application": { "type": "string" }, "attributes": strings() }
            },
            "Token": {
                "type": "object", "required": ["id", "name", "purpose", "created_at", "created_by", "revoked"],
                "properties": {
                    "id": { "type": "string" }, "name": { "type": "string" },
                    "purpose": { "$ref": "#/components/schemas/TokenPurpose" },
                    "created_at": { "type": "integer" }, "created_by": { "type": "string" },
                    "revoked": { "type": "boolean" }
                }
            },
            "TokenPurpose": {
                "type": "string", "enum": ["admin", "scim"],
                "description": "admin: the admin API; scim: SCIM provisioning of the tenant's directory (/scim/v2). Neither is accepted for the other."
            },
            "NewToken": {
                "type": "object", "required": ["name"], "additionalProperties": false,
                "properties": {
                    "name": { "type": "string", "minLength": 1, "maxLength": 100 },
                    "purpose": { "$ref": "#/components/schemas/TokenPurpose" }
                }
            },
            "CreatedToken": {
                "type": "object", "required": ["id", "name", "purpose", "token"],
                "properties": {
                    "id": { "type": "string" }, "name": { "type": "string" },
                    "purpose": { "$ref": "#/components/schemas/TokenPurpose" },
                    "token": { "type": "string" }
                }
            },
            "AuditRecord": {
                "type": "object",
                "required": ["at", "actor", "action", "registry_version"],
                "properties": {
                    "at": { "type": "integer" }, "actor": { "type": "string" },
                    "action": { "type": "string" },
                    "tenant_id": { "type": ["string", "null"] },
                    "object": { "type": ["string", "null"] },
                    "before": nullable_object, "after": nullable_object,
                    "registry_version": { "type": "integer" }
                }
            }
        }
    });
    components["schemas"]["DirectorySource"] = directory_source();
    components["schemas"]["Federation"] = federation();
    components
}

/// The whole document.
pub fn document() -> Value {
    let t = &["tenant"];
    let ta = &["tenant", "app"];
    let grant = &["tenant", "owner", "app"];
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Regional IdP admin API",
            "version": "1",
            "description": "Tenants, applications, grants, admins and API tokens of the shared IdP (docs/admin-guide.md). Every change is validated as a whole, audited, and in use on every node within seconds."
        },
        "servers": [{ "url": "/admin/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": {
            "/tenants": {
                "get": operation("listTenants", "The tenants the actor may manage", &[], None, ("200", Some(array_of("TenantSummary")))),
                "post": operation("createTenant", "Create a tenant (operator)", &[], Some(schema("NewTenant")), ("201", Some(schema("Tenant"))))
            },
            "/tenants/{tenant}": {
                "get": operation("getTenant", "One tenant", t, None, ("200", Some(schema("Tenant")))),
                "delete": operation("deleteTenant", "Delete a tenant (operator)", t, None, ("204", None))
            },
            "/tenants/{tenant}/identity": {
                "put": operation("setIdentity", "Set a tenant's names and population (operator)", t, Some(schema("TenantIdentity")), ("200", Some(schema("Tenant"))))
            },
            "/tenants/{tenant}/admins": {
                "put": operation("setAdmins", "Set the tenant's admins (HSA-ids)", t, Some(schema("Admins")), ("200", Some(schema("Tenant"))))
            },
            "/tenants/{tenant}/session": {
                "put": operation("setSessionPolicy", "How long the tenant's staff's SSO sessions may go unused (for logins from now on)", t, Some(schema("SessionPolicy")), ("200", Some(schema("Tenant"))))
            },
            "/tenants/{tenant}/applications": {
                "get": operation("listApplications", "The tenant's applications and their metadata state", t, None, ("200", Some(array_of("Application"))))
            },
            "/tenants/{tenant}/saml-sps/{app}": {
                "put": operation("putSamlSp", "Register or replace a SAML SP (metadata checked first)", ta, Some(schema("SamlServiceProvider")), ("200|201", Some(schema("SpRegistered")))),
                "delete": operation("deleteSamlSp", "Remove a SAML SP (and grants for it)", ta, None, ("204", None))
            },
            "/tenants/{tenant}/oidc-clients/{app}": {
                "put": operation("putOidcClient", "Register or replace an OIDC client (the IdP makes its secret)", ta, Some(schema("OidcClient")), ("200|201", Some(schema("ClientRegistered")))),
                "delete": operation("deleteOidcClient", "Remove an OIDC client (and grants for it)", ta, None, ("204", None))
            },
            "/tenants/{tenant}/oidc-clients/{app}/secret": {
                "post": operation("rotateSecret", "A new client secret; the previous one works until the overlap ends", ta, Some(schema("RotateSecret")), ("201", Some(schema("SecretRotated"))))
            },
            "/tenants/{tenant}/grants/{owner}/{app}": {
                "put": operation("putGrant", "The tenant admits its staff to another tenant's application, with these attributes", grant, Some(schema("GrantBody")), ("200", Some(schema("Grant")))),
                "delete": operation("deleteGrant", "Withdraw a grant", grant, None, ("204", None))
            },
            "/tenants/{tenant}/tokens": {
                "get": operation("listTokens", "The tenant's API tokens (never the tokens themselves)", t, None, ("200", Some(array_of("Token")))),
                "post": operation("createToken", "A new API token for the tenant, shown once", t, Some(schema("NewToken")), ("201", Some(schema("CreatedToken"))))
            },
            "/tenants/{tenant}/tokens/{id}": {
                "delete": operation("revokeToken", "Revoke an API token", &["tenant", "id"], None, ("204", None))
            },
            "/tenants/{tenant}/audit": {
                "get": operation("tenantAudit", "Who changed what in the tenant, newest first", t, None, ("200", Some(array_of("AuditRecord"))))
            },
            "/tenants/{tenant}/directory/sources": {
                "get": operation("directorySources", "The tenant's directory sources (LDAP sync, SCIM, imports): records, last runs, refusals, failures", t, None, ("200", Some(array_of("DirectorySource"))))
            },
            "/tenants/{tenant}/federations": {
                "get": operation("federations", "The federations whose SPs the tenant may register by entityID: aggregate validity, counts, loading status", t, None, ("200", Some(array_of("Federation"))))
            }
        },
        "components": components()
    })
}

pub async fn admin_openapi_get() -> Response {
    Json(document()).into_response()
}
