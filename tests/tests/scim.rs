//! SCIM provisioning (`/scim/v2`) as a tenant's provisioning client uses it: Users made,
//! changed and removed are what the next login finds; a tenant's token provisions only
//! its own population; filters, paging, ETags and errors as RFC 7644 says.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use e2e::agent::Agent;
use e2e::oidc::{authorize_url, jwt_parts, param, pkce, CONFIDENTIAL};
use e2e::{https_client, SqliteDatabase, TestIdp};
use idp::admin::{create_api_token, TokenPurpose, TokenScope};

const HSA: &str = "urn:se:regional-idp:scim:schemas:extension:hsa:1.0:User";

/// A production instance (no development people) and a region SCIM token.
async fn start() -> (TestIdp, SqliteDatabase, String) {
    let db = SqliteDatabase::create().unwrap();
    let config = e2e::idp_server::production_config(&db.url, None);
    let idp = TestIdp::start(config).await.unwrap();
    let token = new_token(&idp, "region", TokenPurpose::Scim).await;
    (idp, db, token)
}

async fn new_token(idp: &TestIdp, tenant: &str, purpose: TokenPurpose) -> String {
    let now = idp::clock::Clock::now(&idp::clock::SystemClock);
    create_api_token(
        &idp.state.db,
        TokenScope::Tenant(tenant.parse().unwrap()),
        purpose,
        "provisioning",
        "operator:test",
        now,
    )
    .await
    .unwrap()
    .token
}

/// A SCIM request; the status, the headers and the JSON body (`Null` when none).
async fn scim(
    idp: &TestIdp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = https_client()
        .request(method, idp.url(&format!("/scim/v2{path}")))
        .bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, headers, body)
}

/// Anna as the region's HR system provisions her: her card's HSA-id.
fn anna(given_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", HSA],
        "userName": "anna.andersson@region.example",
        "externalId": "hr-1001",
        "name": {"givenName": given_name, "familyName": "Andersson"},
        "emails": [{"value": "anna.andersson@region.example", "type": "work", "primary": true}],
        HSA: {
            "personalIdentityNumber": "198001012387",
            "employments": [{
                "hsaId": "SE2321009991-anna01",
                "organisationNumber": "2321009991",
                "organisationName": "Region Exempel",
                "title": "Sjuksköterska"
            }]
        }
    })
}

/// David as Storstad's HR system provisions him: his card's HSA-id.
fn david(given_name: &str) -> Value {
    json!({
        "userName": "david@storstad.example",
        "active": true,
        "name": {"givenName": given_name, "familyName": "Dahl"},
        HSA: {
            "employments": [{
                "hsaId": "SE2120008889-dav04",
                "organisationNumber": "2120008889",
                "organisationName": "Storstads kommun"
            }]
        }
    })
}

/// David logs in with his card to Storstad's OIDC client: the ID token's given name, or
/// the error code of the page he ends on.
async fn log_in(idp: &TestIdp) -> Result<String, String> {
    let browser = Agent::with_certificate("david");
    let (verifier, challenge) = pkce();
    let url = authorize_url(idp, CONFIDENTIAL, "openid profile", Some(&challenge), &[]);
    let prefix = e2e::oidc::callback(CONFIDENTIAL);
    let landed = match browser.open_until(&url, &prefix).await {
        Ok(url) => url,
        Err(login_page) => browser
            .log_in_until(idp, &login_page, &prefix)
            .await
            .map_err(|page| page.error_code().unwrap_or("no code").to_owned())?,
    };
    let code = param(&landed, "code").expect("a code");
    // A production instance: the client's secret is not the published one.
    let secret = Some((CONFIDENTIAL, e2e::idp_server::PRODUCTION_TEST_SECRET));
    let (status, tokens, _) =
        e2e::oidc::exchange(idp, CONFIDENTIAL, secret, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let (_, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    Ok(claims["given_name"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_staff_log_in_and_a_deactivation_stops_them_at_once() {
    let (idp, _db, _) = start().await;
    let token = new_token(&idp, "storstad", TokenPurpose::Scim).await;
    assert_eq!(
        log_in(&idp).await,
        Err("USER_UNKNOWN".into()),
        "nobody before provisioning"
    );

    let (status, headers, created) = scim(
        &idp,
        &token,
        Method::POST,
        "/Users",
        Some(david("David")),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let location = headers["location"].to_str().unwrap();
    assert!(
        location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{location}"
    );
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(
        headers["etag"],
        created["meta"]["version"].as_str().unwrap()
    );
    assert_eq!(created["active"], true);
    assert_eq!(log_in(&idp).await, Ok("David".into()));
    // The source's state: in /metrics and in the tenant's admin API.
    let metrics = reqwest::get(idp.management_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("idp_directory_source_records{source=\"storstad/scim\",state=\"active\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("idp_directory_source_failing{source=\"storstad/scim\"} 0"));
    let admin = new_token(&idp, "storstad", TokenPurpose::Admin).await;
    let sources: Value = https_client()
        .get(idp.url("/admin/api/v1/tenants/storstad/directory/sources"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sources[0]["source"], "storstad/scim");
    assert_eq!(sources[0]["kind"], "scim");
    assert_eq!(sources[0]["active_records"], 1);
    let other = https_client()
        .get(idp.url("/admin/api/v1/tenants/region/directory/sources"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::FORBIDDEN,
        "another tenant's sources"
    );

    // A change of name is what the next login says.
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.givenName", "value": "Dave"}]});
    let (status, _, patched) = scim(
        &idp,
        &token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(rename),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(log_in(&idp).await, Ok("Dave".into()));

    // Deactivated: no login from the next request on.
    let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]});
    let (status, _, patched) = scim(
        &idp,
        &token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(deactivate),
        &[],
    )
    .await;
    assert_eq!(
        (status, &patched["active"]),
        (StatusCode::OK, &json!(false)),
        "{patched}"
    );
    assert_eq!(log_in(&idp).await, Err("USER_UNKNOWN".into()));

    let (status, _, _) = scim(
        &idp,
        &token,
        Method::DELETE,
        &format!("/Users/{id}"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, gone) = scim(
        &idp,
        &token,
        Method::GET,
        &format!("/Users/{id}"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(gone["status"], "404");
}

#[tokio::test]
async fn a_tenants_scim_token_provisions_only_its_own_population() {
    let (idp, _db, region) = start().await;
    // A Lillby HSA-id through the region's token: refused, with the code and the id.
    let mut lillby_person = anna("Anna");
    lillby_person[HSA]["employments"][0]["hsaId"] = json!("SE2120007774-anna02");
    lillby_person[HSA]["employments"][0]["organisationNumber"] = json!("2120007774");
    let (status, headers, error) = scim(
        &idp,
        &region,
        Method::POST,
        "/Users",
        Some(lillby_person),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(headers["x-idp-error"], "OUTSIDE_POPULATION");
    assert_eq!(error["scimType"], "invalidValue");
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("SE2120007774-anna02"),
        "{error}"
    );
    let (_, _, list) = scim(&idp, &region, Method::GET, "/Users", None, &[]).await;
    assert_eq!(list["totalResults"], 0, "nothing was written");

    // Lillby's own token cannot see or touch the region's Users.
    let (status, _, created) = scim(
        &idp,
        &region,
        Method::POST,
        "/Users",
        Some(anna("Anna")),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let lillby = new_token(&idp, "lillby", TokenPurpose::Scim).await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    assert_eq!(
        scim(&idp, &lillby, Method::GET, &path, None, &[]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        scim(&idp, &lillby, Method::DELETE, &path, None, &[])
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        scim(&idp, &lillby, Method::GET, "/Users", None, &[])
            .await
            .2["totalResults"],
        0
    );
    // And it cannot take the region employee's HSA-id for itself (another population).
    let (status, _, _) = scim(
        &idp,
        &lillby,
        Method::POST,
        "/Users",
        Some(anna("Anna")),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // An admin token is no SCIM token, nor the other way round; no token is nothing.
    let admin = new_token(&idp, "region", TokenPurpose::Admin).await;
    let (status, headers, _) = scim(&idp, &admin, Method::GET, "/Users", None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let admin_api = https_client()
        .get(idp.url("/admin/api/v1/tenants/region"))
        .bearer_auth(&region)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_api.status(), StatusCode::UNAUTHORIZED);
    let (status, _, _) = scim(&idp, "idpat_not-a-token", Method::GET, "/Users", None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_are_filtered_paged_and_versioned() {
    let (idp, _db, token) = start().await;
    let mut ids = Vec::new();
    for (i, name) in ["alva", "albin", "bodil"].iter().enumerate() {
        let user = json!({
            "userName": format!("{name}@region.example"),
            "name": {"givenName": name, "familyName": "Test"},
            HSA: {"employments": [{"hsaId": format!("SE2321009991-s{i}"), "organisationNumber": "2321009991", "organisationName": "Region Exempel"}]}
        });
        let (status, _, created) =
            scim(&idp, &token, Method::POST, "/Users", Some(user), &[]).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let list = |query: &'static str| {
        let idp = &idp;
        let token = &token;
        async move {
            scim(
                idp,
                token,
                Method::GET,
                &format!("/Users?{query}"),
                None,
                &[],
            )
            .await
            .2
        }
    };
    let names = |list: &Value| -> Vec<String> {
        let mut names: Vec<String> = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&list("filter=userName%20sw%20%22AL%22").await),
        ["albin@region.example", "alva@region.example"]
    );
    assert_eq!(
        names(&list("filter=userName%20eq%20%22bodil%40region.example%22").await),
        ["bodil@region.example"]
    );
    let page = list("startIndex=2&count=1").await;
    assert_eq!(
        (
            page["totalResults"].as_u64(),
            page["startIndex"].as_u64(),
            page["itemsPerPage"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    let bad = scim(
        &idp,
        &token,
        Method::GET,
        "/Users?filter=userName%20zz%20%22a%22",
        None,
        &[],
    )
    .await;
    assert_eq!(
        (bad.0, bad.2["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidFilter"))
    );

    // ETags: a stale If-Match is refused, a current If-None-Match is "not modified".
    let path = format!("/Users/{}", ids[0]);
    let (_, headers, alva) = scim(&idp, &token, Method::GET, &path, None, &[]).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, _) = scim(
        &idp,
        &token,
        Method::GET,
        &path,
        None,
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let mut changed = alva.clone();
    changed["title"] = json!("Undersköterska");
    let (status, new_headers, _) = scim(
        &idp,
        &token,
        Method::PUT,
        &path,
        Some(changed.clone()),
        &[("if-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(new_headers["etag"], etag.as_str());
    let (status, _, error) = scim(
        &idp,
        &token,
        Method::PUT,
        &path,
        Some(changed),
        &[("if-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{error}");

    // userName is unique within the tenant; HSA-ids across everyone.
    let (status, _, error) = scim(
        &idp,
        &token,
        Method::POST,
        "/Users",
        Some(json!({"userName": "ALVA@region.example"})),
        &[],
    )
    .await;
    assert_eq!(
        (status, error["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );
    let (status, headers, _) = scim(&idp, &token, Method::POST, "/Users", Some(json!({"userName": "x", HSA: {"employments": [{"hsaId": "SE2321009991-s2", "organisationNumber": "2321009991", "organisationName": "Region"}]}})), &[]).await;
    assert_eq!(
        (status, headers["x-idp-error"].to_str().unwrap()),
        (StatusCode::CONFLICT, "HSA_ID_TAKEN")
    );

    // Bad bodies get SCIM errors, not plain text.
    let response = https_client()
        .post(idp.url("/scim/v2/Users"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["scimType"], "invalidSyntax");
    let (status, _, error) = scim(
        &idp,
        &token,
        Method::POST,
        "/Users",
        Some(json!({"userName": "x".repeat(70_000)})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
}

/// scim2-tester (PyPI), an independent SCIM checker, runs its whole suite against the
/// server as a tenant's provisioning client: discovery, create, read, attribute
/// selection, replace, PATCH add/replace/remove of every attribute, delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_finds_no_failure() {
    let (idp, _db, _) = start().await;
    let token = new_token(&idp, "lillby", TokenPurpose::Scim).await;
    let root = e2e::repo_root();
    let python = root.join("tests/scim/.venv/bin/python");
    assert!(
        python.is_file(),
        "run the suite with tests/run, which installs scim2-tester"
    );
    let out = tokio::process::Command::new(python)
        .arg(root.join("tests/scim/check.py"))
        .arg(idp.url("/scim/v2"))
        .arg(&token)
        .arg(root.join("certs-dev/tls/tls-ca.pem"))
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("scim2-tester: ") && report.contains(" 0 failed"),
        "{report}"
    );
    // The run cleaned up after itself: the tester deletes what it made.
    let (_, _, list) = scim(&idp, &token, Method::GET, "/Users", None, &[]).await;
    assert_eq!(list["totalResults"], 0, "{list}");
}
