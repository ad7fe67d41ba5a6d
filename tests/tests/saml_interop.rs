//! SAML interoperability: a real third-party service provider (pysaml2, driven step by
//! step from `tests/saml-sp/sp.py`) logs in and out at the IdP over both bindings and both
//! profiles, and `xmlsec1` checks every signature the IdP makes.

use e2e::agent::Agent;
use e2e::saml::*;
use serde_json::json;

const SAMBI_LOA3: &str = "http://id.sambi.se/loa/loa3";
const EID_LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";
const SAMBI: &str = "http://sambi.se/attributes/1/";
const TLS_CLIENT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient";
const ANNA_HSA_ID: &str = "SE2321009991-anna01";

/// An SP in the Sambi style: wants signed assertions, nothing encrypted.
pub(crate) async fn sambi_sp(name: &str) -> PySp {
    PySp::init(
        name,
        json!({ "want_assertions_signed": true, "want_response_signed": false }),
    )
    .await
}

/// An SP in the Swedish eID style: wants a signed response and an encrypted, signed
/// assertion.
async fn eid_sp(name: &str, encryption_methods: &[&str]) -> PySp {
    PySp::init(
        name,
        json!({
            "want_assertions_signed": true,
            "want_response_signed": true,
            "encrypt": true,
            "encryption_methods": encryption_methods,
        }),
    )
    .await
}

/// What every successful login must show: pysaml2 accepted it, and it is addressed to
/// this SP, for this request, from this IdP.
fn assert_addressed(login: &Login, sp: &PySp, idp: &SamlIdp) {
    let r = &login.result;
    assert_eq!(r["status"], "ok", "pysaml2 accepts the response: {r:#}");
    assert_eq!(status_codes(r), [STATUS_SUCCESS], "{r:#}");
    assert_eq!(r["issuer"], idp.entity_id(), "Response Issuer");
    assert_eq!(r["assertion_issuer"], idp.entity_id(), "Assertion Issuer");
    assert_eq!(r["destination"], sp.acs_url, "Destination is the ACS URL");
    assert_eq!(r["in_response_to"], login.request.request_id.as_str());
    assert_eq!(r["audiences"], json!([sp.entity_id]), "Audience is the SP");
    let confirmations = r["subject_confirmations"].as_array().unwrap();
    assert_eq!(confirmations.len(), 1, "{r:#}");
    assert_eq!(confirmations[0]["method"], BEARER);
    assert_eq!(confirmations[0]["recipient"], sp.acs_url);
    assert_eq!(
        confirmations[0]["in_response_to"],
        login.request.request_id.as_str()
    );
    assert!(confirmations[0]["not_on_or_after"].is_string(), "{r:#}");
    assert_eq!(r["authn_statements"], 1, "exactly one AuthnStatement");
    assert_eq!(
        r["attribute_statements"], 1,
        "exactly one AttributeStatement"
    );
    assert!(
        r["session_index"].as_str().is_some_and(|s| !s.is_empty()),
        "a SessionIndex for logout: {r:#}"
    );
}

/// A persistent NameID is an opaque pseudonym: no HSA-id, no personal number.
fn assert_opaque(name_id: &str) {
    assert!(name_id.len() >= 16, "a pseudonym of some length: {name_id}");
    for secret in [ANNA_HSA_ID, "anna01", "198001012387", "2321009991"] {
        assert!(!name_id.contains(secret), "{name_id} reveals {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_is_signed_and_names_both_bindings_and_the_signing_certificate() {
    let saml = SamlIdp::start(&[], &[]).await;
    let metadata = &saml.metadata;

    let checked = verify_idp_signatures(metadata, None).await;
    assert_eq!(checked.signed, ["EntityDescriptor"], "{metadata}");
    let info = xml_info(metadata).await;
    assert_eq!(info["root"]["name"], "EntityDescriptor");
    assert_eq!(info["root"]["namespace"], METADATA_NS);

    assert!(
        metadata.contains(&format!("entityID=\"{}\"", saml.entity_id())),
        "{metadata}"
    );
    for binding in ["HTTP-Redirect", "HTTP-POST"] {
        for (service, path) in [
            ("SingleSignOnService", "/saml/sso"),
            ("SingleLogoutService", "/saml/slo"),
        ] {
            let found = metadata.split('<').any(|tag| {
                tag.contains(&format!("{service} "))
                    && tag.contains(&format!(
                        "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{binding}\""
                    ))
                    && tag.contains(&format!("Location=\"{}\"", saml.url(path)))
            });
            assert!(found, "{service} over {binding} at {path}: {metadata}");
        }
    }
    let flat: String = metadata.split_whitespace().collect();
    for certificate in idp_signing_certificates() {
        let pem = std::fs::read_to_string(&certificate).unwrap();
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        assert!(
            flat.contains(&body),
            "the metadata publishes the signing certificate {certificate:?}"
        );
    }

    // pysaml2 reads the metadata as an SP would.
    let sp = sambi_sp("reads-metadata").await;
    sp.trust_idp(metadata);
    let request = sp.authn_request(json!({ "binding": "redirect" })).await;
    assert!(
        request
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with(&saml.url("/saml/sso?"))),
        "{request:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sambi_sp_logs_in_over_redirect_and_gets_a_signed_assertion_with_sambi_attributes() {
    let sp = sambi_sp("sambi-redirect").await;
    let saml = SamlIdp::start(
        &[("region", sp.sp_table("sambi-redirect", "sambi", ""))],
        &[&sp],
    )
    .await;
    let anna = Agent::with_certificate("anna");

    let login = log_in(
        &saml.idp,
        &anna,
        &sp,
        json!({ "binding": "redirect", "relay_state": "state-123", "loa": SAMBI_LOA3 }),
    )
    .await;
    assert!(
        login.login_page_shown,
        "no session yet: the login page first"
    );
    assert_eq!(login.form.field("RelayState"), Some("state-123"));
    assert_addressed(&login, &sp, &saml);
    let r = &login.result;
    assert_eq!(r["authn_context_class_ref"], SAMBI_LOA3);
    assert_eq!(r["name_id_format"], NAMEID_PERSISTENT);
    assert_opaque(login.name_id());
    assert_eq!(
        login.attribute(&format!("{SAMBI}employeeHsaId")),
        [ANNA_HSA_ID]
    );
    assert_eq!(login.attribute(&format!("{SAMBI}givenName")), ["Anna"]);
    assert_eq!(login.attribute(&format!("{SAMBI}surname")), ["Andersson"]);
    assert_eq!(
        login.attribute("urn:sambi:names:attribute:levelOfAssurance"),
        [SAMBI_LOA3]
    );
    assert_eq!(
        login.attribute("urn:sambi:names:attribute:authnMethod"),
        [TLS_CLIENT]
    );
    for name in login.attribute_names() {
        assert!(
            name.starts_with(SAMBI) || name.starts_with("urn:sambi:names:attribute:"),
            "only Sambi attribute names: {name}"
        );
    }

    // Sambi default: the assertion is signed, nothing is encrypted.
    let checked = verify_idp_signatures(&login.response_xml(), None).await;
    assert!(!checked.encrypted);
    assert_eq!(r["encrypted"], false);
    assert!(checked.is_signed("Assertion"), "{:?}", checked.signed);
    assert!(
        !checked.is_signed("Response"),
        "sign = assertion by default for Sambi"
    );
    assert_eq!(r["assertion_signed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swedish_eid_sp_logs_in_over_post_and_gets_a_signed_response_and_an_encrypted_signed_assertion(
) {
    let sp = eid_sp("eid-post", &[]).await;
    let saml = SamlIdp::start(
        &[("storstad", sp.sp_table("eid-post", "swedish-eid", ""))],
        &[&sp],
    )
    .await;
    let anna = Agent::with_certificate("anna");

    let login = log_in(
        &saml.idp,
        &anna,
        &sp,
        json!({ "binding": "post", "relay_state": "eid-state", "loa": EID_LOA3 }),
    )
    .await;
    assert_eq!(login.form.field("RelayState"), Some("eid-state"));
    assert_addressed(&login, &sp, &saml);
    let r = &login.result;
    assert_eq!(r["authn_context_class_ref"], EID_LOA3);
    assert_eq!(r["name_id_format"], NAMEID_PERSISTENT);
    assert_opaque(login.name_id());
    assert_eq!(login.attribute("urn:oid:2.5.4.42"), ["Anna"]);
    assert_eq!(login.attribute("urn:oid:2.5.4.4"), ["Andersson"]);
    assert_eq!(
        login.attribute("urn:oid:2.16.840.1.113730.3.1.241"),
        ["Anna Andersson"]
    );
    assert_eq!(login.attribute("urn:oid:1.2.752.29.6.2.1"), [ANNA_HSA_ID]);
    assert_eq!(login.attribute("urn:oid:2.5.4.10"), ["Region Exempelland"]);
    let org_id = login.attribute("urn:oid:2.5.4.97");
    assert_eq!(org_id.len(), 1, "{r:#}");
    assert!(
        org_id[0].replace('-', "").contains("2321009991"),
        "{org_id:?}"
    );
    assert!(
        login.attribute("urn:oid:1.2.752.29.4.13").is_empty(),
        "no personal number unless released"
    );
    for (name, format) in r["attribute_name_formats"].as_object().unwrap() {
        assert_eq!(format, NAME_FORMAT_URI, "{name}");
        assert!(name.starts_with("urn:oid:"), "{name}");
    }

    // Swedish eID default: response and assertion signed, the assertion encrypted
    // (AES-256-GCM when the SP's metadata names no algorithm).
    assert_eq!(r["encrypted"], true);
    let key = sp.encryption_key.clone().unwrap();
    let checked = verify_idp_signatures(&login.response_xml(), Some(&key)).await;
    assert!(checked.encrypted);
    assert_eq!(
        checked.encryption_algorithm.as_deref(),
        Some("http://www.w3.org/2009/xmlenc11#aes256-gcm")
    );
    assert!(checked.is_signed("Response"), "{:?}", checked.signed);
    assert!(checked.is_signed("Assertion"), "{:?}", checked.signed);
    assert!(
        !login.response_xml().contains(ANNA_HSA_ID),
        "nothing about the user in clear text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_encryption_algorithm_follows_the_sp_metadata_or_the_tenant_file() {
    let cbc_in_metadata = eid_sp("cbc-metadata", &["aes256-cbc"]).await;
    let cbc_in_config = eid_sp("cbc-config", &[]).await;
    let saml = SamlIdp::start(
        &[
            (
                "region",
                cbc_in_metadata.sp_table("cbc-metadata", "swedish-eid", ""),
            ),
            (
                "region",
                cbc_in_config.sp_table(
                    "cbc-config",
                    "swedish-eid",
                    "encryption_algorithm = \"aes256-cbc\"",
                ),
            ),
        ],
        &[&cbc_in_metadata, &cbc_in_config],
    )
    .await;
    let anna = Agent::with_certificate("anna");
    for sp in [&cbc_in_metadata, &cbc_in_config] {
        let login = log_in(&saml.idp, &anna, sp, json!({ "binding": "redirect" })).await;
        assert_addressed(&login, sp, &saml);
        let key = sp.encryption_key.clone().unwrap();
        let checked = verify_idp_signatures(&login.response_xml(), Some(&key)).await;
        assert_eq!(
            checked.encryption_algorithm.as_deref(),
            Some("http://www.w3.org/2001/04/xmlenc#aes256-cbc"),
            "{}",
            sp.entity_id
        );
        assert!(checked.is_signed("Assertion"));
        assert_eq!(login.attribute("urn:oid:1.2.752.29.6.2.1"), [ANNA_HSA_ID]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signature_algorithm_follows_the_sp_metadata() {
    const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    let mut sps = Vec::new();
    for (name, methods) in [
        ("rsa-only", vec![RSA_SHA256]),
        ("ecdsa-too", vec![ECDSA_SHA256, RSA_SHA256]),
    ] {
        let sp = PySp::init(
            name,
            json!({
                "want_assertions_signed": true,
                "want_response_signed": true,
                "signing_methods": methods,
                "slo_bindings": ["redirect"],
            }),
        )
        .await;
        sps.push((name, sp, methods));
    }
    let tables: Vec<(&str, String)> = sps
        .iter()
        .map(|(name, sp, _)| ("region", sp.sp_table(name, "sambi", "sign = \"both\"")))
        .collect();
    let trusting: Vec<&PySp> = sps.iter().map(|(_, sp, _)| sp).collect();
    let saml = SamlIdp::start(&tables, &trusting).await;
    let anna = Agent::with_certificate("anna");
    for (_, sp, methods) in &sps {
        let login = log_in(&saml.idp, &anna, sp, json!({ "binding": "redirect" })).await;
        assert_addressed(&login, sp, &saml);
        let checked = verify_idp_signatures(&login.response_xml(), None).await;
        assert_eq!(checked.signed, ["Response", "Assertion"], "sign = both");
        for method in &checked.signature_methods {
            assert_eq!(
                method, methods[0],
                "{}: the SP's first choice",
                sp.entity_id
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_name_ids_are_stable_per_sp_and_differ_between_sps() {
    let a = sambi_sp("pseudonym-a").await;
    let b = sambi_sp("pseudonym-b").await;
    let saml = SamlIdp::start(
        &[
            ("region", a.sp_table("pseudonym-a", "sambi", "")),
            ("storstad", b.sp_table("pseudonym-b", "sambi", "")),
        ],
        &[&a, &b],
    )
    .await;

    let first_browser = Agent::with_certificate("anna");
    let at_a = log_in(
        &saml.idp,
        &first_browser,
        &a,
        json!({ "binding": "redirect" }),
    )
    .await;
    let at_b = log_in(
        &saml.idp,
        &first_browser,
        &b,
        json!({ "binding": "redirect" }),
    )
    .await;
    let second_browser = Agent::with_certificate("anna");
    let again_at_a = log_in(&saml.idp, &second_browser, &a, json!({ "binding": "post" })).await;
    let other_user = log_in(
        &saml.idp,
        &Agent::with_certificate("helena"),
        &a,
        json!({ "binding": "redirect" }),
    )
    .await;

    for login in [&at_a, &at_b, &again_at_a, &other_user] {
        assert_eq!(login.result["status"], "ok", "{:#}", login.result);
        assert_eq!(login.result["name_id_format"], NAMEID_PERSISTENT);
    }
    assert_opaque(at_a.name_id());
    assert_opaque(at_b.name_id());
    assert_eq!(
        at_a.name_id(),
        again_at_a.name_id(),
        "stable for one user and SP"
    );
    assert_ne!(
        at_a.name_id(),
        at_b.name_id(),
        "another SP, another pseudonym"
    );
    assert_eq!(
        other_user.result["authn_context_class_ref"], "http://id.sambi.se/loa/loa2",
        "Helena's certificate is LoA 2"
    );
    assert_eq!(
        other_user.attribute("urn:sambi:names:attribute:levelOfAssurance"),
        ["http://id.sambi.se/loa/loa2"]
    );
    assert_ne!(
        at_a.name_id(),
        other_user.name_id(),
        "another user, another pseudonym"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_name_ids_change_on_every_login() {
    let asks = PySp::init(
        "transient-asks",
        json!({ "want_assertions_signed": true, "name_id_format": "transient" }),
    )
    .await;
    let configured = sambi_sp("transient-configured").await;
    let saml = SamlIdp::start(
        &[
            ("region", asks.sp_table("transient-asks", "sambi", "")),
            (
                "region",
                configured.sp_table(
                    "transient-configured",
                    "sambi",
                    "name_id_format = \"transient\"",
                ),
            ),
        ],
        &[&asks, &configured],
    )
    .await;
    let anna = Agent::with_certificate("anna");

    // The SP asks for transient in its NameIDPolicy.
    let first = log_in(&saml.idp, &anna, &asks, json!({ "binding": "redirect" })).await;
    let second = log_in(&saml.idp, &anna, &asks, json!({ "binding": "post" })).await;
    assert!(!second.login_page_shown, "single sign-on");
    // The tenant file says transient, the request names no format.
    let third = log_in(
        &saml.idp,
        &anna,
        &configured,
        json!({ "binding": "redirect", "name_id_format": null }),
    )
    .await;
    assert!(
        !third.request.xml.contains("NameIDPolicy"),
        "{}",
        third.request.xml
    );
    for login in [&first, &second, &third] {
        assert_eq!(login.result["status"], "ok", "{:#}", login.result);
        assert_eq!(login.result["name_id_format"], NAMEID_TRANSIENT);
        assert_opaque(login.name_id());
    }
    assert_ne!(
        first.name_id(),
        second.name_id(),
        "a new one on every login"
    );
    assert_ne!(first.name_id(), third.name_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_reaches_a_second_sp_without_a_login_page_and_force_authn_asks_again() {
    let a = sambi_sp("sso-a").await;
    let b = eid_sp("sso-b", &[]).await;
    let saml = SamlIdp::start(
        &[
            ("region", a.sp_table("sso-a", "sambi", "")),
            ("storstad", b.sp_table("sso-b", "swedish-eid", "")),
        ],
        &[&a, &b],
    )
    .await;
    let anna = Agent::with_certificate("anna");

    let first = log_in(&saml.idp, &anna, &a, json!({ "binding": "redirect" })).await;
    assert!(first.login_page_shown);
    assert!(anna.cookie("localhost", SSO_COOKIE).is_some());
    let second = log_in(
        &saml.idp,
        &anna,
        &b,
        json!({ "binding": "post", "loa": EID_LOA3 }),
    )
    .await;
    assert!(
        !second.login_page_shown,
        "the SSO session carries over to another SP"
    );
    assert_addressed(&second, &b, &saml);
    assert_eq!(second.attribute("urn:oid:1.2.752.29.6.2.1"), [ANNA_HSA_ID]);
    assert_ne!(
        first.result["session_index"],
        json!(null),
        "{:#}",
        first.result
    );

    let passive = log_in(
        &saml.idp,
        &anna,
        &a,
        json!({ "binding": "redirect", "is_passive": true }),
    )
    .await;
    assert!(
        !passive.login_page_shown,
        "IsPassive with a session: no page"
    );
    assert_addressed(&passive, &a, &saml);

    let forced = log_in(
        &saml.idp,
        &anna,
        &a,
        json!({ "binding": "redirect", "force_authn": true }),
    )
    .await;
    assert!(
        forced.login_page_shown,
        "ForceAuthn shows the login page again"
    );
    assert_addressed(&forced, &a, &saml);
    assert_eq!(forced.name_id(), first.name_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_authn_requests_are_accepted_over_both_bindings() {
    let sp = PySp::init(
        "signs-requests",
        json!({ "want_assertions_signed": true, "authn_requests_signed": true }),
    )
    .await;
    assert!(sp.metadata.contains("AuthnRequestsSigned=\"true\""));
    let saml = SamlIdp::start(
        &[("region", sp.sp_table("signs-requests", "sambi", ""))],
        &[&sp],
    )
    .await;
    let anna = Agent::with_certificate("anna");

    let over_redirect = log_in(&saml.idp, &anna, &sp, json!({ "binding": "redirect" })).await;
    assert!(
        over_redirect
            .request
            .url
            .as_deref()
            .is_some_and(|u| u.contains("&Signature=")),
        "{:?}",
        over_redirect.request
    );
    assert_addressed(&over_redirect, &sp, &saml);
    let over_post = log_in(&saml.idp, &anna, &sp, json!({ "binding": "post" })).await;
    assert!(over_post.request.xml.contains("SignatureValue"));
    assert_addressed(&over_post, &sp, &saml);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_number_is_released_only_when_the_sp_asks_for_it() {
    let sp = eid_sp("pnr", &[]).await;
    let saml = SamlIdp::start(
        &[(
            "storstad",
            sp.sp_table(
                "pnr",
                "swedish-eid",
                "release = [\"givenName\", \"personalIdentityNumber\"]",
            ),
        )],
        &[&sp],
    )
    .await;
    let login = log_in(
        &saml.idp,
        &Agent::with_certificate("cecilia"),
        &sp,
        json!({ "binding": "redirect" }),
    )
    .await;
    assert_addressed(&login, &sp, &saml);
    let mut names = login.attribute_names();
    names.sort();
    assert_eq!(names, ["urn:oid:1.2.752.29.4.13", "urn:oid:2.5.4.42"]);
    assert_eq!(login.attribute("urn:oid:1.2.752.29.4.13"), ["198504042386"]);
    assert_eq!(login.attribute("urn:oid:2.5.4.42"), ["Cecilia"]);
    assert!(!login.name_id().contains("198504042386"));
}

/// Logs anna in at `a` (Sambi) and `b` (Swedish eID) in one browser; both SPs offer
/// single logout over `slo_binding` only ("redirect" or "post").
async fn two_sp_session(slo_binding: &str) -> (SamlIdp, PySp, PySp, Agent, Login, Login) {
    let a = PySp::init(
        "slo-a",
        json!({ "want_assertions_signed": true, "slo_bindings": [slo_binding] }),
    )
    .await;
    let b = PySp::init(
        "slo-b",
        json!({
            "want_assertions_signed": true,
            "want_response_signed": true,
            "encrypt": true,
            "slo_bindings": [slo_binding],
        }),
    )
    .await;
    let saml = SamlIdp::start(
        &[
            ("region", a.sp_table("slo-a", "sambi", "")),
            ("storstad", b.sp_table("slo-b", "swedish-eid", "")),
        ],
        &[&a, &b],
    )
    .await;
    let anna = Agent::with_certificate("anna");
    let at_a = log_in(&saml.idp, &anna, &a, json!({ "binding": "redirect" })).await;
    let at_b = log_in(&saml.idp, &anna, &b, json!({ "binding": "post" })).await;
    assert_eq!(at_a.result["status"], "ok", "{:#}", at_a.result);
    assert_eq!(at_b.result["status"], "ok", "{:#}", at_b.result);
    (saml, a, b, anna, at_a, at_b)
}

/// Asserts that the IdP used the SP's only SLO binding.
fn assert_binding(arrival: &ToSp, slo_binding: &str) {
    match (arrival, slo_binding) {
        (ToSp::Redirect(_), "redirect") | (ToSp::Form(_), "post") => {}
        _ => panic!(
            "expected the {slo_binding} binding, the only one in the SP's metadata: {arrival:?}"
        ),
    }
}

/// Checks the signature of a message from the IdP as it arrived at an SP: the query
/// signature of a Redirect, the XML signature of a POST.
async fn assert_idp_signed(arrival: &ToSp, element: &str) {
    match arrival {
        ToSp::Redirect(url) => verify_redirect_signature(url)
            .await
            .unwrap_or_else(|e| panic!("{element} over Redirect: {e}")),
        ToSp::Form(_) => {
            let xml = arrival.saml_xml().await.unwrap();
            let checked = verify_idp_signatures(&xml, None).await;
            assert!(
                checked.is_signed(element),
                "{element} over POST is signed: {xml}"
            );
        }
        ToSp::Page(page) => panic!("no message to an SP: {} {}", page.status, page.body),
    }
}

/// The browser carries `answer["response"]` (an SP's message) to the IdP.
async fn send_sp_answer(agent: &Agent, answer: &serde_json::Value) -> ToSp {
    let response = &answer["response"];
    let page = if let Some(url) = response["url"].as_str() {
        agent.get(url).await
    } else {
        let action = reqwest::Url::parse(response["action"].as_str().unwrap()).unwrap();
        let fields: Vec<(String, String)> = response["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        agent
            .request(reqwest::Method::POST, &action, Some(&fields))
            .await
    };
    follow_to_sp(agent, page).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_logout_from_one_sp_logs_out_of_every_sp_of_the_session() {
    let (saml, a, b, anna, _at_a, at_b) = two_sp_session("redirect").await;

    let logout = a
        .logout_request(json!({ "binding": "redirect", "relay_state": "after-logout" }))
        .await;
    let first = logout.send(&anna).await;

    // The IdP asks B to log out too, through the browser.
    let to_b = follow_to_sp(&anna, first).await;
    let target = to_b.target().unwrap_or_else(|| panic!("{to_b:?}")).clone();
    assert_eq!(
        target.as_str().split('?').next(),
        Some(b.slo_url.as_str()),
        "a LogoutRequest to B's SLO endpoint"
    );
    assert_binding(&to_b, "redirect");
    assert_idp_signed(&to_b, "LogoutRequest").await;
    let at_b_slo = b.consume_logout_request(&to_b, None).await;
    assert_eq!(at_b_slo["status"], "ok", "{at_b_slo:#}");
    assert_eq!(at_b_slo["issuer"], saml.entity_id());
    assert_eq!(
        at_b_slo["name_id"]["text"],
        at_b.name_id(),
        "B's own NameID"
    );
    assert_eq!(
        at_b_slo["session_indexes"],
        json!([at_b.result["session_index"]]),
        "{at_b_slo:#}"
    );
    assert_ne!(at_b_slo["query_signature_valid"], false, "{at_b_slo:#}");
    assert_eq!(at_b_slo["response_status"], STATUS_SUCCESS);

    // B confirms; the IdP answers A.
    let to_a = send_sp_answer(&anna, &at_b_slo).await;
    let target = to_a.target().unwrap_or_else(|| panic!("{to_a:?}")).clone();
    assert_eq!(target.as_str().split('?').next(), Some(a.slo_url.as_str()));
    assert_binding(&to_a, "redirect");
    assert_idp_signed(&to_a, "LogoutResponse").await;
    let done = a.consume_logout_response(&to_a).await;
    assert_eq!(done["status"], "ok", "{done:#}");
    assert_eq!(status_codes(&done), [STATUS_SUCCESS], "{done:#}");
    assert_eq!(done["in_response_to"], logout.request_id.as_str());
    assert_eq!(done["issuer"], saml.entity_id());
    assert_eq!(done["relay_state"], "after-logout");
    assert_ne!(done["query_signature_valid"], false, "{done:#}");

    // The session is over: the next login asks again.
    let again = log_in(&saml.idp, &anna, &a, json!({ "binding": "redirect" })).await;
    assert!(again.login_page_shown, "after logout the login page again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_logout_over_post_reports_a_partial_logout_when_an_sp_does_not_confirm() {
    let (saml, a, b, anna, _at_a, _at_b) = two_sp_session("post").await;

    let logout = a.logout_request(json!({ "binding": "post" })).await;
    let first = logout.send(&anna).await;
    let to_b = follow_to_sp(&anna, first).await;
    assert_binding(&to_b, "post");
    assert_idp_signed(&to_b, "LogoutRequest").await;
    let refused = b
        .consume_logout_request(&to_b, Some(STATUS_RESPONDER))
        .await;
    assert_eq!(refused["status"], "ok", "{refused:#}");
    let to_a = send_sp_answer(&anna, &refused).await;
    assert_binding(&to_a, "post");
    assert_idp_signed(&to_a, "LogoutResponse").await;
    let done = a.consume_logout_response(&to_a).await;
    let codes = status_codes(&done);
    assert_eq!(
        codes.get(1).map(String::as_str),
        Some(STATUS_PARTIAL_LOGOUT),
        "{done:#}"
    );
    assert!(
        codes[0] == STATUS_SUCCESS || codes[0] == STATUS_RESPONDER,
        "{done:#}"
    );
    assert_eq!(done["in_response_to"], logout.request_id.as_str());

    // The IdP's own session is over all the same.
    let again = log_in(&saml.idp, &anna, &a, json!({ "binding": "redirect" })).await;
    assert!(again.login_page_shown);
}
