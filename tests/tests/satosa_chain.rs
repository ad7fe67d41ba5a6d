//! A municipality's own IdP chained behind the shared IdP: SATOSA (the real proxy from
//! PyPI, `tests/src/satosa.rs`) as "Lillby kommuns IdP", registered as a SAML SP of tenant
//! `lillby`, with a pysaml2 SP as Lillby's local application behind it. A Lillby employee
//! starts at the local application, logs in at the shared IdP with the reference phone
//! and arrives with what Lillby's IdP passes on; then reaches a regional application
//! without a second login; then logs out there.
//!
//! What single logout can and cannot do across the chain: SATOSA 8.6 has no single
//! logout at all (neither its SAML frontend nor its backend registers an SLO endpoint,
//! and neither publishes one in its metadata: the test checks both). So a logout at the regional application ends the
//! shared IdP's SSO session, the IdP cannot tell SATOSA (it answers the regional
//! application `PartialLogout`), and the next login through SATOSA meets the shared
//! IdP's login page again. The local application's own session is the local
//! application's to end.

use e2e::agent::{Agent, Page};
use e2e::saml::*;
use e2e::satosa::{walk, Satosa, Stop};
use reqwest::Url;
use serde_json::json;
use sp_test::phone::{Phone, PhoneCredential};

const EVA_HSA_ID: &str = "SE2120007774-eva05";
const EVA_PERSONAL_NUMBER: &str = "198807074565";
const GIVEN_NAME: &str = "urn:oid:2.5.4.42";
const SURNAME: &str = "urn:oid:2.5.4.4";
const DISPLAY_NAME: &str = "urn:oid:2.16.840.1.113730.3.1.241";
const HSA_ID: &str = "urn:oid:1.2.752.29.6.2.1";
const PERSONAL_NUMBER: &str = "urn:oid:1.2.752.29.4.13";
const ORGANISATION: &str = "urn:oid:2.5.4.10";
const ORGANISATION_ID: &str = "urn:oid:2.5.4.97";
const EID_LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";
const SAMBI: &str = "http://sambi.se/attributes/1/";

/// Eva Ek of Lillby kommun, whose phone holds her certificate.
fn eva() -> PhoneCredential {
    let dir = e2e::repo_root().join("certs-dev/users");
    PhoneCredential::from_pem_files(&dir.join("eva.chain.pem"), &dir.join("eva.key.pem")).unwrap()
}

/// The shared IdP with Lillby's IdP (SATOSA's SP) in tenant `lillby` and a regional
/// application open to Lillby's staff; SATOSA started and trusted by the local
/// application.
struct Chain {
    saml: SamlIdp,
    satosa: Satosa,
    local: PySp,
    regional: PySp,
    /// SATOSA's frontend metadata, as the local application got it.
    frontend_metadata: String,
}

async fn chain() -> Chain {
    let local = PySp::init(
        "lillby-intranat",
        json!({
            "entity_id": "https://intranat.lillby.example.test/sp",
            "want_response_signed": true,
            "want_assertions_signed": true,
        }),
    )
    .await;
    let regional = PySp::init(
        "region-remiss",
        json!({ "entity_id": "https://remiss.region.example.test/sp" }),
    )
    .await;
    let mut satosa = Satosa::prepare(&[&local]).await;
    // What Lillby's admin registers: its IdP as an SP of its own tenant, for its own
    // staff, with the attributes it passes on (the personal number named explicitly).
    let lillby_idp = satosa.sp_table(
        "lillbys-idp",
        "swedish-eid",
        "user_tenants = [\"lillby\"]\n\
         release = [\"givenName\", \"surname\", \"displayName\", \"employeeHsaId\", \
         \"personalIdentityNumber\", \"organizationName\", \"organizationIdentifier\"]",
    );
    let remiss = regional.sp_table("remiss", "sambi", "user_tenants = [\"region\", \"lillby\"]");
    let saml = SamlIdp::start(&[("lillby", lillby_idp), ("region", remiss)], &[&regional]).await;
    let frontend_metadata = satosa.start(&saml.metadata).await;
    local.trust_idp(&frontend_metadata);
    Chain {
        saml,
        satosa,
        local,
        regional,
        frontend_metadata,
    }
}

impl Chain {
    /// The local application sends the browser to Lillby's IdP; the browser goes where
    /// it is sent until it comes back to the local application or stops at a page.
    async fn start_at_local_application(&self, agent: &Agent) -> (SpMessage, Stop, Vec<Url>) {
        let request = self
            .local
            .authn_request(json!({ "binding": "redirect", "relay_state": "/intranat/start" }))
            .await;
        let url = request.url.as_deref().unwrap_or_default();
        assert!(
            url.starts_with(&format!("{}/", self.satosa.base)),
            "the local application sends the browser to Lillby's IdP: {url}"
        );
        let first = request.send(agent).await;
        let mut hops = Vec::new();
        let stop = walk(agent, first, |u| self.is_local(u), &mut hops).await;
        (request, stop, hops)
    }

    fn is_local(&self, url: &Url) -> bool {
        url.as_str().starts_with(&self.local.acs_url)
    }

    /// pysaml2's reading of the response SATOSA posts to the local application.
    async fn local_login(
        &self,
        request: &SpMessage,
        stop: &Stop,
    ) -> (e2e::agent::Form, serde_json::Value) {
        let Stop::Form(form) = stop else {
            panic!(
                "expected SATOSA's response to the local application, got {stop:?}\n{}",
                self.satosa.log()
            )
        };
        assert_eq!(form.action.as_str(), self.local.acs_url);
        let result = self.local.consume_response(form, &request.request_id).await;
        (form.clone(), result)
    }
}

fn page_of(stop: &Stop) -> &Page {
    match stop {
        Stop::Page(page) => page,
        other => panic!("expected a page, got {other:?}"),
    }
}

fn decoded(base64: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .unwrap_or_else(|e| panic!("not base64: {e}"));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
}

fn values(result: &serde_json::Value, name: &str) -> Vec<String> {
    result["attributes"][name]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_application_behind_satosa_logs_in_at_the_shared_idp_and_single_sign_on_reaches_the_region(
) {
    let c = chain().await;
    let browser = Agent::new();
    let phone = Phone::with_client(&c.saml.url(""), e2e::https_client());

    // 1. The local application -> Lillby's IdP -> the shared IdP's login page.
    let (request, stop, hops) = c.start_at_local_application(&browser).await;
    let login_page = page_of(&stop);
    assert!(
        is_login_page(login_page),
        "the shared IdP asks Eva to log in: {} {}\n{}",
        login_page.status,
        login_page.url,
        c.satosa.log()
    );
    assert!(
        hops.iter()
            .any(|u| u.as_str().starts_with(&c.saml.url("/saml/sso"))),
        "Lillby's IdP sent the browser to the shared IdP's SSO endpoint: {hops:?}"
    );
    assert!(
        login_page.body.contains("Lillby kommuns IdP"),
        "the login page names the application Eva is logging in to"
    );

    // 2. Eva logs in with her phone; the shared IdP answers Lillby's IdP, which answers
    //    the local application.
    let (shown, resumed) = browser
        .log_in_with_phone(&c.saml.idp, login_page, &phone, &eva())
        .await;
    assert_eq!(shown.organisation, "Lillby kommun", "{shown:?}");
    assert!(shown.text_sv.contains("Lillby kommuns IdP"), "{shown:?}");
    let mut hops = Vec::new();
    let backend_acs = c.satosa.backend_acs();
    let stop = walk(&browser, resumed, |u| u.as_str() == backend_acs, &mut hops).await;
    let Stop::Form(to_satosa) = &stop else {
        panic!("the shared IdP answers Lillby's IdP at its ACS, got {stop:?}")
    };
    // The shared IdP's answer to Lillby's IdP: signed by the shared IdP, the assertion
    // encrypted for Lillby's IdP (profile swedish-eid), the personal number released.
    let checked = verify_idp_signatures(
        &decoded(to_satosa.field("SAMLResponse").unwrap()),
        Some(&c.satosa.backend_key),
    )
    .await;
    assert!(checked.encrypted, "encrypted for Lillby's IdP");
    assert!(
        checked.is_signed("Response") && checked.is_signed("Assertion"),
        "{:?}",
        checked.signed
    );
    assert!(checked.plaintext.contains(EVA_PERSONAL_NUMBER));
    let posted = browser
        .request(
            reqwest::Method::POST,
            &to_satosa.action,
            Some(&to_satosa.fields),
        )
        .await;
    let stop = walk(&browser, posted, |u| c.is_local(u), &mut hops).await;
    let (form, result) = c.local_login(&request, &stop).await;
    assert_eq!(
        result["status"], "ok",
        "pysaml2 accepts SATOSA's response: {result:#}"
    );
    assert_eq!(form.field("RelayState"), Some("/intranat/start"));
    assert_eq!(
        result["issuer"],
        c.satosa.frontend_entity_id(),
        "{result:#}"
    );
    assert_eq!(result["assertion_issuer"], c.satosa.frontend_entity_id());
    assert_eq!(result["in_response_to"], request.request_id.as_str());
    assert_eq!(result["audiences"], json!([c.local.entity_id]));
    // Signed by Lillby's IdP (its frontend key), not by the shared IdP.
    let response_xml = decoded(form.field("SAMLResponse").unwrap());
    xmlsec_verify(&response_xml, &c.satosa.frontend_certificate, None)
        .await
        .unwrap_or_else(|e| panic!("SATOSA's signature: {e}"));
    assert_eq!(result["response_signed"], true, "{result:#}");
    for certificate in idp_signing_certificates() {
        assert!(
            xmlsec_verify(&response_xml, &certificate, None)
                .await
                .is_err(),
            "the local application gets SATOSA's response, not the shared IdP's"
        );
    }
    // A proxy names the IdP that authenticated the person (SAML core 3.4.1.5.1), and
    // passes on the level of assurance of the shared IdP's login.
    assert!(
        response_xml.contains(&format!("AuthenticatingAuthority>{}<", c.saml.entity_id())),
        "AuthenticatingAuthority is the shared IdP: {response_xml}"
    );
    assert_eq!(result["authn_context_class_ref"], EID_LOA3, "{result:#}");
    // The NameID is the shared IdP's pseudonym of Eva for Lillby's IdP, passed on.
    let name_id = result["name_id"]["text"].as_str().unwrap_or_default();
    assert!(
        !name_id.is_empty() && !name_id.contains("eva05") && !name_id.contains(EVA_PERSONAL_NUMBER),
        "a pseudonymous NameID: {name_id}"
    );
    assert!(
        checked
            .plaintext
            .contains(&format!("{NAMEID_PERSISTENT}\">{name_id}<"))
            || checked.plaintext.contains(&format!(">{name_id}</")),
        "the shared IdP's NameID for Lillby's IdP: {name_id}\n{}",
        checked.plaintext
    );
    // What Lillby's IdP passes on: who Eva is, as the shared IdP released it to Lillby.
    assert_eq!(values(&result, GIVEN_NAME), ["Eva"], "{result:#}");
    assert_eq!(values(&result, SURNAME), ["Ek"]);
    assert_eq!(values(&result, DISPLAY_NAME), ["Eva Ek"]);
    assert_eq!(values(&result, HSA_ID), [EVA_HSA_ID]);
    assert_eq!(values(&result, PERSONAL_NUMBER), [EVA_PERSONAL_NUMBER]);
    assert_eq!(values(&result, ORGANISATION), ["Lillby kommun"]);
    let organisation_id = values(&result, ORGANISATION_ID);
    assert!(
        organisation_id.len() == 1 && organisation_id[0].replace('-', "").contains("2120007774"),
        "{organisation_id:?}"
    );
    // Exactly what the shared IdP released to Lillby's IdP, under the same names.
    let mut names: Vec<&str> = result["attributes"]
        .as_object()
        .map(|a| a.keys().map(String::as_str).collect())
        .unwrap_or_default();
    names.sort_unstable();
    let mut expected = [
        GIVEN_NAME,
        SURNAME,
        DISPLAY_NAME,
        HSA_ID,
        PERSONAL_NUMBER,
        ORGANISATION,
        ORGANISATION_ID,
    ];
    expected.sort_unstable();
    assert_eq!(names, expected, "{result:#}");

    // 3. The regional application: the shared IdP's SSO session, no second login.
    let remiss = c
        .regional
        .authn_request(json!({ "binding": "redirect" }))
        .await;
    let first = remiss.send(&browser).await;
    let arrival = follow_to_sp(&browser, first).await;
    let ToSp::Form(form) = &arrival else {
        panic!("single sign-on: the regional application gets its answer without a login page, got {arrival:?}")
    };
    assert_eq!(form.action.as_str(), c.regional.acs_url);
    let regional = c.regional.consume_response(form, &remiss.request_id).await;
    assert_eq!(regional["status"], "ok", "{regional:#}");
    assert_eq!(
        values(&regional, &format!("{SAMBI}employeeHsaId")),
        [EVA_HSA_ID]
    );
    assert_eq!(values(&regional, &format!("{SAMBI}givenName")), ["Eva"]);

    // 4. Logout at the regional application ends the shared IdP's session; SATOSA
    //    publishes no SLO endpoint on either side (neither to the shared IdP nor to its
    //    local applications), so the IdP cannot reach Lillby's IdP and says so.
    let backend_metadata = std::fs::read_to_string(&c.satosa.backend_metadata_file).unwrap();
    for (side, metadata) in [
        ("backend", &backend_metadata),
        ("frontend", &c.frontend_metadata),
    ] {
        assert!(
            metadata.contains("EntityDescriptor") && !metadata.contains("SingleLogoutService"),
            "SATOSA's {side} publishes no SingleLogoutService: {metadata}"
        );
    }
    let logout = c
        .regional
        .logout_request(json!({ "binding": "redirect" }))
        .await;
    let first = logout.send(&browser).await;
    let arrival = follow_to_sp(&browser, first).await;
    let target = arrival.target().cloned();
    assert!(
        target
            .as_ref()
            .is_some_and(|t| t.as_str().starts_with(&c.regional.slo_url)),
        "the LogoutResponse goes back to the regional application: {arrival:?}"
    );
    let answered = c.regional.consume_logout_response(&arrival).await;
    assert_eq!(
        status_codes(&answered),
        [STATUS_SUCCESS, STATUS_PARTIAL_LOGOUT],
        "{answered:#}"
    );
    assert!(browser.cookie("localhost", SSO_COOKIE).is_none());

    // 5. A new login at the local application goes through Lillby's IdP to the shared
    //    IdP's login page: no session is left to reuse anywhere in the chain.
    let (_, stop, _) = c.start_at_local_application(&browser).await;
    assert!(
        is_login_page(page_of(&stop)),
        "after the logout the chain asks Eva to log in again: {stop:?}"
    );
    let again = c
        .regional
        .authn_request(json!({ "binding": "redirect" }))
        .await;
    let first = again.send(&browser).await;
    let arrival = follow_to_sp(&browser, first).await;
    assert!(
        arrival.page().is_some_and(is_login_page),
        "and the regional application too: {arrival:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_login_at_the_region_the_local_application_is_answered_through_satosa_without_a_login_page(
) {
    let c = chain().await;
    let browser = Agent::new();
    let phone = Phone::with_client(&c.saml.url(""), e2e::https_client());

    // Eva logs in at the regional application first.
    let remiss = c
        .regional
        .authn_request(json!({ "binding": "redirect" }))
        .await;
    let first = remiss.send(&browser).await;
    let arrival = follow_to_sp(&browser, first).await;
    let login_page = arrival
        .page()
        .filter(|p| is_login_page(p))
        .unwrap_or_else(|| panic!("no session yet: the login page, got {arrival:?}"));
    let (shown, resumed) = browser
        .log_in_with_phone(&c.saml.idp, login_page, &phone, &eva())
        .await;
    assert!(shown.text_sv.contains("Test-SP remiss"), "{shown:?}");
    let arrival = follow_to_sp(&browser, resumed).await;
    let ToSp::Form(form) = &arrival else {
        panic!("the regional application's response, got {arrival:?}")
    };
    let regional = c.regional.consume_response(form, &remiss.request_id).await;
    assert_eq!(regional["status"], "ok", "{regional:#}");

    // The local application: through SATOSA to the shared IdP's session and back,
    // without a login page.
    let (request, stop, hops) = c.start_at_local_application(&browser).await;
    assert!(
        hops.iter()
            .any(|u| u.as_str().starts_with(&c.saml.url("/saml/sso"))),
        "SATOSA asked the shared IdP: {hops:?}"
    );
    let (_, result) = c.local_login(&request, &stop).await;
    assert_eq!(result["status"], "ok", "{result:#}");
    assert_eq!(values(&result, HSA_ID), [EVA_HSA_ID]);
    assert_eq!(values(&result, GIVEN_NAME), ["Eva"]);

    // "Log in again" at the local application is passed on (mirror_force_authn): the
    // shared IdP asks for a new login despite its session.
    let forced = c
        .local
        .authn_request(json!({ "binding": "redirect", "force_authn": true }))
        .await;
    let first = forced.send(&browser).await;
    let mut hops = Vec::new();
    let stop = walk(&browser, first, |u| c.is_local(u), &mut hops).await;
    assert!(
        is_login_page(page_of(&stop)),
        "ForceAuthn through SATOSA means a new login at the shared IdP: {stop:?}"
    );
}
