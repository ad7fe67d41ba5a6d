//! SAML negative tests: every request the IdP must refuse, with the exact error code on
//! the page (or status in the SAML response), and nothing else happening: no SAML
//! response on a refusal page, no SSO session started by a refused request.
//!
//! Each crafted request has a control: the same request unaltered is accepted (the IdP
//! asks the user to log in), so a refusal is the IdP's doing, not a broken test request.

use base64::Engine as _;
use e2e::agent::{Agent, Page};
use e2e::saml::*;
use serde_json::{json, Value};
use time::Duration;

const EID_LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";
const EID_LOA4: &str = "http://id.elegnamnden.se/loa/1.0/loa4";
const SAMBI_LOA3: &str = "http://id.sambi.se/loa/loa3";

async fn sambi_sp(name: &str) -> PySp {
    PySp::init(name, json!({ "want_assertions_signed": true })).await
}

/// One Sambi SP registered at a fresh IdP, with `extra` keys in its table.
async fn idp_with(name: &str, extra: &str) -> (SamlIdp, PySp) {
    let sp = sambi_sp(name).await;
    let saml = SamlIdp::start(&[("region", sp.sp_table(name, "sambi", extra))], &[&sp]).await;
    (saml, sp)
}

/// Sends `request` and expects the IdP to stop on its own page.
async fn refusal(agent: &Agent, request: &SpMessage) -> Page {
    let first = request.send(agent).await;
    page_of(follow_to_sp(agent, first).await)
}

fn page_of(arrival: ToSp) -> Page {
    match arrival {
        ToSp::Page(page) => page,
        other => panic!("expected an IdP page, the IdP sent the browser on: {other:?}"),
    }
}

/// A browser that never logged in holds no SSO cookie after a refusal.
fn assert_no_session(agent: &Agent) {
    assert!(
        agent.cookie("localhost", SSO_COOKIE).is_none(),
        "a refused request starts no SSO session"
    );
}

/// The request was accepted: the IdP asks the user to log in.
fn assert_asks_to_log_in(page: &Page, what: &str) {
    assert!(
        is_login_page(page),
        "control ({what}): expected the login page, got {} {} {:?}\n{}",
        page.status,
        page.url,
        page.error_code(),
        page.body
    );
}

/// GET `/saml/sso?<query>` and follow the IdP's redirects.
async fn redirect_binding(saml: &SamlIdp, agent: &Agent, query: &str) -> Page {
    let first = agent.get(&saml.url(&format!("/saml/sso?{query}"))).await;
    page_of(follow_to_sp(agent, first).await)
}

/// POST the XML to `/saml/sso` and follow the IdP's redirects.
async fn post_binding(saml: &SamlIdp, agent: &Agent, xml: &str) -> Page {
    let first = post_request(&saml.idp, agent, xml, Some("rs")).await;
    page_of(follow_to_sp(agent, first).await)
}

fn strip_xml_declaration(xml: &str) -> &str {
    let xml = xml.trim_start();
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, r)| r.trim_start())
            .unwrap_or(xml),
        None => xml,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_from_an_unregistered_sp_is_refused() {
    let registered = sambi_sp("registered").await;
    let stranger = sambi_sp("stranger").await;
    let _saml = SamlIdp::start(
        &[("region", registered.sp_table("registered", "sambi", ""))],
        &[&registered, &stranger],
    )
    .await;
    let anna = Agent::with_certificate("anna");
    for binding in ["redirect", "post"] {
        let request = stranger.authn_request(json!({ "binding": binding })).await;
        let page = refusal(&anna, &request).await;
        assert_refused(&page, "SAML_UNKNOWN_SP");
    }
    assert_no_session(&anna);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acs_url_or_index_missing_from_the_sp_metadata_is_refused() {
    let (_saml, sp) = idp_with("acs", "").await;
    let anna = Agent::with_certificate("anna");
    for options in [
        json!({ "binding": "redirect", "acs_url": "https://evil.example.test/acs" }),
        json!({ "binding": "post", "acs_url": format!("{}/other", sp.acs_url) }),
        json!({ "binding": "redirect", "acs_index": 7 }),
    ] {
        let request = sp.authn_request(options.clone()).await;
        let page = refusal(&anna, &request).await;
        assert_refused(&page, "SAML_ACS_NOT_REGISTERED");
        assert!(
            !page.body.contains("evil.example.test"),
            "{options}: {}",
            page.body
        );
    }
    assert_no_session(&anna);
    let control = sp
        .authn_request(json!({ "binding": "redirect", "acs_index": 1 }))
        .await;
    assert_asks_to_log_in(
        &refusal(&anna, &control).await,
        "ACS index 1 is in the metadata",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_meant_for_another_destination_is_refused() {
    let (saml, sp) = idp_with("destination", "").await;
    let anna = Agent::with_certificate("anna");
    for binding in ["redirect", "post"] {
        let request = sp
            .authn_request(json!({
                "binding": binding,
                "destination": "https://idp.other.example.test/saml/sso",
            }))
            .await;
        let page = refusal(&anna, &request).await;
        assert_refused(&page, "SAML_DESTINATION_MISMATCH");
    }
    // The right host, another endpoint.
    let request = sp
        .authn_request(json!({ "binding": "post", "destination": saml.url("/saml/slo") }))
        .await;
    assert_refused(&refusal(&anna, &request).await, "SAML_DESTINATION_MISMATCH");
    assert_no_session(&anna);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_request_is_refused_even_after_it_succeeded() {
    let (saml, sp) = idp_with("replay", "").await;
    let anna = Agent::with_certificate("anna");
    let request = sp.authn_request(json!({ "binding": "redirect" })).await;

    let (arrival, _) = sso(&saml.idp, &anna, &request).await;
    let ToSp::Form(form) = arrival else {
        panic!("the first use logs in: {arrival:?}")
    };
    let first = sp.consume_response(&form, &request.request_id).await;
    assert_eq!(first["status"], "ok", "{first:#}");

    // The same request again, in the same browser (with its SSO session) ...
    let page = refusal(&anna, &request).await;
    assert_refused(&page, "SAML_REQUEST_REPLAYED");
    // ... and in another browser.
    let other = Agent::with_certificate("anna");
    assert_refused(&refusal(&other, &request).await, "SAML_REQUEST_REPLAYED");
    assert_no_session(&other);

    // Over POST, replayed before any login.
    let posted = sp.authn_request(json!({ "binding": "post" })).await;
    let fresh = Agent::new();
    assert_asks_to_log_in(&refusal(&fresh, &posted).await, "first use");
    assert_refused(&refusal(&fresh, &posted).await, "SAML_REQUEST_REPLAYED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_issued_too_long_ago_or_in_the_future_is_refused() {
    let (saml, sp) = idp_with("expired", "").await;
    let anna = Agent::with_certificate("anna");
    let now = saml.idp.state.clock.now();

    for (age, accepted) in [
        (Duration::minutes(10), false),
        (Duration::seconds(-600), false),
        (Duration::minutes(3), true),
        (Duration::seconds(-20), true),
    ] {
        let mut crafted = CraftedAuthnRequest::new(&sp, &saml.idp);
        crafted.issue_instant = now - age;
        let xml = crafted.to_xml();
        let redirect = redirect_binding(
            &saml,
            &anna,
            &sp.redirect_query(&xml, Some("rs"), None).await,
        )
        .await;
        let mut again = crafted.clone();
        again.id = format!("{}-post", crafted.id);
        let posted = post_binding(&saml, &anna, &again.to_xml()).await;
        for page in [redirect, posted] {
            if accepted {
                assert_asks_to_log_in(&page, &format!("issued {age} ago"));
            } else {
                assert_refused(&page, "SAML_REQUEST_EXPIRED");
            }
        }
    }
    assert_no_session(&anna);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_request_is_refused_when_the_sp_must_sign() {
    // One SP told so in its tenant file, one whose metadata says AuthnRequestsSigned.
    let configured = sambi_sp("must-sign-config").await;
    let by_metadata = PySp::init(
        "must-sign-metadata",
        json!({ "want_assertions_signed": true, "authn_requests_signed": true }),
    )
    .await;
    let _saml = SamlIdp::start(
        &[
            (
                "region",
                configured.sp_table(
                    "must-sign-config",
                    "sambi",
                    "require_signed_requests = true",
                ),
            ),
            (
                "region",
                by_metadata.sp_table("must-sign-metadata", "sambi", ""),
            ),
        ],
        &[&configured, &by_metadata],
    )
    .await;
    let anna = Agent::with_certificate("anna");
    for sp in [&configured, &by_metadata] {
        for binding in ["redirect", "post"] {
            let unsigned = sp
                .authn_request(json!({ "binding": binding, "sign": false }))
                .await;
            assert!(!unsigned.xml.contains("SignatureValue"));
            assert!(!unsigned
                .url
                .as_deref()
                .unwrap_or_default()
                .contains("Signature="));
            let page = refusal(&anna, &unsigned).await;
            assert_refused(&page, "SAML_SIGNATURE_REQUIRED");
        }
        assert_no_session(&anna);
        let signed = sp
            .authn_request(json!({ "binding": "redirect", "sign": true }))
            .await;
        assert_asks_to_log_in(&refusal(&anna, &signed).await, "signed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_with_an_unknown_key_or_altered_after_signing_is_refused() {
    let (saml, sp) = idp_with("bad-signature", "").await;
    let anna = Agent::with_certificate("anna");

    // Signed by a key that is not in the SP's metadata (pysaml2 even sends its
    // certificate along in KeyInfo: the IdP must not use it).
    for binding in ["redirect", "post"] {
        let forged = sp
            .authn_request(json!({ "binding": binding, "sign": true, "signing_key": "other" }))
            .await;
        assert_refused(&refusal(&anna, &forged).await, "SAML_SIGNATURE_INVALID");
    }

    // HTTP-POST: signed correctly, then a signed attribute changed.
    let crafted = CraftedAuthnRequest::new(&sp, &saml.idp);
    let signed = sign_request(&crafted.to_xml(), &sp.signing_key, &sp.signing_certificate).await;
    xmlsec_verify(&signed, &sp.signing_certificate, None)
        .await
        .expect("the crafted request is validly signed");
    let tampered = signed.replace("ProviderName=\"Test SP\"", "ProviderName=\"Evil SP\"");
    assert_ne!(tampered, signed);
    assert_refused(
        &post_binding(&saml, &anna, &tampered).await,
        "SAML_SIGNATURE_INVALID",
    );

    // HTTP-Redirect: signed correctly, then the RelayState changed.
    let mut other = CraftedAuthnRequest::new(&sp, &saml.idp);
    other.id = format!("{}-r", other.id);
    let query = sp
        .redirect_query(&other.to_xml(), Some("original"), Some(&sp.signing_key))
        .await;
    let altered = query.replace("RelayState=original", "RelayState=altered");
    assert_ne!(altered, query);
    assert_refused(
        &redirect_binding(&saml, &anna, &altered).await,
        "SAML_SIGNATURE_INVALID",
    );
    assert_no_session(&anna);

    // Controls: untouched messages are accepted.
    let (_, control) = signed_request(&saml, &sp).await;
    assert_asks_to_log_in(&post_binding(&saml, &anna, &control).await, "signed POST");
    let mut third = CraftedAuthnRequest::new(&sp, &saml.idp);
    third.id = format!("{}-c", third.id);
    let query = sp
        .redirect_query(&third.to_xml(), Some("original"), Some(&sp.signing_key))
        .await;
    assert_asks_to_log_in(
        &redirect_binding(&saml, &anna, &query).await,
        "signed Redirect",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_type_declaration_is_refused() {
    let (saml, sp) = idp_with("dtd", "").await;
    let anna = Agent::with_certificate("anna");
    let mut crafted = CraftedAuthnRequest::new(&sp, &saml.idp);
    crafted.provider_name = "&lol9;".to_owned();
    let mut entities = String::from("<!ENTITY lol0 \"lol\">");
    for i in 1..10 {
        let previous = format!("&lol{};", i - 1);
        entities.push_str(&format!("<!ENTITY lol{i} \"{}\">", previous.repeat(10)));
    }
    let bomb = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE samlp:AuthnRequest [{entities}]>{}",
        crafted.to_xml()
    );
    assert_refused(
        &post_binding(&saml, &anna, &bomb).await,
        "XML_DTD_FORBIDDEN",
    );

    let mut external = CraftedAuthnRequest::new(&sp, &saml.idp);
    external.provider_name = "&xxe;".to_owned();
    let xxe = format!(
        "<!DOCTYPE samlp:AuthnRequest [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        external.to_xml()
    );
    let page = redirect_binding(&saml, &anna, &sp.redirect_query(&xxe, None, None).await).await;
    assert_refused(&page, "XML_DTD_FORBIDDEN");
    assert!(!page.body.contains("root:"), "{}", page.body);
    assert_no_session(&anna);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_256_kib_is_refused() {
    let (saml, sp) = idp_with("too-large", "").await;
    let anna = Agent::with_certificate("anna");
    let mut crafted = CraftedAuthnRequest::new(&sp, &saml.idp);
    crafted.extra = format!(
        "<samlp:Extensions><pad:Padding xmlns:pad=\"urn:test:padding\">{}</pad:Padding></samlp:Extensions>",
        "A".repeat(1024 * 1024)
    );
    let xml = crafted.to_xml();
    assert!(xml.len() > 1024 * 1024);
    assert_refused(&post_binding(&saml, &anna, &xml).await, "XML_TOO_LARGE");

    // Over Redirect, the same megabyte deflates to a short URL: the limit is on the
    // inflated XML.
    let mut inflating = crafted.clone();
    inflating.id = format!("{}-r", crafted.id);
    let query = sp.redirect_query(&inflating.to_xml(), None, None).await;
    assert!(
        query.len() < 16 * 1024,
        "a short URL: {} bytes",
        query.len()
    );
    assert_refused(
        &redirect_binding(&saml, &anna, &query).await,
        "XML_TOO_LARGE",
    );
    assert_no_session(&anna);

    // Control: 200 KiB, under the limit, is accepted over both bindings.
    for binding in ["post", "redirect"] {
        let mut under = CraftedAuthnRequest::new(&sp, &saml.idp);
        under.extra = format!(
            "<samlp:Extensions><pad:Padding xmlns:pad=\"urn:test:padding\">{}</pad:Padding></samlp:Extensions>",
            "A".repeat(200 * 1024)
        );
        let xml = under.to_xml();
        assert!(xml.len() < 256 * 1024);
        let page = if binding == "post" {
            post_binding(&saml, &anna, &xml).await
        } else {
            redirect_binding(&saml, &anna, &sp.redirect_query(&xml, None, None).await).await
        };
        assert_asks_to_log_in(&page, &format!("200 KiB over {binding}"));
    }
}

/// The `<ds:Signature>...</ds:Signature>` element of a signed document.
fn signature_element(signed: &str) -> &str {
    let start = signed.find("<ds:Signature").expect("a signature");
    let end = signed.find("</ds:Signature>").expect("a signature end") + "</ds:Signature>".len();
    &signed[start..end]
}

/// A freshly signed crafted request from `sp` (its own ID), without the XML declaration.
async fn signed_request(saml: &SamlIdp, sp: &PySp) -> (CraftedAuthnRequest, String) {
    let crafted = CraftedAuthnRequest::new(sp, &saml.idp);
    let signed = sign_request(&crafted.to_xml(), &sp.signing_key, &sp.signing_certificate).await;
    (crafted, strip_xml_declaration(&signed).to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_wrapping_is_refused() {
    // One SP that must sign, one that may send unsigned requests: a wrapped signature is
    // an attack either way.
    let strict = sambi_sp("wrapping-strict").await;
    let relaxed = sambi_sp("wrapping-relaxed").await;
    let saml = SamlIdp::start(
        &[
            (
                "region",
                strict.sp_table("wrapping-strict", "sambi", "require_signed_requests = true"),
            ),
            ("region", relaxed.sp_table("wrapping-relaxed", "sambi", "")),
        ],
        &[&strict, &relaxed],
    )
    .await;
    let anna = Agent::with_certificate("anna");

    let mut findings = Vec::new();
    for (sp, which) in [(&strict, "must sign"), (&relaxed, "may send unsigned")] {
        let (original, signed) = signed_request(&saml, sp).await;
        let signature = signature_element(&signed).to_owned();
        let unsigned_original = signed.replace(&signature, "");

        // 1. A new root carrying the signed ID, with the signature, and the signed
        //    original hidden in its Extensions.
        let mut evil = original.clone();
        evil.provider_name = "Evil SP".to_owned();
        evil.extra = format!(
            "<samlp:Extensions><w:Wrapper xmlns:w=\"urn:test:wrapper\">{unsigned_original}</w:Wrapper></samlp:Extensions>"
        );
        let evil_xml = evil.to_xml();
        let end_of_issuer = evil_xml.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
        let same_id = format!(
            "{}{signature}{}",
            &evil_xml[..end_of_issuer],
            &evil_xml[end_of_issuer..]
        );
        let page = post_binding(&saml, &anna, &same_id).await;
        if let Err(problem) = check_refused(&page, "XML_SIGNATURE_WRAPPING") {
            findings.push(format!(
                "SP that {which}, evil root with the signed ID: {problem}"
            ));
        }

        // 2. The signed element, signature and all, moved inside an unsigned root with
        //    an ID of its own.
        let mut wrapper = original.clone();
        wrapper.id = format!("{}-wrapper", original.id);
        wrapper.provider_name = "Evil SP".to_owned();
        wrapper.extra = format!(
            "<samlp:Extensions><w:Wrapper xmlns:w=\"urn:test:wrapper\">{signed}</w:Wrapper></samlp:Extensions>"
        );
        let moved = wrapper.to_xml();
        xmlsec_verify(&moved, &sp.signing_certificate, Some(&original.id))
            .await
            .expect("the moved signature still verifies on its own element");
        let page = post_binding(&saml, &anna, &moved).await;
        if let Err(problem) = check_refused(&page, "XML_SIGNATURE_WRAPPING") {
            findings.push(format!("SP that {which}, signed element moved: {problem}"));
        }
        assert_no_session(&anna);

        // Control: a signed request as it was signed.
        let (_, control) = signed_request(&saml, sp).await;
        assert_asks_to_log_in(&post_binding(&saml, &anna, &control).await, "signed");
    }
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_in_a_request_is_refused() {
    let (saml, sp) = idp_with("comment", "").await;
    let anna = Agent::with_certificate("anna");

    // Signed, then a comment put into the Issuer: exclusive c14n drops comments, so the
    // signature still verifies; a parser reading the first text node would see a
    // truncated issuer.
    let crafted = CraftedAuthnRequest::new(&sp, &saml.idp);
    let signed = sign_request(&crafted.to_xml(), &sp.signing_key, &sp.signing_certificate).await;
    let issuer = format!(">{}</saml:Issuer>", sp.entity_id);
    let split = sp.entity_id.len() - 3;
    let commented = signed.replacen(
        &issuer,
        &format!(
            ">{}<!--x-->{}</saml:Issuer>",
            &sp.entity_id[..split],
            &sp.entity_id[split..]
        ),
        1,
    );
    assert_ne!(commented, signed);
    xmlsec_verify(&commented, &sp.signing_certificate, None)
        .await
        .expect("the comment does not break the signature");
    assert_refused(
        &post_binding(&saml, &anna, &commented).await,
        "XML_COMMENT_FORBIDDEN",
    );

    // Signed, then a comment put into the Subject's NameID.
    let mut with_subject = CraftedAuthnRequest::new(&sp, &saml.idp);
    with_subject.extra = "<saml:Subject><saml:NameID \
        Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">\
        SE2321009991-anna01</saml:NameID></saml:Subject>"
        .to_owned();
    let signed_subject = sign_request(
        &with_subject.to_xml(),
        &sp.signing_key,
        &sp.signing_certificate,
    )
    .await;
    let commented_subject = signed_subject.replacen(
        "SE2321009991-anna01</saml:NameID>",
        "SE2321009991-anna01<!---->.evil</saml:NameID>",
        1,
    );
    assert_ne!(commented_subject, signed_subject);
    assert_refused(
        &post_binding(&saml, &anna, &commented_subject).await,
        "XML_COMMENT_FORBIDDEN",
    );

    // A comment anywhere, in an unsigned request, over Redirect.
    let mut unsigned = CraftedAuthnRequest::new(&sp, &saml.idp);
    unsigned.extra = "<!-- a comment -->".to_owned();
    let query = sp.redirect_query(&unsigned.to_xml(), None, None).await;
    assert_refused(
        &redirect_binding(&saml, &anna, &query).await,
        "XML_COMMENT_FORBIDDEN",
    );
    assert_no_session(&anna);

    // Control: a signed request without a comment.
    let (_, control) = signed_request(&saml, &sp).await;
    assert_asks_to_log_in(&post_binding(&saml, &anna, &control).await, "no comment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_of_a_tenant_the_sp_does_not_serve_is_refused_after_login() {
    let (saml, sp) = idp_with("region-only", "user_tenants = [\"region\"]").await;
    let eva = Agent::with_certificate("eva");
    let request = sp.authn_request(json!({ "binding": "redirect" })).await;
    let first = request.send(&eva).await;
    let login_page = page_of(follow_to_sp(&eva, first).await);
    assert_asks_to_log_in(&login_page, "eva has no session yet");
    let landed = eva.log_in_with_certificate(&saml.idp, &login_page).await;
    let page = page_of(follow_to_sp(&eva, landed).await);
    assert_refused(&page, "USER_NOT_ALLOWED");

    // Anna of the region gets in.
    let anna = Agent::with_certificate("anna");
    let login = log_in(&saml.idp, &anna, &sp, json!({ "binding": "redirect" })).await;
    assert_eq!(login.result["status"], "ok", "{:#}", login.result);
}

/// Sends `options`' request, logs in if the IdP asks, and reads the SAML error response
/// that must come back to the ACS: pysaml2's reading, the signatures, whether a login
/// page was shown.
async fn error_response(saml: &SamlIdp, agent: &Agent, sp: &PySp, options: Value) -> (Value, bool) {
    let request = sp.authn_request(options.clone()).await;
    let (arrival, login_page_shown) = sso(&saml.idp, agent, &request).await;
    let ToSp::Form(form) = arrival else {
        panic!("{options}: expected a SAML response to the ACS, got {arrival:?}")
    };
    assert_eq!(form.action.as_str(), sp.acs_url);
    let result = sp.consume_response(&form, &request.request_id).await;
    assert_eq!(result["status"], "error", "{options}: {result:#}");
    assert_eq!(
        result["in_response_to"],
        request.request_id.as_str(),
        "{result:#}"
    );
    assert_eq!(result["destination"], sp.acs_url.as_str(), "{result:#}");
    assert_eq!(result["issuer"], saml.entity_id(), "{result:#}");
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(form.field("SAMLResponse").unwrap())
            .unwrap(),
    )
    .unwrap();
    let checked = verify_idp_signatures(&xml, None).await;
    assert!(
        checked.is_signed("Response"),
        "an error response is signed too: {xml}"
    );
    let info = xml_info(&xml).await;
    assert!(
        !xml.contains("Assertion>") && info["encrypted_data"].as_array().is_some_and(Vec::is_empty),
        "an error response carries no assertion: {xml}"
    );
    (result, login_page_shown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_loa_is_answered_with_no_authn_context() {
    let eid = PySp::init(
        "loa-eid",
        json!({ "want_assertions_signed": true, "want_response_signed": true, "encrypt": true }),
    )
    .await;
    let sambi = sambi_sp("loa-sambi").await;
    let saml = SamlIdp::start(
        &[
            ("region", eid.sp_table("loa-eid", "swedish-eid", "")),
            ("region", sambi.sp_table("loa-sambi", "sambi", "")),
        ],
        &[&eid, &sambi],
    )
    .await;
    let anna = Agent::with_certificate("anna");
    for (sp, loa) in [(&eid, EID_LOA4), (&sambi, EID_LOA3), (&eid, SAMBI_LOA3)] {
        let (result, _) = error_response(
            &saml,
            &anna,
            sp,
            json!({ "binding": "redirect", "loa": loa }),
        )
        .await;
        assert_eq!(
            status_codes(&result),
            [STATUS_REQUESTER, STATUS_NO_AUTHN_CONTEXT],
            "{} asking for {loa}: {result:#}",
            sp.entity_id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_passive_without_a_session_is_answered_with_no_passive() {
    let (saml, sp) = idp_with("passive", "").await;
    let anna = Agent::with_certificate("anna");
    for binding in ["redirect", "post"] {
        let (result, login_page_shown) = error_response(
            &saml,
            &anna,
            &sp,
            json!({ "binding": binding, "is_passive": true }),
        )
        .await;
        assert!(!login_page_shown, "IsPassive: never a login page");
        assert_eq!(
            status_codes(&result),
            [STATUS_RESPONDER, STATUS_NO_PASSIVE],
            "{result:#}"
        );
    }
    assert_no_session(&anna);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_name_id_format_is_answered_with_invalid_name_id_policy() {
    let (saml, sp) = idp_with("nameid-policy", "").await;
    let anna = Agent::with_certificate("anna");
    let (result, _) = error_response(
        &saml,
        &anna,
        &sp,
        json!({ "binding": "redirect", "name_id_format": "emailAddress" }),
    )
    .await;
    assert_eq!(
        status_codes(&result),
        [STATUS_REQUESTER, STATUS_INVALID_NAME_ID_POLICY],
        "{result:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_or_forged_logout_request_ends_no_session() {
    let (saml, sp) = idp_with("logout-forgery", "").await;
    let anna = Agent::with_certificate("anna");
    let login = log_in(&saml.idp, &anna, &sp, json!({ "binding": "redirect" })).await;
    assert_eq!(login.result["status"], "ok", "{:#}", login.result);

    for (options, code) in [
        (
            json!({ "binding": "redirect", "sign": false }),
            "SAML_SIGNATURE_REQUIRED",
        ),
        (
            json!({ "binding": "post", "sign": false }),
            "SAML_SIGNATURE_REQUIRED",
        ),
        (
            json!({ "binding": "redirect", "signing_key": "other" }),
            "SAML_SIGNATURE_INVALID",
        ),
        (
            json!({ "binding": "post", "signing_key": "other" }),
            "SAML_SIGNATURE_INVALID",
        ),
    ] {
        let logout = sp.logout_request(options.clone()).await;
        let page = refusal(&anna, &logout).await;
        if let Err(problem) = check_refused(&page, code) {
            panic!("{options}: {problem}");
        }
    }

    // Anna is still logged in: the next login needs no page.
    assert!(anna.cookie("localhost", SSO_COOKIE).is_some());
    let again = log_in(&saml.idp, &anna, &sp, json!({ "binding": "post" })).await;
    assert!(!again.login_page_shown, "the SSO session survived");
    assert_eq!(again.name_id(), login.name_id());
}
