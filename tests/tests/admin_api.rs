//! The admin API (`/admin/api/v1`), end to end over HTTPS: one walk of every route as a
//! foreign tenant (on SQLite and PostgreSQL), a tenant onboarding its own applications
//! with a tenant token, the precise errors an integrator sees, the OpenAPI document,
//! and schemathesis exploring the API from that document.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use e2e::idp_server::shipped_config;
use e2e::oidc::token_request;
use e2e::TestIdp;
use idp::admin::{create_api_token, CreatedToken, TokenScope};

const BASE: &str = "/admin/api/v1";

/// Storstad's SAML SP and OIDC client (config/tenants/storstad.toml).
const STORSTAD_SP: &str = "omsorg";
const STORSTAD_CLIENT: &str = "personal";
/// Region's SP (config/tenants/region.toml): its entityID is taken.
const REGION_ENTITY_ID: &str = "https://localhost:9443/sp/region-journal";

fn now() -> time::OffsetDateTime {
    idp::clock::Clock::now(&idp::clock::SystemClock)
}

fn tenant(id: &str) -> TokenScope {
    TokenScope::Tenant(id.parse().unwrap())
}

/// A token made the way an operator makes one (the library, as `idp` would).
async fn make_token(idp: &TestIdp, scope: TokenScope, name: &str) -> CreatedToken {
    create_api_token(
        &idp.state.db,
        scope,
        idp::admin::TokenPurpose::Admin,
        name,
        "operator:test",
        now(),
    )
    .await
    .unwrap_or_else(|e| panic!("create_api_token {name}: {e:?}"))
}

/// What the API answered: the status and the JSON body (`null` when empty, a string
/// when not JSON).
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// The status and the start of the body: one line per route in a long list.
fn brief(answer: &Answer) -> String {
    let body = answer.body.to_string();
    match body.char_indices().nth(300) {
        Some((end, _)) => format!("{} {}...", answer.status, &body[..end]),
        None => format!("{} {body}", answer.status),
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    /// The whole `Authorization` header.
    Header(&'a str),
}

async fn call(
    idp: &TestIdp,
    auth: Auth<'_>,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Answer {
    let mut request = e2e::https_client().request(method, idp.url(&format!("{BASE}{path}")));
    request = match auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Header(value) => request.header("authorization", value),
    };
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer { status, body }
}

async fn get(idp: &TestIdp, token: &str, path: &str) -> Answer {
    call(idp, Auth::Bearer(token), Method::GET, path, None).await
}

async fn put(idp: &TestIdp, token: &str, path: &str, body: Value) -> Answer {
    call(idp, Auth::Bearer(token), Method::PUT, path, Some(&body)).await
}

async fn post(idp: &TestIdp, token: &str, path: &str, body: Value) -> Answer {
    call(idp, Auth::Bearer(token), Method::POST, path, Some(&body)).await
}

async fn delete(idp: &TestIdp, token: &str, path: &str) -> Answer {
    call(idp, Auth::Bearer(token), Method::DELETE, path, None).await
}

/// `answer` has `status`, else the test fails showing what the API said about `what`.
fn expect(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status.as_u16(), status, "{what}: {answer}");
}

fn expect_error(answer: &Answer, status: u16, code: &str, what: &str) {
    assert_eq!(
        (answer.status.as_u16(), answer.code()),
        (status, Some(code)),
        "{what}: {answer}"
    );
}

fn registry_version(idp: &TestIdp) -> i64 {
    idp.state.registry.load().version
}

fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, without a token.
    Public,
    /// Any token; a tenant token sees its own tenant only.
    Listing,
    /// The platform operator only.
    Operator,
    /// The operator, and the tenant's own tokens.
    Tenant,
}

/// One route of the API, with a concrete path and a plausible body.
struct Route {
    access: Access,
    method: Method,
    /// As the contract (and the OpenAPI document) writes it.
    template: &'static str,
    path: String,
    body: Option<Value>,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

fn route(
    access: Access,
    method: Method,
    template: &'static str,
    path: String,
    body: Option<Value>,
) -> Route {
    Route {
        access,
        method,
        template,
        path,
        body,
    }
}

/// A new tenant, as the operator would create it.
fn smastad() -> Value {
    json!({
        "id": "smastad",
        "kind": "municipality",
        "display_name": { "sv": "Småstads kommun", "en": "Smastad Municipality" },
        "organisation_number": "212000-5554",
        "users": { "hsa_id_prefixes": ["SE2120005554-"], "organisation_numbers": ["2120005554"] },
        "admins": ["SE2120005554-adm01"]
    })
}

/// Every route of the contract, each aimed at Storstad's objects (its SP `omsorg`, its
/// client `personal`, its token `storstad_token`, its grants) with a body that would be
/// accepted from someone allowed to send it: a missing check shows as a 2xx.
fn every_route_on_storstad(storstad_token: &str) -> Vec<Route> {
    use Access::*;
    let t = "storstad";
    vec![
        route(
            Public,
            Method::GET,
            "/openapi.json",
            "/openapi.json".into(),
            None,
        ),
        route(Listing, Method::GET, "/tenants", "/tenants".into(), None),
        route(
            Operator,
            Method::POST,
            "/tenants",
            "/tenants".into(),
            Some(smastad()),
        ),
        route(
            Tenant,
            Method::GET,
            "/tenants/{tenant}",
            format!("/tenants/{t}"),
            None,
        ),
        route(
            Operator,
            Method::PUT,
            "/tenants/{tenant}/identity",
            format!("/tenants/{t}/identity"),
            Some(json!({
                "kind": "municipality",
                "display_name": { "sv": "Övertagna kommunen", "en": "Taken over" },
                "organisation_number": "212000-8889",
                "users": {
                    "hsa_id_prefixes": ["SE2120008889-"],
                    "organisation_numbers": ["2120008889"]
                }
            })),
        ),
        route(
            Operator,
            Method::DELETE,
            "/tenants/{tenant}",
            format!("/tenants/{t}"),
            None,
        ),
        route(
            Tenant,
            Method::PUT,
            "/tenants/{tenant}/admins",
            format!("/tenants/{t}/admins"),
            Some(json!({ "admins": ["SE2120007774-eva05"] })),
        ),
        route(
            Tenant,
            Method::PUT,
            "/tenants/{tenant}/session",
            format!("/tenants/{t}/session"),
            Some(json!({ "idle_timeout_minutes": 1, "shared_workstations": true })),
        ),
        route(
            Tenant,
            Method::GET,
            "/tenants/{tenant}/applications",
            format!("/tenants/{t}/applications"),
            None,
        ),
        route(
            Tenant,
            Method::PUT,
            "/tenants/{tenant}/saml-sps/{app}",
            format!("/tenants/{t}/saml-sps/{STORSTAD_SP}"),
            // Storstad's SP, its assertions redirected to a Lillby host.
            Some(json!({
                "id": STORSTAD_SP,
                "display_name": { "sv": "Omsorgsjournalen", "en": "Social care records" },
                "entity_id": "https://localhost:9443/sp/storstad-omsorg",
                "profile": "swedish-eid",
                "acs_urls": ["https://omsorg.lillby.example/saml/acs"],
                "user_tenants": ["storstad", "region"]
            })),
        ),
        route(
            Tenant,
            Method::DELETE,
            "/tenants/{tenant}/saml-sps/{app}",
            format!("/tenants/{t}/saml-sps/{STORSTAD_SP}"),
            None,
        ),
        route(
            Tenant,
            Method::PUT,
            "/tenants/{tenant}/oidc-clients/{app}",
            format!("/tenants/{t}/oidc-clients/{STORSTAD_CLIENT}"),
            Some(json!({
                "id": STORSTAD_CLIENT,
                "display_name": { "sv": "Personalportalen", "en": "Staff portal" },
                "client_id": "storstad-personal",
                "token_endpoint_auth_method": "client_secret_basic",
                "redirect_uris": ["https://personal.lillby.example/callback"],
                "scopes": ["openid", "profile"]
            })),
        ),
        route(
            Tenant,
            Method::DELETE,
            "/tenants/{tenant}/oidc-clients/{app}",
            format!("/tenants/{t}/oidc-clients/{STORSTAD_CLIENT}"),
            None,
        ),
        route(
            Tenant,
            Method::POST,
            "/tenants/{tenant}/oidc-clients/{app}/secret",
            format!("/tenants/{t}/oidc-clients/{STORSTAD_CLIENT}/secret"),
            Some(json!({ "overlap_seconds": 0 })),
        ),
        route(
            Tenant,
            Method::PUT,
            "/tenants/{tenant}/grants/{owner}/{app}",
            // Storstad's staff, personal identity numbers included, to Lillby's app.
            format!("/tenants/{t}/grants/lillby/hemtjanst"),
            Some(json!({ "attributes": ["givenName", "personalIdentityNumber"] })),
        ),
        route(
            Tenant,
            Method::DELETE,
            "/tenants/{tenant}/grants/{owner}/{app}",
            format!("/tenants/{t}/grants/region/journal"),
            None,
        ),
        route(
            Tenant,
            Method::GET,
            "/tenants/{tenant}/tokens",
            format!("/tenants/{t}/tokens"),
            None,
        ),
        route(
            Tenant,
            Method::POST,
            "/tenants/{tenant}/tokens",
            format!("/tenants/{t}/tokens"),
            Some(json!({ "name": "lillby-was-here" })),
        ),
        route(
            Tenant,
            Method::DELETE,
            "/tenants/{tenant}/tokens/{id}",
            format!("/tenants/{t}/tokens/{storstad_token}"),
            None,
        ),
        route(
            Tenant,
            Method::GET,
            "/tenants/{tenant}/audit",
            format!("/tenants/{t}/audit"),
            None,
        ),
    ]
}

/// Storstad's objects reached through Lillby's own paths.
fn storstad_objects_under_lillby(storstad_token: &str) -> Vec<(Method, String)> {
    vec![
        (
            Method::DELETE,
            format!("/tenants/lillby/tokens/{storstad_token}"),
        ),
        (
            Method::DELETE,
            format!("/tenants/lillby/saml-sps/{STORSTAD_SP}"),
        ),
        (
            Method::DELETE,
            format!("/tenants/lillby/oidc-clients/{STORSTAD_CLIENT}"),
        ),
        (
            Method::POST,
            format!("/tenants/lillby/oidc-clients/{STORSTAD_CLIENT}/secret"),
        ),
    ]
}

/// Everything about a tenant an operator can read: its document and its tokens.
async fn tenant_state(idp: &TestIdp, operator: &str, id: &str) -> (Value, Value) {
    let document = get(idp, operator, &format!("/tenants/{id}")).await;
    expect(&document, 200, &format!("operator GET /tenants/{id}"));
    let tokens = get(idp, operator, &format!("/tenants/{id}/tokens")).await;
    expect(&tokens, 200, &format!("operator GET /tenants/{id}/tokens"));
    (document.body, tokens.body)
}

/// The issue's done-when: a tenant's token reaches nothing of another tenant's, and
/// changes nothing; operator-only routes refuse a tenant token even on its own tenant;
/// without a valid token nothing answers but 401.
async fn a_tenant_token_reaches_nothing_of_another_tenant(idp: TestIdp) {
    let operator = make_token(&idp, TokenScope::Operator, "operator").await;
    let lillby = make_token(&idp, tenant("lillby"), "lillby automation").await;
    let storstad = make_token(&idp, tenant("storstad"), "storstad automation").await;
    let revoked = make_token(&idp, tenant("lillby"), "lillby, revoked").await;
    let gone = delete(
        &idp,
        &operator.token,
        &format!("/tenants/lillby/tokens/{}", revoked.id),
    )
    .await;
    expect(&gone, 204, "operator revokes a lillby token");

    // The tokens work where they should (else every refusal below proves nothing).
    expect(
        &get(&idp, &lillby.token, "/tenants/lillby").await,
        200,
        "lillby on lillby",
    );
    expect(
        &get(&idp, &storstad.token, "/tenants/storstad").await,
        200,
        "storstad on storstad",
    );

    let version = registry_version(&idp);
    let storstad_before = tenant_state(&idp, &operator.token, "storstad").await;
    let lillby_before = tenant_state(&idp, &operator.token, "lillby").await;

    let routes = every_route_on_storstad(&storstad.id);
    let mut wrong = Vec::new();
    for route in &routes {
        let answer = call(
            &idp,
            Auth::Bearer(&lillby.token),
            route.method.clone(),
            &route.path,
            route.body.as_ref(),
        )
        .await;
        let is_right = match route.access {
            Access::Public => answer.status == StatusCode::OK,
            Access::Listing => {
                answer.status == StatusCode::OK
                    && answer.body.as_array().is_some_and(|tenants| {
                        tenants.iter().map(|t| &t["id"]).eq([&json!("lillby")])
                    })
            }
            Access::Operator | Access::Tenant => matches!(
                (answer.status.as_u16(), answer.code()),
                (403, Some("ADMIN_FORBIDDEN")) | (404, Some("ADMIN_NOT_FOUND"))
            ),
        };
        if !is_right {
            wrong.push(format!("lillby's token: {route} -> {}", brief(&answer)));
        }
    }
    for (method, path) in storstad_objects_under_lillby(&storstad.id) {
        let body = (method == Method::POST).then(|| json!({}));
        let answer = call(
            &idp,
            Auth::Bearer(&lillby.token),
            method.clone(),
            &path,
            body.as_ref(),
        )
        .await;
        if !matches!(
            (answer.status.as_u16(), answer.code()),
            (403, Some("ADMIN_FORBIDDEN")) | (404, Some("ADMIN_NOT_FOUND"))
        ) {
            wrong.push(format!(
                "lillby's token: {method} {path} -> {}",
                brief(&answer)
            ));
        }
    }

    // The operator's decisions stay the operator's, also on the tenant's own entry.
    let lillby_identity = json!({
        "kind": "municipality",
        "display_name": { "sv": "Lillby kommun", "en": "Lillby Municipality" },
        "organisation_number": "212000-7774",
        // Storstad's staff claimed as Lillby's.
        "users": {
            "hsa_id_prefixes": ["SE2120007774-"],
            "organisation_numbers": ["2120007774", "2120008889"]
        }
    });
    let own = [
        (Method::POST, "/tenants".to_owned(), Some(smastad())),
        (
            Method::PUT,
            "/tenants/lillby/identity".to_owned(),
            Some(lillby_identity),
        ),
        (Method::DELETE, "/tenants/lillby".to_owned(), None),
    ];
    for (method, path, body) in &own {
        let answer = call(
            &idp,
            Auth::Bearer(&lillby.token),
            method.clone(),
            path,
            body.as_ref(),
        )
        .await;
        if (answer.status.as_u16(), answer.code()) != (403, Some("ADMIN_FORBIDDEN")) {
            wrong.push(format!(
                "lillby's token on its own tenant: {method} {path} -> {}",
                brief(&answer)
            ));
        }
    }

    // Without a valid token, every route but the document answers 401.
    let garbage = "Bearer adm_not-a-token-at-all";
    let wrong_scheme = format!("Basic {}", "bGlsbGJ5OnNlY3JldA==");
    let revoked_header = format!("Bearer {}", revoked.token);
    let unauthenticated = [
        ("no Authorization", Auth::None),
        ("a garbage token", Auth::Header(garbage)),
        ("Basic credentials", Auth::Header(&wrong_scheme)),
        ("a revoked token", Auth::Header(&revoked_header)),
    ];
    for (who, auth) in unauthenticated {
        for route in routes.iter().filter(|r| r.access != Access::Public) {
            let answer = call(
                &idp,
                auth,
                route.method.clone(),
                &route.path,
                route.body.as_ref(),
            )
            .await;
            if (answer.status.as_u16(), answer.code()) != (401, Some("ADMIN_UNAUTHENTICATED")) {
                wrong.push(format!("{who}: {route} -> {}", brief(&answer)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "expected 403/404 across tenants, 403 for operator routes, 401 without a valid token; got:\n{}",
        wrong.join("\n")
    );

    // Nothing changed: not Storstad, not Lillby, not the registry version.
    assert_eq!(
        tenant_state(&idp, &operator.token, "storstad").await,
        storstad_before
    );
    assert_eq!(
        tenant_state(&idp, &operator.token, "lillby").await,
        lillby_before
    );
    assert_eq!(registry_version(&idp), version);
    expect(
        &get(&idp, &storstad.token, "/tenants/storstad").await,
        200,
        "storstad's token still works",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_token_reaches_nothing_of_another_tenant_on_sqlite() {
    let db = e2e::SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    a_tenant_token_reaches_nothing_of_another_tenant(idp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_token_reaches_nothing_of_another_tenant_on_postgresql() {
    let db = e2e::PostgresDatabase::create().await.unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    a_tenant_token_reaches_nothing_of_another_tenant(idp).await;
}

async fn sqlite_idp() -> (TestIdp, e2e::SqliteDatabase) {
    let db = e2e::SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    (idp, db)
}

const INTRANAT_ENTITY_ID: &str = "https://intranat.lillby.example/sp";
const NATTPATRULL: &str = "lillby-nattpatrull";
const NATTPATRULL_CALLBACK: &str = "https://nattpatrull.lillby.example/callback";

fn intranat(display_name: &str) -> Value {
    json!({
        "id": "intranat",
        "display_name": { "sv": display_name, "en": "Intranet" },
        "entity_id": INTRANAT_ENTITY_ID,
        "profile": "sambi",
        "acs_urls": ["https://intranat.lillby.example/saml/acs"],
        "user_tenants": ["lillby"],
        "release": ["givenName", "surname", "employeeHsaId"]
    })
}

fn nattpatrull(post_logout: &[&str]) -> Value {
    json!({
        "id": "nattpatrull",
        "display_name": { "sv": "Nattpatrullen", "en": "Night patrol" },
        "client_id": NATTPATRULL,
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": [NATTPATRULL_CALLBACK],
        "post_logout_redirect_uris": post_logout,
        "scopes": ["openid", "profile"]
    })
}

/// What the token endpoint says to `secret` for a code that does not exist: a client
/// that authenticated hears `invalid_grant`, one that did not `invalid_client`.
async fn token_endpoint_verdict(idp: &TestIdp, secret: &str) -> (u16, String) {
    let (status, body, _) = token_request(
        idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", NATTPATRULL_CALLBACK),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ],
        Some((NATTPATRULL, secret)),
    )
    .await;
    (
        status.as_u16(),
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

fn authenticated() -> (u16, String) {
    (400, "invalid_grant".to_owned())
}

fn not_authenticated() -> (u16, String) {
    (401, "invalid_client".to_owned())
}

/// A municipality onboards its own applications with its tenant token: each change is
/// in use at once, the client secret is shown once and works, rotation keeps the old
/// secret for the overlap asked for, and the audit names the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_onboards_its_applications_with_its_token() {
    let (idp, _db) = sqlite_idp().await;
    let lillby = make_token(&idp, tenant("lillby"), "lillby onboarding").await;
    let token = lillby.token.as_str();
    let version = registry_version(&idp);

    // A SAML SP without metadata (its ACS URL given): created, then replaced.
    let created = put(
        &idp,
        token,
        "/tenants/lillby/saml-sps/intranat",
        intranat("Intranätet"),
    )
    .await;
    expect(&created, 201, "register an SP");
    assert_eq!(
        created.body["application"]["entity_id"], INTRANAT_ENTITY_ID,
        "{created}"
    );
    assert!(created.body["warnings"].is_array(), "{created}");
    let replaced = put(
        &idp,
        token,
        "/tenants/lillby/saml-sps/intranat",
        intranat("Lillby intranät"),
    )
    .await;
    expect(&replaced, 200, "replace the SP");
    assert_eq!(
        replaced.body["application"]["display_name"]["sv"],
        "Lillby intranät"
    );

    let applications = get(&idp, token, "/tenants/lillby/applications").await;
    expect(&applications, 200, "list applications");
    let listed = applications
        .body
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["id"] == "intranat"))
        .unwrap_or_else(|| panic!("intranat not listed: {applications}"));
    assert_eq!(listed["protocol"], "saml");
    assert_eq!(listed["protocol_id"], INTRANAT_ENTITY_ID);
    assert_eq!(listed["display_name"]["sv"], "Lillby intranät");
    // In use at once: the SAML engine knows it, with its ACS.
    let sp = idp
        .state
        .saml
        .registry()
        .get(INTRANAT_ENTITY_ID)
        .expect("the SAML engine serves the new SP at once");
    assert_eq!(sp.tenant.id.as_str(), "lillby");
    assert_eq!(sp.config.display_name.sv, "Lillby intranät");
    assert_eq!(
        sp.acs
            .iter()
            .map(|a| a.location.as_str())
            .collect::<Vec<_>>(),
        ["https://intranat.lillby.example/saml/acs"]
    );

    // An OIDC client with a secret: the IdP makes it and shows it once.
    let created = put(
        &idp,
        token,
        "/tenants/lillby/oidc-clients/nattpatrull",
        nattpatrull(&[]),
    )
    .await;
    expect(&created, 201, "register an OIDC client");
    let first = created.body["client_secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no client_secret: {created}"))
        .to_owned();
    assert!(first.len() >= 43, "a 256-bit secret: {first:?}");
    assert_eq!(created.body["application"]["client_id"], NATTPATRULL);
    assert_eq!(token_endpoint_verdict(&idp, &first).await, authenticated());
    assert_eq!(
        token_endpoint_verdict(&idp, "not-the-secret").await,
        not_authenticated()
    );

    // An update keeps the secret and shows none.
    let updated = put(
        &idp,
        token,
        "/tenants/lillby/oidc-clients/nattpatrull",
        nattpatrull(&["https://nattpatrull.lillby.example/"]),
    )
    .await;
    expect(&updated, 200, "update the OIDC client");
    assert!(updated.body.get("client_secret").is_none(), "{updated}");
    assert_eq!(token_endpoint_verdict(&idp, &first).await, authenticated());

    // Rotation with an hour's overlap: both work; the old one until then.
    let rotated = post(
        &idp,
        token,
        "/tenants/lillby/oidc-clients/nattpatrull/secret",
        json!({ "overlap_seconds": 3600 }),
    )
    .await;
    expect(&rotated, 201, "rotate the secret");
    let second = rotated.body["client_secret"].as_str().unwrap().to_owned();
    assert!(second.len() >= 43 && second != first, "{rotated}");
    let expires = rotated.body["previous_expires_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("previous_expires_at: {rotated}"));
    let in_an_hour = now().unix_timestamp() + 3600;
    assert!(
        (in_an_hour - 120..=in_an_hour + 1).contains(&expires),
        "{rotated}"
    );
    assert_eq!(token_endpoint_verdict(&idp, &second).await, authenticated());
    assert_eq!(token_endpoint_verdict(&idp, &first).await, authenticated());

    // Rotation without overlap (a leaked secret): the previous one stops at once.
    let rotated = post(
        &idp,
        token,
        "/tenants/lillby/oidc-clients/nattpatrull/secret",
        json!({ "overlap_seconds": 0 }),
    )
    .await;
    expect(&rotated, 201, "rotate the secret without overlap");
    let third = rotated.body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(token_endpoint_verdict(&idp, &third).await, authenticated());
    assert_eq!(
        token_endpoint_verdict(&idp, &second).await,
        not_authenticated()
    );

    // Secrets and their hashes never come back out.
    let secrets = [&first, &second, &third];
    let document = get(&idp, token, "/tenants/lillby").await;
    expect(&document, 200, "read the tenant");
    let listed = &document.body["oidc_client"];
    assert!(
        listed
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["client_id"] == NATTPATRULL)),
        "{document}"
    );
    let text = document.body.to_string();
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "a secret in {text}");
        assert!(
            !text.contains(&sha256_hex(secret)),
            "a secret's hash in {text}"
        );
    }

    // Six registry changes, each a version in use, each audited under the token.
    assert!(registry_version(&idp) >= version + 6);
    let audit = get(&idp, token, "/tenants/lillby/audit").await;
    expect(&audit, 200, "read the audit");
    let actor = format!("token:{}", lillby.id);
    let ours: Vec<&Value> = audit
        .body
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"))
        .iter()
        .filter(|e| e["actor"] == actor.as_str())
        .collect();
    let mut versions: Vec<i64> = ours
        .iter()
        .filter_map(|e| e["registry_version"].as_i64())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    assert!(versions.len() >= 6, "six changes by {actor}: {audit}");
    assert!(ours.iter().all(|e| e["tenant_id"] == "lillby"), "{audit}");
    let mentions = |needle: &str| ours.iter().any(|e| e.to_string().contains(needle));
    assert!(
        mentions(INTRANAT_ENTITY_ID) && mentions(NATTPATRULL),
        "{audit}"
    );
    for secret in secrets {
        assert!(
            !audit.body.to_string().contains(secret.as_str()),
            "a secret in the audit"
        );
    }

    // A token of its own for the tenant's automation, revoked again.
    let made = post(
        &idp,
        token,
        "/tenants/lillby/tokens",
        json!({ "name": "ci" }),
    )
    .await;
    expect(&made, 201, "make a token");
    let (ci_id, ci) = (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["token"].as_str().unwrap().to_owned(),
    );
    expect(
        &get(&idp, &ci, "/tenants/lillby").await,
        200,
        "the new token works",
    );
    let listed = get(&idp, token, "/tenants/lillby/tokens").await;
    assert!(
        listed.body.as_array().is_some_and(|tokens| tokens
            .iter()
            .any(|t| t["id"] == ci_id.as_str() && t["name"] == "ci" && t["revoked"] == false)),
        "{listed}"
    );
    assert!(
        !listed.body.to_string().contains(&ci),
        "the token itself is listed: {listed}"
    );
    expect(
        &delete(&idp, token, &format!("/tenants/lillby/tokens/{ci_id}")).await,
        204,
        "revoke",
    );
    expect_error(
        &get(&idp, &ci, "/tenants/lillby").await,
        401,
        "ADMIN_UNAUTHENTICATED",
        "revoked",
    );
    let listed = get(&idp, token, "/tenants/lillby/tokens").await;
    assert!(
        listed.body.as_array().is_some_and(|tokens| tokens
            .iter()
            .any(|t| t["id"] == ci_id.as_str() && t["revoked"] == true)),
        "{listed}"
    );

    // Deleting: gone from the API and from the engines at once.
    expect(
        &delete(&idp, token, "/tenants/lillby/saml-sps/intranat").await,
        204,
        "delete SP",
    );
    expect(
        &delete(&idp, token, "/tenants/lillby/oidc-clients/nattpatrull").await,
        204,
        "delete client",
    );
    assert!(idp.state.saml.registry().get(INTRANAT_ENTITY_ID).is_none());
    assert_eq!(
        token_endpoint_verdict(&idp, &third).await,
        not_authenticated()
    );
    let applications = get(&idp, token, "/tenants/lillby/applications").await;
    let ids: Vec<&Value> = applications
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(ids, [&json!("hemtjanst")], "{applications}");
}

/// The errors an integrator meets say what is wrong, and leave the registry as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_changes_say_why_and_change_nothing() {
    let (idp, _db) = sqlite_idp().await;
    let operator = make_token(&idp, TokenScope::Operator, "operator").await;
    let lillby = make_token(&idp, tenant("lillby"), "lillby").await;
    let token = lillby.token.as_str();
    let version = registry_version(&idp);
    let before = tenant_state(&idp, &operator.token, "lillby").await;

    // Metadata that cannot be fetched: the cause, by its stable code.
    let mut unreachable = intranat("Extern");
    unreachable["id"] = json!("extern");
    unreachable["entity_id"] = json!("https://extern.lillby.example/sp");
    unreachable["metadata_url"] = json!("https://sp.invalid/metadata");
    unreachable.as_object_mut().unwrap().remove("acs_urls");
    let answer = put(&idp, token, "/tenants/lillby/saml-sps/extern", unreachable).await;
    expect_error(
        &answer,
        422,
        "SAML_METADATA_DNS",
        "unresolvable metadata_url",
    );
    assert!(answer.message().contains("sp.invalid"), "{answer}");

    // Another tenant's entityID: the problem names that tenant.
    let mut copy = intranat("Kopia");
    copy["id"] = json!("kopia");
    copy["entity_id"] = json!(REGION_ENTITY_ID);
    let answer = put(&idp, token, "/tenants/lillby/saml-sps/kopia", copy).await;
    expect_error(&answer, 422, "ADMIN_INVALID", "region's entityID");
    let problems = answer.body["error"]["problems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        problems.iter().any(|p| p["tenant"] == "lillby"
            && p["field"]
                .as_str()
                .is_some_and(|f| f.ends_with("entity_id"))
            && p["message"].as_str().is_some_and(|m| m.contains("region"))),
        "{answer}"
    );

    // Secrets are the IdP's to make, never the caller's.
    for (key, value) in [
        (
            "client_secret_sha256",
            json!(sha256_hex("a secret of my own choosing, 32+")),
        ),
        (
            "client_secrets",
            json!([{ "sha256": sha256_hex("another secret of my own, 32+ chars"), "created_at": 0 }]),
        ),
    ] {
        let mut client = nattpatrull(&[]);
        client[key] = value;
        let answer = put(
            &idp,
            token,
            "/tenants/lillby/oidc-clients/nattpatrull",
            client,
        )
        .await;
        expect_error(&answer, 422, "ADMIN_INVALID", key);
    }

    // Malformed requests.
    let answer = e2e::https_client()
        .put(idp.url(&format!("{BASE}/tenants/lillby/saml-sps/intranat")))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{\"id\": \"intranat\", ")
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ADMIN_BAD_REQUEST")),
        "truncated JSON: {body}"
    );
    let answer = put(
        &idp,
        token,
        "/tenants/lillby/saml-sps/annat",
        intranat("Fel id"),
    )
    .await;
    expect_error(
        &answer,
        400,
        "ADMIN_BAD_REQUEST",
        "body id differs from the path",
    );

    // A tenant cannot widen who its staff are.
    let mut claim = smastad();
    claim["id"] = json!("lillby2");
    claim["users"] = json!({ "organisation_numbers": ["2120008889"] });
    let answer = post(&idp, token, "/tenants", claim).await;
    expect_error(
        &answer,
        403,
        "ADMIN_FORBIDDEN",
        "tenant token POST /tenants",
    );

    // Unknown objects.
    let answer = get(&idp, &operator.token, "/tenants/nowhere").await;
    expect_error(&answer, 404, "ADMIN_NOT_FOUND", "unknown tenant");
    let answer = delete(&idp, token, "/tenants/lillby/saml-sps/nothing").await;
    expect_error(&answer, 404, "ADMIN_NOT_FOUND", "unknown SP");

    assert_eq!(registry_version(&idp), version);
    assert_eq!(tenant_state(&idp, &operator.token, "lillby").await, before);
    let saml = idp.state.saml.registry();
    assert!(saml.get("https://extern.lillby.example/sp").is_none());
    assert_eq!(
        saml.get(REGION_ENTITY_ID).unwrap().tenant.id.as_str(),
        "region"
    );
}

/// `{tenant}` and `{tenant_id}` alike: `{}`.
fn shape(template: &str) -> String {
    let mut out = String::new();
    let mut in_parameter = false;
    for c in template.chars() {
        match c {
            '{' => {
                in_parameter = true;
                out.push_str("{}");
            }
            '}' => in_parameter = false,
            _ if in_parameter => {}
            _ => out.push(c),
        }
    }
    out
}

async fn openapi_document(idp: &TestIdp) -> Value {
    let answer = call(idp, Auth::None, Method::GET, "/openapi.json", None).await;
    expect(&answer, 200, "GET openapi.json without a token");
    assert!(answer.body.is_object(), "not a JSON document: {answer}");
    answer.body
}

/// The OpenAPI document describes every route of the contract, with its success status
/// and bearer authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let (idp, _db) = sqlite_idp().await;
    let doc = openapi_document(&idp).await;
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi: {:?}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths: {doc}"));
    let documented = |template: &str, method: &Method| {
        paths
            .iter()
            .filter(|(path, _)| shape(path.strip_prefix(BASE).unwrap_or(path)) == shape(template))
            .find_map(|(_, item)| item.get(method.as_str().to_lowercase()).cloned())
    };
    let success = |method: &Method, template: &str| match (method.as_str(), template) {
        ("POST", _) => vec!["201"],
        ("DELETE", _) => vec!["204"],
        ("PUT", "/tenants/{tenant}/saml-sps/{app}" | "/tenants/{tenant}/oidc-clients/{app}") => {
            vec!["200", "201"]
        }
        _ => vec!["200"],
    };
    let mut missing = Vec::new();
    // "Everything below" the document itself.
    for route in every_route_on_storstad("id")
        .iter()
        .filter(|r| r.access != Access::Public)
    {
        let Some(operation) = documented(route.template, &route.method) else {
            missing.push(format!("{} {}: no operation", route.method, route.template));
            continue;
        };
        for status in success(&route.method, route.template) {
            if operation["responses"].get(status).is_none() {
                missing.push(format!(
                    "{} {}: no {status} response",
                    route.method, route.template
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "openapi.json lacks:\n{}",
        missing.join("\n")
    );
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        schemes.values().any(|s| s["type"] == "http"
            && s["scheme"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))),
        "no bearer security scheme: {:?}",
        doc["components"]["securitySchemes"]
    );
}

/// The API's base URL as the document's `servers` gives it (else the IdP's root).
fn api_base_url(idp: &TestIdp, doc: &Value) -> String {
    match doc["servers"][0]["url"].as_str() {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => url.to_owned(),
        Some(path) => idp.url(path.trim_end_matches('/')),
        None => idp.url(""),
    }
}

/// Most generated path parameters name the shipped tenants and applications, so that
/// requests reach real objects (and their 200 responses are checked against the
/// document), the rest are random (and meet the 404s).
const SCHEMATHESIS_CONFIG: &str = r#"
[dictionaries.tenants]
values = ["lillby", "storstad", "region"]

[dictionaries.applications]
values = ["hemtjanst", "omsorg", "personal", "journal", "appen"]

[parameters]
"path.tenant" = { dictionary = "tenants", probability = 0.7 }
"path.owner" = { dictionary = "tenants", probability = 0.7 }
"path.app" = { dictionary = "applications", probability = 0.7 }
"#;

/// schemathesis generates requests from the OpenAPI document (as the operator): no
/// request makes a server error, and every response matches its documented schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_undocumented_response() {
    let root = e2e::repo_root();
    let schemathesis = root.join("tests/admin-api/.venv/bin/schemathesis");
    assert!(
        schemathesis.is_file(),
        "{} is missing: run the suite with tests/run, which installs tests/admin-api/requirements.txt",
        schemathesis.display()
    );
    let (idp, _db) = sqlite_idp().await;
    let operator = make_token(&idp, TokenScope::Operator, "schemathesis").await;
    let doc = openapi_document(&idp).await;
    let base = api_base_url(&idp, &doc);
    // Its working files (hypothesis database, reports) stay out of the repository.
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("schemathesis.toml");
    std::fs::write(&config, SCHEMATHESIS_CONFIG).unwrap();
    let mut command = tokio::process::Command::new(&schemathesis);
    command
        .current_dir(work.path())
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(idp.url(&format!("{BASE}/openapi.json")))
        .args(["--url", &base])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", operator.token),
        ])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "20"])
        // One worker: Hypothesis describing its strategies from several threads at once
        // trips CPython 3.11's parser ("AST constructor recursion depth mismatch").
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--generation-database", "none"])
        .arg("--no-color")
        .arg("--tls-verify")
        .arg(root.join("certs-dev/tls/tls-ca.pem"))
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis did not finish within 5 minutes"))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", schemathesis.display()));
    // Shown with --nocapture (and on failure): what was generated and checked.
    println!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "schemathesis {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
