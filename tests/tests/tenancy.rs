//! Governed tenancy, end to end with pysaml2 service providers: a person's organisation
//! comes from their employments, never from a tenant cached in the session; another
//! organisation's staff are admitted only under that organisation's grant, and receive
//! only what it allows; registry changes take effect without a restart, keeping the
//! sessions in progress.

use serde_json::json;

use e2e::agent::Agent;
use e2e::saml::{log_in, sso, PySp, SamlIdp, ToSp};
use e2e::TestIdp;
use idp::tenants::Tenant;

use crate::saml_interop::sambi_sp;

const HSA_SAMBI: &str = "http://sambi.se/attributes/1/employeeHsaId";
const PNR_EID: &str = "urn:oid:1.2.752.29.4.13";
const GIVEN_NAME_EID: &str = "urn:oid:2.5.4.42";

/// The development directory, with Cecilia (a personal identity number certificate)
/// employed by Lillby as well as by Storstad.
fn directory_with_cecilia_in_two_organisations(dir: &std::path::Path) -> std::path::PathBuf {
    let seed = std::fs::read_to_string(e2e::repo_root().join("config/directory-dev.toml")).unwrap();
    let storstad_job = "  title = \"Undersköterska, hemtjänst\"\n";
    assert!(seed.contains(storstad_job));
    let seed = seed.replacen(
        storstad_job,
        &format!(
            "{storstad_job}\n  [[person.employment]]\n  hsa_id = \"SE2120007774-cec09\"\n  \
             organisation_number = \"2120007774\"\n  organisation_name = \"Lillby kommun\"\n  \
             title = \"Undersköterska, nattpatrull\"\n"
        ),
        1,
    );
    let path = dir.join("directory.toml");
    std::fs::write(&path, seed).unwrap();
    path
}

/// Regression: single sign-on used to check only the organisation the session was
/// created under, so a person employed by two organisations could not reach the second
/// one's application without logging in again (and a tenant claiming the same staff
/// decided their organisation by file order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_admits_a_person_through_whichever_employment_the_application_admits() {
    let storstad_sp = sambi_sp("two-jobs-storstad").await;
    let lillby_sp = sambi_sp("two-jobs-lillby").await;
    let seed_dir = tempfile::tempdir().unwrap();
    let seed = directory_with_cecilia_in_two_organisations(seed_dir.path());
    let saml = SamlIdp::start_with(
        &[
            (
                "storstad",
                storstad_sp.sp_table("jobs-storstad", "sambi", "user_tenants = [\"storstad\"]"),
            ),
            (
                "lillby",
                lillby_sp.sp_table("jobs-lillby", "sambi", "user_tenants = [\"lillby\"]"),
            ),
        ],
        &[&storstad_sp, &lillby_sp],
        |config| config.idp.directory.seed_file = Some(seed),
    )
    .await;
    let cecilia = Agent::with_certificate("cecilia");

    let at_storstad = log_in(&saml.idp, &cecilia, &storstad_sp, json!({})).await;
    assert!(at_storstad.login_page_shown);
    assert_eq!(at_storstad.attribute(HSA_SAMBI), ["SE2120008889-cec03"]);

    // Lillby's application: no second login, and the assertion names her Lillby job.
    let at_lillby = log_in(&saml.idp, &cecilia, &lillby_sp, json!({})).await;
    assert!(!at_lillby.login_page_shown, "single sign-on");
    assert_eq!(at_lillby.attribute(HSA_SAMBI), ["SE2120007774-cec09"]);
}

/// Commits `edit` of the registry on `idp`'s database and takes it into use there.
async fn change_registry(idp: &TestIdp, action: &str, edit: impl FnOnce(&mut Vec<Tenant>)) -> i64 {
    let state = &idp.state;
    let base = state.registry.load();
    let mut tenants = base.tenants.documents();
    edit(&mut tenants);
    let change = idp::registry::Change {
        actor: "operator:test".into(),
        action: action.into(),
        object: None,
        tenants,
        sources: base.sources.clone(),
    };
    let context = idp::config::registry_context(&state.config.idp);
    let (version, _) = idp::registry::commit(
        &state.db,
        &context,
        &base,
        change,
        idp::clock::Clock::now(&idp::clock::SystemClock),
    )
    .await
    .unwrap_or_else(|e| panic!("{action}: {e}"));
    assert_eq!(state.registry.refresh(&state.db).await.unwrap(), version);
    version
}

fn grant(tenants: &mut [Tenant], granting: &str, application: &str, attributes: &[&str]) {
    let tenant = tenants
        .iter_mut()
        .find(|t| t.id.as_str() == granting)
        .unwrap();
    tenant.grant.retain(|g| g.application != application);
    tenant.grant.push(idp::tenants::Grant {
        application: application.into(),
        attributes: attributes
            .iter()
            .map(|a| serde_json::from_value(json!(a)).unwrap())
            .collect(),
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organisations_staff_are_admitted_only_under_its_grant_and_get_only_what_it_allows()
{
    // Lillby's application asks for the region's staff and their personal identity
    // numbers; the region has not agreed.
    let sp = PySp::init(
        "grant-eid",
        json!({ "want_assertions_signed": true, "want_response_signed": true, "encrypt": true }),
    )
    .await;
    let table = sp.sp_table(
        "vardplan",
        "swedish-eid",
        "# no grants\nuser_tenants = [\"lillby\", \"region\"]\n\
         release = [\"givenName\", \"employeeHsaId\", \"personalIdentityNumber\"]",
    );
    let saml = SamlIdp::start(&[("lillby", table)], &[&sp]).await;

    // Without a grant: the region's nurse is refused with a clear page.
    let anna = Agent::with_certificate("anna");
    let request = sp.authn_request(json!({})).await;
    let (refused, asked) = sso(&saml.idp, &anna, &request).await;
    assert!(asked);
    let ToSp::Page(page) = refused else {
        panic!("expected the refusal page, got {refused:?}")
    };
    assert_eq!(page.status.as_u16(), 403, "{}", page.body);
    assert_eq!(page.error_code(), Some("USER_NOT_ALLOWED"));
    // Lillby's own staff are admitted as before.
    let eva = log_in(&saml.idp, &Agent::with_certificate("eva"), &sp, json!({})).await;
    assert_eq!(eva.attribute(GIVEN_NAME_EID), ["Eva"]);

    // The region grants names and HSA-id, not the personal identity number: in use at
    // once, without a restart.
    change_registry(&saml.idp, "grant.create", |tenants| {
        grant(
            tenants,
            "region",
            "lillby/vardplan",
            &["givenName", "employeeHsaId"],
        )
    })
    .await;
    let nurse = log_in(&saml.idp, &anna, &sp, json!({})).await;
    assert_eq!(nurse.attribute(GIVEN_NAME_EID), ["Anna"]);
    assert!(nurse.attribute(PNR_EID).is_empty(), "{:?}", nurse.result);

    // Only when the region's grant names it does the number cross; the nurse's session
    // survives the change (no second login).
    change_registry(&saml.idp, "grant.update", |tenants| {
        grant(
            tenants,
            "region",
            "lillby/vardplan",
            &["givenName", "employeeHsaId", "personalIdentityNumber"],
        )
    })
    .await;
    let again = log_in(&saml.idp, &anna, &sp, json!({})).await;
    assert!(
        !again.login_page_shown,
        "the session outlived the registry change"
    );
    assert_eq!(again.attribute(PNR_EID), ["198001012387"]);

    // Withdrawing the grant shuts the door again, also for the session in progress.
    change_registry(&saml.idp, "grant.delete", |tenants| {
        for t in tenants.iter_mut() {
            t.grant.retain(|g| g.application != "lillby/vardplan");
        }
    })
    .await;
    let request = sp.authn_request(json!({})).await;
    let (refused, asked) = sso(&saml.idp, &anna, &request).await;
    assert!(!asked);
    let ToSp::Page(page) = refused else {
        panic!("expected the refusal page, got {refused:?}")
    };
    assert_eq!(page.error_code(), Some("USER_NOT_ALLOWED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_whose_metadata_is_missing_affects_that_application_alone() {
    let sp = sambi_sp("broken-neighbour").await;
    let broken = "[[saml_sp]]\nid = \"trasig\"\ndisplay_name = { sv = \"Trasig\" }\n\
                  entity_id = \"https://trasig.lillby.example/sp\"\nprofile = \"sambi\"\n\
                  metadata_file = \"/nonexistent/trasig.xml\"\n"
        .to_owned();
    let saml = SamlIdp::start(
        &[
            ("lillby", broken),
            ("storstad", sp.sp_table("granne", "sambi", "")),
        ],
        &[&sp],
    )
    .await;
    // The IdP started and its neighbours log in.
    let login = log_in(&saml.idp, &Agent::with_certificate("david"), &sp, json!({})).await;
    assert_eq!(login.attribute(HSA_SAMBI), ["SE2120008889-dav04"]);
    assert!(saml
        .idp
        .state
        .saml
        .registry()
        .get("https://trasig.lillby.example/sp")
        .is_some_and(|sp| sp.is_metadata_missing));
}

/// A change made on one node is in use on another within seconds (each node watches the
/// registry version in the shared database), with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_made_on_one_node_is_served_by_the_other_within_seconds() {
    let db = e2e::PostgresDatabase::create().await.unwrap();
    let config = e2e::idp_server::shipped_config(&db.url, None);
    let first = TestIdp::start(config.clone()).await.unwrap();
    let second = TestIdp::start(config).await.unwrap();
    let client_id = "lillby-nattpatrull";
    let authorize = |node: &TestIdp| {
        let mut url = reqwest::Url::parse(&node.url("/oidc/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair(
                "redirect_uri",
                "https://nattpatrull.lillby.example/callback",
            )
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )
            .append_pair("code_challenge_method", "S256");
        url.to_string()
    };
    let before = Agent::new().get(&authorize(&second)).await;
    assert_eq!(
        before.error_code(),
        Some("OIDC_UNKNOWN_CLIENT"),
        "{}",
        before.body
    );

    let version = change_registry(&first, "application.create", |tenants| {
        let lillby = tenants
            .iter_mut()
            .find(|t| t.id.as_str() == "lillby")
            .unwrap();
        let mut client = lillby.oidc_client[0].clone();
        client.id = "nattpatrull".parse().unwrap();
        client.client_id = client_id.into();
        client.display_name.sv = "Nattpatrullen".into();
        client.display_name.en = None;
        client.redirect_uris = vec!["https://nattpatrull.lillby.example/callback"
            .parse()
            .unwrap()];
        client.post_logout_redirect_uris.clear();
        lillby.oidc_client.push(client);
    })
    .await;

    let mut versions = second.state.registry.versions();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        versions.wait_for(|v| *v >= version),
    )
    .await
    .unwrap_or_else(|_| {
        panic!("the second node did not take version {version} into use within 5 s")
    })
    .unwrap();
    let after = Agent::new().get(&authorize(&second)).await;
    assert!(after.is_redirect(), "{} {}", after.status, after.body);
    assert_eq!(after.location().unwrap().path(), "/login");
}

async fn admin_call(
    node: &TestIdp,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> (reqwest::StatusCode, serde_json::Value) {
    let response = e2e::https_client()
        .put(node.url(&format!("/admin/api/v1{path}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

/// The done-when of governed tenancy: on two nodes sharing PostgreSQL and Redis, a SAML
/// SP and an OIDC client registered through the admin API on one node log a user in on
/// the other within seconds, without a restart, and the user's SSO session continues.
/// The nodes poll only every ten minutes here, so only the push over Redis is in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_registered_through_the_api_log_users_in_on_the_other_node_at_once() {
    let db = e2e::PostgresDatabase::create().await.unwrap();
    let redis = e2e::RedisServer::start().await.unwrap();
    let mut config = e2e::idp_server::shipped_config(&db.url, Some(&redis.url()));
    config.idp.session.store = idp::config::SessionBackend::Redis;
    config.idp.session.redis_url = redis.url();
    config.idp.registry.watch_interval_millis = 600_000;
    let first = TestIdp::start(config.clone()).await.unwrap();
    let second = TestIdp::start(config).await.unwrap();

    // Eva logs in on the first node, at Lillby's home-care app.
    let eva = Agent::with_certificate("eva");
    let (_, challenge) = e2e::oidc::pkce();
    let url = e2e::oidc::authorize_url(&first, "lillby-hemtjanst", "openid", Some(&challenge), &[]);
    e2e::oidc::browse_to_callback(&eva, &first, &url, "lillby-hemtjanst").await;

    // The SP's metadata, served where the IdP fetches it.
    let sp_entity = "https://localhost:9443/sp/lillby-natt";
    let sp = sp_test::saml_sp::SamlSp::with_dev_keys(
        &e2e::repo_root(),
        sp_entity,
        &second.url(""),
        &second.url("/saml/metadata"),
        false,
    )
    .unwrap();
    let metadata = sp.metadata();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metadata_url = format!(
        "http://127.0.0.1:{}/metadata",
        listener.local_addr().unwrap().port()
    );
    let app = axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let metadata = metadata.clone();
            async move { metadata }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // Lillby's admin registers both on the first node.
    let token = idp::admin::create_api_token(
        &first.state.db,
        idp::admin::TokenScope::Tenant("lillby".parse().unwrap()),
        idp::admin::TokenPurpose::Admin,
        "onboarding",
        "test",
        idp::clock::Clock::now(&idp::clock::SystemClock),
    )
    .await
    .unwrap();
    let (status, answer) = admin_call(
        &first,
        &token.token,
        "/tenants/lillby/oidc-clients/natt",
        json!({
            "id": "natt", "display_name": { "sv": "Nattpatrullen" },
            "client_id": "lillby-natt", "token_endpoint_auth_method": "none",
            "redirect_uris": [e2e::oidc::callback("lillby-natt")], "scopes": ["openid"]
        }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = admin_call(
        &first,
        &token.token,
        "/tenants/lillby/saml-sps/natt-sp",
        json!({
            "id": "natt-sp", "display_name": { "sv": "Nattpatrullen (SAML)" },
            "entity_id": sp_entity, "profile": "sambi", "metadata_url": metadata_url
        }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let version = first.state.registry.load().version;

    // The second node takes the new version into use within seconds, and has the SP's
    // metadata.
    let in_use = async {
        let mut versions = second.state.registry.versions();
        versions.wait_for(|v| *v >= version).await.unwrap();
        let metadata = &second.state.saml.metadata;
        let mut changes = metadata.status_changes();
        while metadata.get(sp_entity).is_none() {
            changes.changed().await.unwrap();
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), in_use)
        .await
        .unwrap_or_else(|_| panic!("the second node did not serve the registrations within 5 s"));

    // On the second node Eva gets a code for the new client straight away: the session
    // she started on the first node continues.
    let (_, challenge) = e2e::oidc::pkce();
    let url = e2e::oidc::authorize_url(&second, "lillby-natt", "openid", Some(&challenge), &[]);
    let back = eva
        .open_until(&url, &e2e::oidc::callback("lillby-natt"))
        .await
        .unwrap_or_else(|page| {
            panic!("a login page instead of a code: {} {}", page.url, page.body)
        });
    assert!(e2e::oidc::param(&back, "code").is_some(), "{back}");

    // And the new SAML SP gets a signed response for her without a login page.
    let now = idp::clock::Clock::now(&idp::clock::SystemClock);
    let (login_url, request_id) = sp.login_url(None, false, now).unwrap();
    let page = eva.open(&login_url).await;
    let form = page.form().unwrap_or_else(|| {
        panic!(
            "expected the SAML response form: {} {}",
            page.url, page.body
        )
    });
    let login = sp
        .consume(form.field("SAMLResponse").unwrap(), &request_id, now)
        .unwrap();
    assert_eq!(
        login.attribute(HSA_SAMBI),
        Some(&["SE2120007774-eva05".to_owned()][..])
    );
}

/// The IdP always starts: tenant files that break a rule are not imported, and the last
/// good registry in the database stays in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_broken_tenant_files_keeps_the_last_good_registry() {
    let db = e2e::SqliteDatabase::create().unwrap();
    let config = e2e::idp_server::shipped_config(&db.url, None);
    let first = TestIdp::start(config.clone()).await.unwrap();
    let good = first.state.registry.load().version;
    assert!(good >= 1);
    first.shutdown().await;

    // Lillby's file now claims the region's staff.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(e2e::repo_root().join("config/tenants")).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == "lillby.toml" {
            text = text.replace(
                "[\"SE2120007774-\"]",
                "[\"SE2120007774-\", \"SE2321009991-\"]",
            );
        }
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let mut config = config;
    config.tenant_files = idp::config::TenantFiles::read(dir.path(), &config.idp);
    assert!(!config.tenant_files.problems.0.is_empty());

    let again = TestIdp::start(config).await.unwrap();
    let registry = again.state.registry.load();
    assert_eq!(
        registry.version, good,
        "nothing of the broken files was imported"
    );
    let lillby = registry.tenants.get(&"lillby".parse().unwrap()).unwrap();
    assert_eq!(lillby.users.hsa_id_prefixes, ["SE2120007774-"]);
    let page = Agent::new()
        .get(&again.url("/login/start?app=region/journal"))
        .await;
    assert!(page.is_redirect(), "{} {}", page.status, page.body);
    assert_eq!(page.location().unwrap().path(), "/login");
}
