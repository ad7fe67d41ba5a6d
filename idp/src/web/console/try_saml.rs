//! "Try a login" for a SAML SP: the console sends an AuthnRequest as the SP (Redirect
//! binding, unsigned: it holds no SP key) through the real SSO engine with the admin's
//! SSO session, and reads what comes back: the status, the Response signature (checked
//! with the IdP's own certificate when the Response is signed), the assertion's
//! audience, recipient, LoA and attributes (unless it is encrypted for the SP).

use super::session::Admin;
use super::try_login::{check, Step};
use crate::saml::sso::{authn_request, Answer, SamlContext};
use crate::saml::xml::{self, ExpectedRoot, Tree, SAMLP_NS, SAML_NS};
use crate::session::random_key;
use crate::tenants::SamlServiceProvider;
use crate::web::AppState;
use base64::Engine as _;

/// The AuthnRequest the console sends as `sp`.
fn authn_request_xml(
    sp: &SamlServiceProvider,
    destination: &str,
    id: &str,
    now: time::OffsetDateTime,
) -> String {
    let instant = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    use crate::saml::canonical::{escape_attribute, escape_text};
    // Written as the SP would: the IdP's own inbound gate and parser read it.
    let mut xml = String::from("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"");
    xml.push_str(&format!(
        " ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\""
    ));
    escape_attribute(&mut xml, destination);
    xml.push_str("\"><saml:Issuer>");
    escape_text(&mut xml, sp.entity_id.as_str());
    xml.push_str("</saml:Issuer></samlp:AuthnRequest>");
    xml
}

pub async fn play(state: &AppState, admin: &Admin, sp: &SamlServiceProvider) -> Vec<Step> {
    let mut steps = Vec::new();
    let destination = state.saml.sso_url.clone();
    let request_id = format!("_try{}", random_key());
    let now = state.clock.now();
    let request = authn_request_xml(sp, &destination, &request_id, now);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLRequest", &xml::redirect::encode_message(&request))
        .finish();
    steps.push(Step::new(
        "console.try.step.request",
        true,
        vec![
            format!("Issuer: {}", sp.entity_id),
            "HTTP-Redirect, unsigned".to_owned(),
        ],
        Some(request),
    ));
    let max = state.config.idp.saml.max_message_bytes;
    let received = match crate::saml::inbound::from_redirect(&query, max) {
        Ok(received) => received,
        Err(e) => {
            steps.push(Step::new(
                "console.try.step.login",
                false,
                vec![format!("{e} ({})", e.code())],
                None,
            ));
            return steps;
        }
    };
    let ctx = SamlContext {
        idp: &state.saml,
        sessions: &state.sso_sessions,
        pending: &state.pending_logins,
        directory: state.directory.as_ref(),
        db: &state.db,
        metrics: &state.metrics,
        now,
        request_id: None,
        client_address: None,
        browser: None,
    };
    let response = match authn_request(&ctx, &received, Some(&admin.sso_session_id)).await {
        Ok(Answer::Post(form)) => form
            .fields
            .iter()
            .find(|(name, _)| *name == "SAMLResponse")
            .and_then(|(_, value)| {
                base64::engine::general_purpose::STANDARD
                    .decode(value.as_str())
                    .ok()
            })
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(|xml| (form.action.clone(), xml)),
        Ok(Answer::Login { .. } | Answer::Commission { .. }) => {
            steps.push(Step::new(
                "console.try.step.login",
                false,
                vec!["the service needs a new login or a commission choice: log in to it from its own page".into()],
                None,
            ));
            return steps;
        }
        Ok(Answer::Redirect(_)) => None,
        Err(e) => {
            let mut lines = vec![format!("{e} ({})", e.code())];
            if e.code().contains("SIGN") {
                lines.push("the service requires signed requests; the console holds no key of the service: check it with sp-test verify".into());
            }
            steps.push(Step::new("console.try.step.login", false, lines, None));
            return steps;
        }
    };
    let Some((acs, response)) = response else {
        steps.push(Step::new(
            "console.try.step.login",
            false,
            vec!["no SAML Response came back".into()],
            None,
        ));
        return steps;
    };
    steps.push(Step::new(
        "console.try.step.login",
        true,
        vec![
            "single sign-on with your login".into(),
            format!("to the ACS {acs}"),
        ],
        None,
    ));
    steps.push(read_response(state, &response, &request_id, sp));
    steps
}

/// The Response's checks: status, signature, InResponseTo, audience, LoA, attributes.
fn read_response(
    state: &AppState,
    response: &str,
    request_id: &str,
    sp: &SamlServiceProvider,
) -> Step {
    let Ok(doc) = xml::parse(response) else {
        return Step::new(
            "console.try.step.response",
            false,
            vec!["the Response does not parse".into()],
            Some(response.to_owned()),
        );
    };
    let tree = Tree::new(&doc);
    let Some(root) = tree.root() else {
        return Step::new(
            "console.try.step.response",
            false,
            vec!["no root element".into()],
            Some(response.to_owned()),
        );
    };
    let mut lines = Vec::new();
    let status = tree
        .child(root, SAMLP_NS, "Status")
        .and_then(|s| tree.child(s, SAMLP_NS, "StatusCode"))
        .and_then(|c| tree.attribute(c, "Value"))
        .unwrap_or_default();
    let success = status.ends_with(":Success");
    lines.push(check(success, &format!("status {status}")));
    lines.push(check(
        tree.attribute(root, "InResponseTo") == Some(request_id),
        "InResponseTo = the request's ID",
    ));
    if xml::has_signature(response) {
        let certificates: Vec<Vec<u8>> = std::iter::once(&state.saml.key)
            .chain(state.saml.ecdsa_key.as_ref())
            .map(|key| key.certificate_der().to_vec())
            .collect();
        let verified = xml::verify_enveloped(
            response,
            &certificates,
            ExpectedRoot::new(SAMLP_NS, "Response"),
        )
        .is_ok();
        lines.push(check(
            verified,
            "Response signature (the IdP's certificate)",
        ));
    } else {
        lines.push("Response not signed (the assertion is)".into());
    }
    let mut ok = success;
    if tree.child(root, SAML_NS, "EncryptedAssertion").is_some() {
        lines.push(
            "the assertion is encrypted for the service: only the service can read its attributes"
                .into(),
        );
    } else if let Some(assertion) = tree.child(root, SAML_NS, "Assertion") {
        let audience = tree
            .child(assertion, SAML_NS, "Conditions")
            .and_then(|c| tree.child(c, SAML_NS, "AudienceRestriction"))
            .and_then(|a| tree.child(a, SAML_NS, "Audience"))
            .map(|a| tree.text(a))
            .unwrap_or_default();
        let audience_ok = audience == sp.entity_id.as_str();
        ok &= audience_ok;
        lines.push(check(audience_ok, &format!("Audience = {audience}")));
        let loa = tree
            .child(assertion, SAML_NS, "AuthnStatement")
            .and_then(|s| tree.child(s, SAML_NS, "AuthnContext"))
            .and_then(|c| tree.child(c, SAML_NS, "AuthnContextClassRef"))
            .map(|r| tree.text(r))
            .unwrap_or_default();
        lines.push(check(
            !loa.is_empty(),
            &format!("AuthnContextClassRef = {loa}"),
        ));
        if let Some(statement) = tree.child(assertion, SAML_NS, "AttributeStatement") {
            for attribute in tree.children(statement, SAML_NS, "Attribute") {
                let values: Vec<String> = tree
                    .children(attribute, SAML_NS, "AttributeValue")
                    .map(|v| tree.text(v))
                    .collect();
                lines.push(format!(
                    "{} = {}",
                    tree.attribute(attribute, "Name").unwrap_or_default(),
                    values.join(", ")
                ));
            }
        }
    } else {
        ok = false;
        lines.push(check(false, "an assertion"));
    }
    Step::new(
        "console.try.step.response",
        ok,
        lines,
        Some(response.to_owned()),
    )
}
