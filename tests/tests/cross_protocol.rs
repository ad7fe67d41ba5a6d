//! One SSO session, two protocols: a login through a SAML SP gives an OIDC client a code
//! without a second login; SAML single logout ends the session and tells the OIDC
//! client over its back-channel; OIDC RP-initiated logout walks the browser through the
//! session's SAML SPs before returning to the client.

use std::sync::{Arc, Mutex};

use axum::routing::post;
use e2e::agent::Agent;
use e2e::oidc::{param, pkce};
use sp_test::saml_sp::SamlSp;

fn now() -> time::OffsetDateTime {
    use idp::clock::Clock;
    idp::clock::SystemClock.now()
}

/// Records back-channel logout tokens; `wait` returns once one has arrived.
struct BackChannel {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl BackChannel {
    async fn start() -> Self {
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(tokio::sync::Notify::new());
        let (t, a) = (tokens.clone(), arrived.clone());
        let app = axum::Router::new().route(
            "/bc",
            post(move |body: String| {
                let (t, a) = (t.clone(), a.clone());
                async move {
                    t.lock().unwrap().push(body);
                    a.notify_one();
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/bc",
            listener.local_addr().unwrap().port()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            tokens,
            arrived,
        }
    }

    async fn wait(&self) -> String {
        loop {
            if let Some(token) = self.tokens.lock().unwrap().first().cloned() {
                return token;
            }
            tokio::time::timeout(std::time::Duration::from_secs(10), self.arrived.notified())
                .await
                .expect("no back-channel logout arrived");
        }
    }
}

const CLIENT: &str = "cross-portal";

fn client_table(backchannel: &str) -> String {
    format!(
        "[[oidc_client]]\nid = \"cross-portal\"\ndisplay_name = {{ sv = \"Portalen\", en = \"Portal\" }}\n\
         client_id = \"{CLIENT}\"\ntoken_endpoint_auth_method = \"none\"\n\
         redirect_uris = [\"https://localhost:9443/rp/{CLIENT}/callback\"]\n\
         post_logout_redirect_uris = [\"https://localhost:9443/rp/{CLIENT}/\"]\n\
         backchannel_logout_uri = \"{backchannel}\"\nscopes = [\"openid\", \"profile\"]\n\
         user_tenants = [\"storstad\", \"region\"]\n"
    )
}

fn journal(saml: &e2e::saml::SamlIdp) -> SamlSp {
    SamlSp::with_dev_keys(
        &e2e::repo_root(),
        "https://localhost:9443/sp/region-journal",
        &saml.url(""),
        &saml.entity_id(),
        false,
    )
    .unwrap()
}

fn authorize(saml: &e2e::saml::SamlIdp, challenge: &str) -> String {
    let mut url = reqwest::Url::parse(&saml.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT)
        .append_pair(
            "redirect_uri",
            &format!("https://localhost:9443/rp/{CLIENT}/callback"),
        )
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile")
        .append_pair("state", "s1")
        .append_pair("nonce", "n1")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

async fn saml_then_oidc(saml: &e2e::saml::SamlIdp, browser: &Agent) -> sp_test::saml_sp::SamlLogin {
    let journal = journal(saml);
    let (url, request_id) = journal.login_url(None, false, now()).unwrap();
    let login_page = browser.open(&url).await;
    let posted = browser
        .log_in_with_certificate(&saml.idp, &login_page)
        .await;
    let form = posted.form().unwrap();
    let login = journal
        .consume(form.field("SAMLResponse").unwrap(), &request_id, now())
        .unwrap();

    // The OIDC client: a code straight away, no login page.
    let (_, challenge) = pkce();
    let callback = browser
        .open_until(&authorize(saml, &challenge), "https://localhost:9443/rp/")
        .await
        .unwrap_or_else(|page| {
            panic!(
                "a login page instead of a code: {} {}",
                page.url, page.status
            )
        });
    assert!(param(&callback, "code").is_some(), "{callback}");
    login
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_single_logout_ends_the_oidc_client_too() {
    let backchannel = BackChannel::start().await;
    let saml =
        e2e::saml::SamlIdp::start(&[("storstad", client_table(&backchannel.url))], &[]).await;
    let browser = Agent::with_certificate("anna");
    let login = saml_then_oidc(&saml, &browser).await;
    let sid = login.session_index.clone();

    let (logout, _) = journal(&saml).logout_url(&login, now()).unwrap();
    let answer = browser.get(&logout).await;
    assert!(answer.location().is_some_and(|l| l
        .as_str()
        .starts_with("https://localhost:9443/sp/region-journal/slo")));

    let token = backchannel.wait().await;
    let token = token.strip_prefix("logout_token=").unwrap();
    let (_, claims) = e2e::oidc::jwt_parts(token);
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(
        claims["sid"],
        sid.as_str(),
        "the same session in both protocols"
    );
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());

    // A new authorization needs a new login.
    let (_, challenge) = pkce();
    let page = browser
        .open_until(&authorize(&saml, &challenge), "https://localhost:9443/rp/")
        .await
        .expect_err("the session has ended");
    assert!(
        page.location().is_some_and(|l| l.path() == "/login") || page.url.path() == "/login",
        "{}",
        page.url
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_logout_walks_the_browser_through_the_saml_sps() {
    let backchannel = BackChannel::start().await;
    let saml =
        e2e::saml::SamlIdp::start(&[("storstad", client_table(&backchannel.url))], &[]).await;
    let browser = Agent::with_certificate("anna");
    let login = saml_then_oidc(&saml, &browser).await;

    let mut logout = reqwest::Url::parse(&saml.url("/oidc/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("client_id", CLIENT)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("https://localhost:9443/rp/{CLIENT}/"),
        )
        .append_pair("state", "bye");
    // Without an id_token_hint the IdP asks the user first; the user confirms.
    let question = browser.get(logout.as_str()).await;
    let confirm = question
        .form()
        .unwrap_or_else(|| panic!("a confirmation form: {} {}", question.status, question.body));
    // The IdP sends the browser to the SAML SP with a LogoutRequest first.
    let first = browser
        .request(
            reqwest::Method::POST,
            &confirm.action,
            Some(&confirm.fields),
        )
        .await;
    let to_sp = first
        .location()
        .unwrap_or_else(|| panic!("{} {}", first.status, first.body));
    assert!(
        to_sp
            .as_str()
            .starts_with("https://localhost:9443/sp/region-journal/slo?SAMLRequest="),
        "{to_sp}"
    );
    let journal = journal(&saml);
    let sp_answer = journal
        .slo_message(to_sp.query().unwrap(), now())
        .unwrap()
        .expect("a LogoutResponse");
    // The SP's answer brings the browser back; the IdP then returns it to the client.
    let back = browser.get(&sp_answer).await;
    let end = back
        .location()
        .unwrap_or_else(|| panic!("{} {}", back.status, back.body));
    assert_eq!(
        end.as_str(),
        format!("https://localhost:9443/rp/{CLIENT}/?state=bye")
    );
    assert!(browser.cookie("localhost", "__Host-idp_sso").is_none());
    let _ = login;
}
