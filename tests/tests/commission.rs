//! Commissions (medarbetaruppdrag): a person with several commissions chooses one after
//! login, for applications whose policy asks (`commission = "choose"` or `"required"`);
//! the choice reaches the SAML Response (read by pysaml2) and the ID token, is remembered
//! for the SSO session and that application, and is never asked of a person with one.
//! A required commission that the person lacks ends on a page that says so.

use e2e::agent::{Agent, Page};
use e2e::oidc::*;
use e2e::saml::*;
use e2e::TestIdp;
use reqwest::Url;
use serde_json::{json, Value};
use sp_test::phone::{Phone, PhoneCredential, Start};

use crate::oidc_flow::idp;
use crate::saml_interop::sambi_sp;

const SAMBI: &str = "http://sambi.se/attributes/1/";
const SAMBI_LOA3: &str = "http://id.sambi.se/loa/loa3";
/// Anna's two commissions in the region (config/directory-dev.toml).
const WARD: &str = "SE2321009991-upp101";
const EMERGENCY: &str = "SE2321009991-upp102";

/// The ID token claims for the code in `landed` (issued with `verifier`'s challenge).
async fn id_token_claims(idp: &TestIdp, client_id: &str, landed: &Url, verifier: &str) -> Value {
    let code = param(landed, "code").unwrap_or_else(|| panic!("no code in {landed}"));
    let (status, tokens, error) = exchange(idp, client_id, None, &code, verifier).await;
    assert_eq!(status, 200, "{tokens} {error:?}");
    jwt_parts(tokens["id_token"].as_str().unwrap()).1
}

/// Where an authorization of `client_id` for `scope` ends for `browser`, which logs in
/// with its certificate when the IdP asks: the client's callback, or the IdP page it
/// stopped at; and the request's PKCE verifier.
async fn authorize(
    idp: &TestIdp,
    browser: &Agent,
    client_id: &str,
    scope: &str,
) -> (Result<Url, Page>, String) {
    let prefix = callback(client_id);
    let (verifier, challenge) = pkce();
    let url = authorize_url(idp, client_id, scope, Some(&challenge), &[]);
    let ended = match browser.open_until(&url, &prefix).await {
        Err(page) if page.url.path() == "/login" => browser.log_in_until(idp, &page, &prefix).await,
        other => other,
    };
    (ended, verifier)
}

fn is_choice_page(page: &Page) -> bool {
    page.status == 200 && page.url.path() == "/login/commission"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_with_two_commissions_chooses_one_and_pysaml2_reads_it_in_the_response() {
    let sp = sambi_sp("uppdrag").await;
    let other = sambi_sp("uppdrag-andra").await;
    let saml = SamlIdp::start(
        &[
            (
                "region",
                sp.sp_table("uppdrag", "sambi", "commission = \"choose\""),
            ),
            (
                "region",
                other.sp_table("andra", "sambi", "commission = \"choose\""),
            ),
        ],
        &[&sp, &other],
    )
    .await;
    let anna = Agent::with_certificate("anna");

    // After the login, the choice: both commissions, by name.
    let request = sp
        .authn_request(json!({ "binding": "redirect", "loa": SAMBI_LOA3 }))
        .await;
    let (arrival, login_page_shown) = sso(&saml.idp, &anna, &request).await;
    assert!(login_page_shown);
    let choice = arrival.page().expect("the commission choice");
    assert!(is_choice_page(choice), "{} {}", choice.url, choice.body);
    assert_eq!(choice.commission_options(), [WARD, EMERGENCY]);
    assert!(choice.body.contains("Akutmottagningen, sjuksköterska"));
    assert!(choice.body.contains("Vårdavdelning 12, sjuksköterska"));

    // The chosen commission is in the assertion pysaml2 accepts.
    let chosen = anna.choose_commission(choice, EMERGENCY).await;
    // The choice is answered with the response itself (no redirect to a resume path).
    assert_eq!(chosen.status, 200, "{}", chosen.body);
    let ToSp::Form(form) = follow_to_sp(&anna, chosen).await else {
        panic!("the choice did not continue to the SP");
    };
    let result = sp.consume_response(&form, &request.request_id).await;
    assert_eq!(result["status"], "ok", "{result:#}");
    let attribute = |name: &str| result["attributes"][format!("{SAMBI}{name}")].clone();
    assert_eq!(attribute("commissionHsaId"), json!([EMERGENCY]));
    assert_eq!(
        attribute("commissionName"),
        json!(["Akutmottagningen, sjuksköterska"])
    );
    assert_eq!(attribute("commissionRight"), json!(["Läsa", "Skriva"]));
    assert_eq!(
        attribute("healthCareUnitHsaId"),
        json!(["SE2321009991-ve40"])
    );
    assert_eq!(attribute("employeeHsaId"), json!(["SE2321009991-anna01"]));

    // Single sign-on to the same SP: not asked again, the same commission.
    let again = log_in(
        &saml.idp,
        &anna,
        &sp,
        json!({ "binding": "post", "loa": SAMBI_LOA3 }),
    )
    .await;
    assert!(!again.login_page_shown);
    assert_eq!(
        again.attribute(&format!("{SAMBI}commissionHsaId")),
        [EMERGENCY]
    );

    // Another application asks for its own choice (no new login).
    let request = other
        .authn_request(json!({ "binding": "redirect", "loa": SAMBI_LOA3 }))
        .await;
    let (arrival, login_page_shown) = sso(&saml.idp, &anna, &request).await;
    assert!(!login_page_shown);
    let choice = arrival.page().expect("the choice for the other SP");
    assert!(is_choice_page(choice), "{} {}", choice.url, choice.body);
    let chosen = anna.choose_commission(choice, WARD).await;
    let ToSp::Form(form) = follow_to_sp(&anna, chosen).await else {
        panic!("the choice did not continue to the other SP");
    };
    let result = other.consume_response(&form, &request.request_id).await;
    assert_eq!(result["status"], "ok", "{result:#}");
    assert_eq!(
        result["attributes"][format!("{SAMBI}commissionHsaId")],
        json!([WARD])
    );
}

#[tokio::test]
async fn the_chosen_commission_is_in_the_id_token_and_remembered_for_the_client() {
    let (idp, _db) = idp().await;
    let client_id = commission_client(&idp, "region", "choose").await;
    let prefix = callback(&client_id);
    let anna = Agent::with_certificate("anna");
    let scope = "openid hsa hsa_commission";

    let (ended, verifier) = authorize(&idp, &anna, &client_id, scope).await;
    let choice = ended.unwrap_err();
    assert!(is_choice_page(&choice), "{} {}", choice.url, choice.body);
    assert_eq!(choice.commission_options(), [WARD, EMERGENCY]);
    let chosen = anna.choose_commission(&choice, WARD).await;
    let landed = anna.follow_until(chosen, &prefix).await.unwrap();
    let claims = id_token_claims(&idp, &client_id, &landed, &verifier).await;
    assert_eq!(claims[format!("{SAMBI}commissionHsaId")], WARD, "{claims}");
    assert_eq!(
        claims[format!("{SAMBI}commissionRight")],
        json!(["Läsa", "Skriva", "Signera"])
    );
    assert_eq!(
        claims[format!("{SAMBI}healthCareProviderHsaId")],
        "SE2321009991-vg01"
    );

    // The next authorization in this session goes straight back, with the same one.
    let (ended, verifier) = authorize(&idp, &anna, &client_id, scope).await;
    let claims = id_token_claims(&idp, &client_id, &ended.unwrap(), &verifier).await;
    assert_eq!(claims[format!("{SAMBI}commissionHsaId")], WARD);

    // A client that does not ask for the commission claims never shows the choice.
    let (ended, _) = authorize(&idp, &anna, KEY_JWT, "openid hsa").await;
    assert!(ended.is_ok());
}

#[tokio::test]
async fn one_commission_is_never_asked_and_a_missing_required_one_gets_a_page() {
    let (idp, _db) = idp().await;
    let region = commission_client(&idp, "region", "required").await;
    let storstad = commission_client(&idp, "storstad", "required").await;

    // Bertil has one commission: straight to the client, with it.
    let bertil = Agent::with_certificate("bertil");
    let (ended, verifier) = authorize(&idp, &bertil, &region, "openid hsa_commission").await;
    let landed =
        ended.unwrap_or_else(|page| panic!("not back at the client: {} {}", page.url, page.body));
    let claims = id_token_claims(&idp, &region, &landed, &verifier).await;
    assert_eq!(
        claims[format!("{SAMBI}commissionHsaId")],
        "SE2321009991-upp201"
    );

    // David has none, and this application requires one: a page that says so.
    let david = Agent::with_certificate("david");
    let (ended, _) = authorize(&idp, &david, &storstad, "openid hsa_commission").await;
    let page = ended.unwrap_err();
    assert_eq!(page.status, 403, "{}", page.body);
    assert_eq!(page.error_code(), Some("COMMISSION_MISSING"));
    assert!(
        page.body.contains("medarbetaruppdrag"),
        "the page names what is missing: {}",
        page.body
    );
}

#[tokio::test]
async fn the_choice_is_bound_to_the_browser_and_its_session_and_can_be_cancelled() {
    let (idp, _db) = idp().await;
    let client_id = commission_client(&idp, "region", "choose").await;
    let prefix = callback(&client_id);
    let anna = Agent::with_certificate("anna");
    let (ended, _) = authorize(&idp, &anna, &client_id, "openid hsa_commission").await;
    let choice = ended.unwrap_err();
    assert!(is_choice_page(&choice), "{} {}", choice.url, choice.body);

    // Another browser cannot open or answer it.
    let stranger = Agent::new();
    let page = stranger.get(choice.url.as_str()).await;
    assert_eq!(page.error_code(), Some("LOGIN_EXPIRED"));
    let answered = stranger.choose_commission(&choice, WARD).await;
    assert_eq!(answered.error_code(), Some("LOGIN_EXPIRED"));

    // A forged CSRF token, or a commission that is not the person's, is refused.
    let mut forged = choice.clone();
    forged.body = forged.body.replace(
        "name=\"csrf_token\" value=\"",
        "name=\"csrf_token\" value=\"x",
    );
    let answered = anna.choose_commission(&forged, WARD).await;
    assert_eq!(answered.error_code(), Some("CSRF_INVALID"));
    let answered = anna.choose_commission(&choice, "SE2321009991-upp201").await;
    assert_eq!(answered.status, 400);
    assert_eq!(answered.error_code(), Some("COMMISSION_UNKNOWN"));

    // "Back to the service": the client hears access_denied, and the request is gone.
    assert!(choice.body.contains("id=\"back-to-service\""));
    let back = choice
        .body
        .split("id=\"back-to-service\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(e2e::agent::unescape)
        .unwrap();
    let landed = anna
        .open_until(&idp.url(&back), &prefix)
        .await
        .unwrap_or_else(|page| panic!("not back at the client: {} {}", page.url, page.body));
    assert_eq!(param(&landed, "error").as_deref(), Some("access_denied"));
    let events = idp::storage::find_recent_audit_events(&idp.state.db, 20)
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| e.event == "oidc-code"
            && e.code.as_deref() == Some("OIDC_USER_CANCELLED")
            && e.application_id.as_deref() == Some("uppdrag")),
        "the cancel is audited: {events:?}"
    );
    let answered = anna.choose_commission(&choice, WARD).await;
    let after = anna.follow(answered).await;
    assert_eq!(after.error_code(), Some("LOGIN_EXPIRED"));
}

fn anna_phone() -> PhoneCredential {
    e2e::mobile_credential("anna")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_chooses_a_commission_after_a_mobile_login() {
    let (idp, _db) = idp().await;
    let client_id = commission_client(&idp, "region", "choose").await;
    let prefix = callback(&client_id);
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        &idp,
        &client_id,
        "openid hsa_commission",
        Some(&challenge),
        &[],
    );
    let phone = Phone::with_client(&idp.url(""), e2e::https_client());
    let printed = e2e::browser_script::run_with_qrs(
        "commission.mjs",
        &[&url, &prefix],
        &["commission-choice.png", "commission-choice-en.png"],
        |qr| {
            let phone = &phone;
            async move {
                let (_, claim) = phone.claim(&Start::Qr(qr), &anna_phone()).await.unwrap();
                phone.approve(&claim, &anna_phone()).await.unwrap();
            }
        },
    )
    .await;
    let landed = printed
        .iter()
        .find_map(|line| line.strip_prefix("CALLBACK "))
        .unwrap_or_else(|| panic!("the browser did not reach the client: {printed:?}"));
    let landed = Url::parse(landed).unwrap();
    let claims = id_token_claims(&idp, &client_id, &landed, &verifier).await;
    assert_eq!(claims[format!("{SAMBI}commissionHsaId")], EMERGENCY);
}
