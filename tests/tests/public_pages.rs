//! The public pages (accessibility statement, privacy notice, service status) and the
//! organisations' branding on the login pages.

use reqwest::StatusCode;
use serde_json::{json, Value};

use e2e::agent::{unescape, Agent};
use e2e::idp_server::shipped_config;
use e2e::{https_client, RedisServer, SqliteDatabase, TestIdp};
use idp::admin::TokenScope;

/// A 1x1 transparent PNG image.
const LOGO: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

async fn page(idp: &TestIdp, path: &str) -> (StatusCode, String) {
    let response = https_client().get(idp.url(path)).send().await.unwrap();
    let status = response.status();
    (status, unescape(&response.text().await.unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_pages_name_the_operator_and_this_instances_retention() {
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    config.idp.storage.audit_retention_days = 90;
    config.idp.directory.retention_days = 14;
    config.idp.pages.operator_name = "Region Provland".into();
    config.idp.pages.contact_email = "inloggning@provland.example".into();
    let idp = TestIdp::start(config).await.unwrap();

    let (status, body) = page(&idp, "/accessibility").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<html lang=\"sv\">"));
    assert!(
        body.contains("<h1>Tillgänglighetsredogörelse</h1>"),
        "{body}"
    );
    assert!(body.contains("Region Provland står bakom"), "{body}");
    assert!(body.contains("mailto:inloggning@provland.example"));
    assert!(body.contains("digg.se"));

    let (status, body) = page(&idp, "/privacy?lang=en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<html lang=\"en\">"));
    assert!(body.contains("run by Region Provland"), "{body}");
    assert!(
        body.contains("90 days, then the event is deleted."),
        "{body}"
    );
    assert!(body.contains("deleted after 14 days"), "{body}");
    assert!(body.contains("__Host-idp_sso"));
    // Every figure is filled in: no placeholder is left on the page.
    assert!(!body.contains('{'), "{body}");

    let (status, body) = page(&idp, "/status?lang=en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("The login service is working normally."),
        "{body}"
    );
    assert!(!body.contains("Disrupted"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_says_which_component_is_disrupted() {
    let mut redis = RedisServer::start().await.unwrap();
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, Some(&redis.url())))
        .await
        .unwrap();
    redis.stop().await.unwrap();

    let (status, body) = page(&idp, "/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Inloggningstjänsten har en störning."),
        "{body}"
    );
    let sessions = body
        .split("<li class=\"component")
        .find(|c| c.contains("Inloggningssessioner"))
        .expect("the session component");
    assert!(sessions.contains("Störning"), "{sessions}");
    let database = body
        .split("<li class=\"component")
        .find(|c| c.contains("Register och inloggningslogg"))
        .expect("the database component");
    assert!(database.contains("Fungerar"), "{database}");
}

async fn set_identity(idp: &TestIdp, token: &str, tenant: &str, identity: Value) -> Value {
    let response = https_client()
        .put(idp.url(&format!("/admin/api/v1/tenants/{tenant}/identity")))
        .bearer_auth(token)
        .json(&identity)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisations_logo_is_on_the_login_pages_of_its_applications() {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    let operator = e2e::admin_token(&idp, TokenScope::Operator).await;
    let region = json!({
        "kind": "region",
        "display_name": { "sv": "Region Exempelland", "en": "Region Exempelland" },
        "organisation_number": "232100-9991",
        "users": { "hsa_id_prefixes": ["SE2321009991-"], "organisation_numbers": ["2321009991"] },
    });

    // Not a PNG image: refused, naming the field.
    let mut not_png = region.clone();
    not_png["branding"] = json!({ "logo_png": "PHN2Zz48L3N2Zz4=" });
    let answer = set_identity(&idp, &operator, "region", not_png).await;
    assert_eq!(answer["error"]["code"], "ADMIN_INVALID", "{answer}");
    assert_eq!(
        answer["error"]["problems"][0]["field"], "branding.logo_png",
        "{answer}"
    );

    let mut with_logo = region.clone();
    with_logo["branding"] = json!({ "logo_png": LOGO });
    let answer = set_identity(&idp, &operator, "region", with_logo).await;
    assert!(answer.get("error").is_none(), "{answer}");

    let logo = https_client()
        .get(idp.url("/branding/region/logo.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), StatusCode::OK);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert!(logo.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let none = https_client()
        .get(idp.url("/branding/lillby/logo.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);

    // The login page of a region application wears the region's logo (no restart).
    let agent = Agent::new();
    let login = agent
        .follow(agent.get(&idp.url("/login/start?app=region/journal")).await)
        .await;
    assert!(
        login.body.contains(
            "<img class=\"logo\" src=\"/branding/region/logo.png\" alt=\"Region Exempelland\""
        ),
        "{}",
        login.body
    );
}
