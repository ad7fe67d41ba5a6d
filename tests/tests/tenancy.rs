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
