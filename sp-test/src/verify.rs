//! `sp-test verify`: checks one application registration end to end, as an organisation
//! admin does after onboarding. It starts a login at the application (served by
//! `sp-test serve`), follows the browser's way to the IdP, logs in with the mobile app
//! (the reference phone, with a development certificate), comes back to the application
//! and checks the result: status, signature, audience and recipient (the SP's checks),
//! LoA, the expected attributes present and nothing unexpected released; then logs out.
//! Every step is reported; the first failure names the step and why.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::phone::{Phone, PhoneCredential, Start};

/// What to verify.
pub struct VerifyRequest {
    /// `https://localhost:9443/sp/<id>/` (the application's page on sp-test).
    pub app_url: Url,
    /// The IdP's base URL.
    pub idp_url: Url,
    pub credential: PhoneCredential,
    /// LoA URI the application must receive, if checked.
    pub expected_loa: Option<String>,
    /// Attribute names that must be present.
    pub required_attributes: Vec<String>,
    /// Attribute names that may be released; anything else is a failure (empty: any).
    pub allowed_attributes: Vec<String>,
    pub client: reqwest::Client,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub application: String,
    pub ok: bool,
    pub steps: Vec<Step>,
    /// What the application received (when the login got that far).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<Value>,
}

impl Report {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut out = format!("Verifying {}\n", self.application);
        for step in &self.steps {
            let mark = if step.ok { "ok  " } else { "FAIL" };
            out.push_str(&format!("  [{mark}] {:<12} {}\n", step.name, step.detail));
        }
        out.push_str(if self.ok {
            "Result: login works for this application.\n"
        } else {
            "Result: FAILED (see the step marked FAIL).\n"
        });
        out
    }
}

struct Run {
    steps: Vec<Step>,
}

impl Run {
    fn ok(&mut self, name: &'static str, detail: impl Into<String>) {
        self.steps.push(Step {
            name,
            ok: true,
            detail: detail.into(),
        });
    }

    fn fail(&mut self, name: &'static str, detail: impl Into<String>) {
        self.steps.push(Step {
            name,
            ok: false,
            detail: detail.into(),
        });
    }
}

/// Runs the verification; never panics, always reports.
pub async fn verify(request: &VerifyRequest) -> Report {
    let mut run = Run { steps: Vec::new() };
    let login = match steps(request, &mut run).await {
        Ok(login) => Some(login),
        Err((step, detail)) => {
            run.fail(step, detail);
            None
        }
    };
    Report {
        application: request.app_url.to_string(),
        ok: run.steps.iter().all(|s| s.ok),
        steps: run.steps,
        login,
    }
}

type StepResult<T> = Result<T, (&'static str, String)>;

async fn steps(request: &VerifyRequest, run: &mut Run) -> StepResult<Value> {
    let browser = Browser::new(request.client.clone());
    let at = |step: &'static str| move |e: String| (step, e);
    let idp_origin = request.idp_url.origin();

    // 1. The application sends the browser to the IdP, which asks for a login.
    let start_url = request
        .app_url
        .join("login")
        .map_err(|e| ("start", e.to_string()))?;
    let first = browser.get(&start_url).await.map_err(at("start"))?;
    let to_idp = first
        .location()
        .filter(|l| l.origin() == idp_origin)
        .ok_or((
            "start",
            format!("{start_url} did not redirect to the IdP ({})", first.status),
        ))?;
    run.ok(
        "start",
        format!("the application sent the browser to {}", to_idp.path()),
    );
    let at_idp = browser.get(&to_idp).await.map_err(at("request"))?;
    let at_idp = browser
        .follow(at_idp, |u| u.origin() == idp_origin && u.path() != "/login")
        .await
        .map_err(at("request"))?;
    if let Some(code) = at_idp.idp_error() {
        return Err(("request", format!("the IdP refused the request: {code}")));
    }
    let login_page = at_idp.location().filter(|u| u.path() == "/login").ok_or((
        "request",
        format!(
            "expected the IdP's login page, got {} {}",
            at_idp.status, at_idp.url
        ),
    ))?;
    let login_id = login_page
        .query_pairs()
        .find(|(k, _)| k == "login")
        .map(|(_, v)| v.into_owned())
        .ok_or(("request", "the login page names no login".to_owned()))?;
    let page = browser.get(&login_page).await.map_err(at("request"))?;
    if page.status != StatusCode::OK {
        return Err((
            "request",
            format!("the login page answered {}", page.status),
        ));
    }
    run.ok(
        "request",
        "the IdP accepted the request and shows its login page",
    );

    // 2. Mobile app login with the reference phone.
    let mobile_start = request
        .idp_url
        .join("/login/mobile/start")
        .map_err(|e| ("mobile", e.to_string()))?;
    let started = browser
        .request(
            Method::POST,
            &mobile_start,
            None,
            Some(&json!({ "login": login_id })),
        )
        .await
        .map_err(at("mobile"))?;
    let started: Value =
        serde_json::from_str(&started.body).map_err(|e| ("mobile", format!("start: {e}")))?;
    let (Some(order), Some(token)) = (
        started["order_ref"].as_str(),
        started["autostart_token"].as_str(),
    ) else {
        return Err((
            "mobile",
            format!("the IdP did not start an order: {started}"),
        ));
    };
    let phone = Phone::with_client(request.idp_url.as_str(), request.client.clone());
    let (shown, claim) = phone
        .claim(
            &Start::AutostartToken(token.to_owned()),
            &request.credential,
        )
        .await
        .map_err(|e| ("phone", e.to_string()))?;
    phone
        .approve(&claim, &request.credential)
        .await
        .map_err(|e| ("phone", e.to_string()))?;
    run.ok(
        "phone",
        format!("the app showed \"{}\" and approved", shown.text_en),
    );
    let collect_url = request
        .idp_url
        .join(&format!("/login/mobile/collect?order={order}"))
        .map_err(|e| ("collect", e.to_string()))?;
    let collected = browser.get(&collect_url).await.map_err(at("collect"))?;
    let collected: Value =
        serde_json::from_str(&collected.body).map_err(|e| ("collect", e.to_string()))?;
    if collected["status"] != "complete" {
        return Err((
            "collect",
            format!("the login did not complete: {collected}"),
        ));
    }
    let resume = collected["redirect"]
        .as_str()
        .and_then(|r| request.idp_url.join(r).ok())
        .ok_or(("collect", "no resume address".to_owned()))?;
    run.ok("login", "the mobile login completed");

    // 3. Back to the application with the response: a SAML form to post, or OIDC
    //    redirects to the application's callback.
    let resumed = browser.get(&resume).await.map_err(at("response"))?;
    if let Some(code) = resumed.idp_error() {
        return Err((
            "response",
            format!("the IdP refused to answer the application: {code}"),
        ));
    }
    let app_origin = request.app_url.origin();
    if let Some((action, fields)) = resumed.form() {
        if action.origin() != app_origin {
            return Err((
                "response",
                format!("the response goes to {action}, not to the application"),
            ));
        }
        let acs = browser
            .request(Method::POST, &action, Some(&fields), None)
            .await
            .map_err(at("acs"))?;
        if !acs.status.is_redirection() {
            return Err((
                "acs",
                format!(
                    "the application refused the response ({}): {}",
                    acs.status,
                    error_detail(&acs.body)
                ),
            ));
        }
        run.ok("acs", "the application accepted the response (status, signature, destination, audience, recipient, validity)");
    } else {
        let landed = browser
            .follow(resumed, |u| {
                u.origin() == idp_origin || u.origin() == app_origin
            })
            .await
            .map_err(at("callback"))?;
        if let Some(code) = landed.idp_error() {
            return Err((
                "callback",
                format!("the IdP refused to answer the application: {code}"),
            ));
        }
        if landed.url.origin() != app_origin || landed.status != StatusCode::OK {
            return Err((
                "callback",
                format!(
                    "the application refused the login ({} {}): {}",
                    landed.status,
                    landed.url,
                    error_detail(&landed.body)
                ),
            ));
        }
        run.ok("callback", "the application exchanged the code and validated the ID token (signature, issuer, audience, nonce, at_hash) and read UserInfo");
    }

    let session_url = request
        .app_url
        .join("session.json")
        .map_err(|e| ("result", e.to_string()))?;
    let session = browser.get(&session_url).await.map_err(at("result"))?;
    let login: Value =
        serde_json::from_str(&session.body).map_err(|e| ("result", e.to_string()))?;
    if login["logged_in"] != true {
        return Err((
            "result",
            "the application shows no logged-in user".to_owned(),
        ));
    }
    check_result(request, &login, run)?;

    // 4. Logout.
    let logout = browser
        .get(
            &request
                .app_url
                .join("logout")
                .map_err(|e| ("logout", e.to_string()))?,
        )
        .await
        .map_err(at("logout"))?;
    let done = browser
        .follow(logout, |_| true)
        .await
        .map_err(at("logout"))?;
    let after = browser.get(&session_url).await.map_err(at("logout"))?;
    let after: Value = serde_json::from_str(&after.body).map_err(|e| ("logout", e.to_string()))?;
    if after["logged_in"] != false
        || !(done.body.contains("Logged out") || done.body.contains("Not logged in"))
    {
        return Err((
            "logout",
            format!(
                "the application still has a login after logout ({})",
                done.status
            ),
        ));
    }
    run.ok(
        "logout",
        "single logout ended the login at the application and the IdP",
    );
    Ok(login)
}

/// The error text the test applications put on their failure pages.
fn error_detail(body: &str) -> String {
    body.split("id=\"error\"")
        .nth(1)
        .and_then(|r| r.split('>').nth(1))
        .and_then(|r| r.split('<').next())
        .unwrap_or(body)
        .chars()
        .take(300)
        .collect()
}

fn check_result(request: &VerifyRequest, login: &Value, run: &mut Run) -> StepResult<()> {
    let loa = login["loa"].as_str().unwrap_or_default();
    match &request.expected_loa {
        Some(expected) if expected != loa => {
            return Err((
                "loa",
                format!("the application received LoA {loa}, expected {expected}"),
            ))
        }
        _ => run.ok("loa", loa.to_owned()),
    }
    let names: Vec<String> = login["attributes"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let missing: Vec<&String> = request
        .required_attributes
        .iter()
        .filter(|a| !names.contains(a))
        .collect();
    if !missing.is_empty() {
        return Err(("attributes", format!("missing: {missing:?}")));
    }
    let unexpected: Vec<&String> = names
        .iter()
        .filter(|n| {
            !request.allowed_attributes.is_empty() && !request.allowed_attributes.contains(n)
        })
        .collect();
    if !unexpected.is_empty() {
        return Err((
            "attributes",
            format!("released but not expected: {unexpected:?}"),
        ));
    }
    run.ok(
        "attributes",
        format!("{} attributes, all expected", names.len()),
    );
    Ok(())
}

/// A client for verify: the given CA trusted, no redirects followed by itself.
pub fn client(ca_pem: Option<&[u8]>) -> Result<reqwest::Client, String> {
    idp::server::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20));
    if let Some(pem) = ca_pem {
        let certificate = reqwest::Certificate::from_pem(pem).map_err(|e| e.to_string())?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|e| e.to_string())
}
