//! SAML single sign-on through the real endpoints with the scripted browser: metadata,
//! a Redirect-binding AuthnRequest, a certificate login, the POSTed response, and a
//! second application answered from the SSO session without a login page.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::{SqliteDatabase, TestIdp};
use sp_test::saml_sp::SamlSp;

async fn idp() -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    (idp, db)
}

fn now() -> time::OffsetDateTime {
    use idp::clock::Clock;
    idp::clock::SystemClock.now()
}

/// The shipped test applications (sp-test), as registered in the dev tenants.
fn app(idp: &TestIdp, id: &str, is_encrypted: bool) -> SamlSp {
    SamlSp::with_dev_keys(
        &e2e::repo_root(),
        &format!("https://localhost:9443/sp/{id}"),
        &idp.url(""),
        &idp.url("/saml/metadata"),
        is_encrypted,
    )
    .unwrap()
}

fn journal(idp: &TestIdp) -> SamlSp {
    app(idp, "region-journal", false)
}

fn omsorg(idp: &TestIdp) -> SamlSp {
    app(idp, "storstad-omsorg", true)
}

fn response_of(page: &e2e::agent::Page) -> String {
    page.form()
        .and_then(|f| f.field("SAMLResponse").map(str::to_owned))
        .unwrap_or_else(|| panic!("no SAML form: {} {}", page.status, page.body))
}

fn decoded(page: &e2e::agent::Page) -> String {
    String::from_utf8(BASE64.decode(response_of(page)).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_is_signed_and_names_the_endpoints() {
    let (idp, _db) = idp().await;
    let page = Agent::new().open(&idp.url("/saml/metadata")).await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains(&format!("entityID=\"{}\"", idp.url("/saml/metadata"))));
    assert!(page.body.contains("<ds:SignatureValue>"));
    assert!(page
        .body
        .contains(&format!("Location=\"{}\"", idp.url("/saml/sso"))));
    assert!(page.body.contains("http://id.elegnamnden.se/loa/1.0/loa3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_at_one_sp_is_single_sign_on_at_the_next() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("anna");
    let journal = journal(&idp);
    let (url, request_id) = journal
        .login_url(Some("back-to-page-7"), false, now())
        .unwrap();
    let login_page = browser.open(&url).await;
    assert_eq!(login_page.url.path(), "/login", "{}", login_page.body);
    let posted = browser.log_in_with_certificate(&idp, &login_page).await;
    assert_eq!(posted.status, 200);
    // Answered where the login completed: the hop back from the mTLS host carries the
    // response, with no further redirect to the login's resume path.
    assert_eq!(posted.url.path(), "/login/certificate/complete");
    let form = posted.form().unwrap();
    assert_eq!(form.action.as_str(), journal.acs_url());
    assert_eq!(form.field("RelayState"), Some("back-to-page-7"));
    let login = journal
        .consume(&response_of(&posted), &request_id, now())
        .unwrap();
    assert!(login.assertion_signed && !login.assertion_encrypted);
    assert_eq!(
        login.attribute("http://sambi.se/attributes/1/employeeHsaId"),
        Some(&["SE2321009991-anna01".to_owned()][..])
    );
    assert_eq!(login.loa, "http://id.sambi.se/loa/loa3");

    // The municipal application: no login page, an encrypted response at once.
    let omsorg = omsorg(&idp);
    let (url, request_id) = omsorg.login_url(None, false, now()).unwrap();
    let second = browser.open(&url).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let login = omsorg
        .consume(&response_of(&second), &request_id, now())
        .unwrap();
    assert!(login.assertion_encrypted && login.response_signed);
    assert_eq!(
        login.attribute("urn:oid:1.2.752.29.6.2.1"),
        Some(&["SE2321009991-anna01".to_owned()][..])
    );
    assert_eq!(login.loa, "http://id.elegnamnden.se/loa/1.0/loa3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_back_from_the_login_page_tells_the_sp_the_user_cancelled() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("anna");
    let omsorg = omsorg(&idp);
    let (url, request_id) = omsorg.login_url(None, false, now()).unwrap();
    let login_page = browser.open(&url).await;
    let start = login_page
        .body
        .find("id=\"back-to-service\" href=\"")
        .unwrap()
        + 27;
    let end = login_page.body[start..].find('"').unwrap() + start;
    let back = login_page
        .url
        .join(&e2e::agent::unescape(&login_page.body[start..end]))
        .unwrap();
    let posted = browser.open(back.as_str()).await;
    let xml = decoded(&posted);
    assert!(!xml.contains("Assertion"), "{xml}");
    assert_eq!(
        omsorg.consume(&response_of(&posted), &request_id, now()),
        Err(sp_test::saml_sp::SpError::Status {
            top: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
            second: Some("http://id.elegnamnden.se/status/1.0/cancel".into()),
        })
    );
    assert!(browser.cookie("localhost", "__Host-idp_sso").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_of_another_municipality_is_refused_even_with_an_sso_session() {
    let (idp, _db) = idp().await;
    // Eva (Lillby) may use the regional record, not Storstad's care records.
    let browser = Agent::with_certificate("eva");
    let journal = journal(&idp);
    let (url, request_id) = journal.login_url(None, false, now()).unwrap();
    let login_page = browser.open(&url).await;
    let posted = browser.log_in_with_certificate(&idp, &login_page).await;
    let login = journal
        .consume(&response_of(&posted), &request_id, now())
        .unwrap();
    assert_eq!(
        login.attribute("http://sambi.se/attributes/1/employeeHsaId"),
        Some(&["SE2120007774-eva05".to_owned()][..])
    );

    let (url, _) = omsorg(&idp).login_url(None, false, now()).unwrap();
    let refused = browser.open(&url).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), Some("USER_NOT_ALLOWED"));
    assert!(refused.form().is_none(), "{}", refused.body);
}

mod with_the_test_sp {
    use super::*;

    async fn start(
        profile: &str,
        is_encrypted: bool,
    ) -> (e2e::saml::SamlIdp, SamlSp, tempfile::TempDir) {
        // The SP needs the IdP's URL, which exists once it runs; register it with the
        // metadata it will have (its entityID and keys do not depend on the IdP).
        let dir = tempfile::tempdir().unwrap();
        let entity_id = "https://localhost:9443/sp/test-app";
        let placeholder = SamlSp::with_dev_keys(
            &e2e::repo_root(),
            entity_id,
            "https://idp.invalid",
            "x",
            is_encrypted,
        )
        .unwrap();
        let metadata = dir.path().join("sp.xml");
        std::fs::write(&metadata, placeholder.metadata()).unwrap();
        let table = format!(
            "[[saml_sp]]\nid = \"test-app\"\ndisplay_name = {{ sv = \"Testtjänst\", en = \"Test service\" }}\n\
             entity_id = \"{entity_id}\"\nprofile = \"{profile}\"\nmetadata_file = \"{}\"\n\
             user_tenants = [\"region\", \"storstad\"]\nrelease = [\"givenName\", \"surname\", \"employeeHsaId\"]\n",
            metadata.display()
        );
        let saml = e2e::saml::SamlIdp::start(&[("storstad", table)], &[]).await;
        let sp = SamlSp::with_dev_keys(
            &e2e::repo_root(),
            entity_id,
            &saml.url(""),
            &saml.entity_id(),
            is_encrypted,
        )
        .unwrap();
        (saml, sp, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_test_sp_logs_in_with_an_encrypted_assertion_and_logs_out() {
        let (saml, sp, _dir) = start("swedish-eid", true).await;
        let browser = Agent::with_certificate("anna");
        let (url, request_id) = sp.login_url(Some("state-1"), false, now()).unwrap();
        let login_page = browser.open(&url).await;
        let posted = browser
            .log_in_with_certificate(&saml.idp, &login_page)
            .await;
        let form = posted.form().unwrap_or_else(|| panic!("{}", posted.body));
        assert_eq!(form.action.as_str(), sp.acs_url());
        let login = sp
            .consume(form.field("SAMLResponse").unwrap(), &request_id, now())
            .unwrap();
        assert!(login.assertion_encrypted && login.assertion_signed && login.response_signed);
        assert_eq!(login.loa, "http://id.elegnamnden.se/loa/1.0/loa3");
        assert_eq!(
            login.attribute("urn:oid:1.2.752.29.6.2.1"),
            Some(&["SE2321009991-anna01".to_owned()][..])
        );
        assert_eq!(
            login.attribute("urn:oid:2.5.4.42"),
            Some(&["Anna".to_owned()][..])
        );
        assert!(
            login.attribute("urn:oid:1.2.752.29.4.13").is_none(),
            "personal number not asked for"
        );

        let (logout, _) = sp.logout_url(&login, now()).unwrap();
        let answer = browser.get(&logout).await;
        let back = answer
            .location()
            .unwrap_or_else(|| panic!("{} {}", answer.status, answer.body));
        assert!(back.as_str().starts_with(&sp.slo_url()), "{back}");
        assert_eq!(
            sp.slo_message(back.query().unwrap(), now()),
            Ok(None),
            "the SP sees Success"
        );
        assert!(browser.cookie("localhost", "__Host-idp_sso").is_none());
    }
}

#[test]
fn the_committed_test_sp_metadata_is_what_sp_test_publishes() {
    let root = e2e::repo_root();
    let config = sp_test::serve::ServeConfig::load(&root.join("config/sp-test.toml")).unwrap();
    for (app, sp) in config.saml_sps(&root).unwrap() {
        let committed =
            std::fs::read_to_string(root.join(format!("config/sp-test/{}.xml", app.id))).unwrap();
        assert_eq!(
            committed,
            sp.metadata(),
            "config/sp-test/{}.xml is stale: run `cargo run -p sp-test -- metadata`",
            app.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_single_logout_only_the_sp_asked_may_answer() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("anna");
    let journal = journal(&idp);
    let omsorg = omsorg(&idp);
    let (url, request_id) = journal.login_url(None, false, now()).unwrap();
    let login_page = browser.open(&url).await;
    let posted = browser.log_in_with_certificate(&idp, &login_page).await;
    let login = journal
        .consume(&response_of(&posted), &request_id, now())
        .unwrap();
    let (url, request_id) = omsorg.login_url(None, false, now()).unwrap();
    let second = browser.open(&url).await;
    omsorg
        .consume(&response_of(&second), &request_id, now())
        .unwrap();

    // The journal logs out; the IdP asks the care records to log out too.
    let (logout, _) = journal.logout_url(&login, now()).unwrap();
    let to_omsorg = browser.get(&logout).await.location().unwrap();
    assert!(
        to_omsorg.as_str().starts_with(&omsorg.slo_url()),
        "{to_omsorg}"
    );
    // The journal (validly signed, but not the SP asked) cannot answer for it.
    let forged = journal
        .slo_message(to_omsorg.query().unwrap(), now())
        .unwrap()
        .unwrap();
    let refused = browser.get(&forged).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), Some("LOGIN_EXPIRED"));
    // The care records' own answer completes the logout.
    let answer = omsorg
        .slo_message(to_omsorg.query().unwrap(), now())
        .unwrap()
        .unwrap();
    let back = browser.get(&answer).await.location().unwrap();
    assert!(back.as_str().starts_with(&journal.slo_url()), "{back}");
    assert_eq!(journal.slo_message(back.query().unwrap(), now()), Ok(None));
}
