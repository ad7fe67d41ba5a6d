//! Certificate login as a user (and curl, an independent TLS client) sees it: the mTLS
//! listener, the hop to the main host, the session cookie, the audit record, the error
//! pages, the login binding, and the trusted-proxy header.

use std::process::Command;

use e2e::idp_server::shipped_config;
use e2e::test_certs::dev_user;
use e2e::{repo_root, SqliteDatabase, TestIdp};
use idp::audit::Outcome;
use idp::storage::find_recent_audit_events;

struct Curl {
    status: u16,
    headers: String,
    body: String,
}

impl Curl {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

/// One request with curl (no redirects followed); `user` picks a certs-dev certificate.
fn curl(url: &str, user: Option<&str>, extra: &[&str]) -> Curl {
    curl_env(url, user, extra, &[])
}

/// [`curl`] with environment variables.
fn curl_env(url: &str, user: Option<&str>, extra: &[&str], env: &[(String, String)]) -> Curl {
    let dir = repo_root().join("certs-dev");
    let mut cmd = Command::new("curl");
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.current_dir(&dir)
        .args([
            "-sS",
            "--max-time",
            "20",
            "--cacert",
            "tls/tls-ca.pem",
            "-D",
            "-",
            "-w",
            "\n%{http_code}",
        ])
        .args(["-H", "Accept-Language: sv"]);
    if let Some(user) = user {
        cmd.args([
            "--cert",
            &format!("users/{user}.pem"),
            "--key",
            &format!("users/{user}.key.pem"),
        ]);
    }
    let out = cmd
        .args(extra)
        .arg(url)
        .output()
        .expect("curl is installed by tests/run");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (rest, status) = text.rsplit_once('\n').unwrap();
    let (headers, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    Curl {
        status: status.trim().parse().unwrap(),
        headers: headers.to_owned(),
        body: body.to_owned(),
    }
}

async fn idp() -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    (idp, db)
}

/// A login to the region's journal that a browser started (resuming at `resume`), and
/// that browser's binding secret.
async fn pending_login(
    idp: &TestIdp,
    resume: &str,
) -> (idp::login::PendingLogin, idp::login::BindingSecret) {
    idp.state
        .pending_logins
        .create(
            "region".parse().unwrap(),
            "journal".parse().unwrap(),
            resume.into(),
            None,
        )
        .await
        .unwrap()
}

/// `url` (an `/mtls/login` URL) for a login that a browser started on the main host
/// (to the region's journal): certificate logins exist only for started logins.
async fn started(idp: &TestIdp, url: String) -> String {
    let (pending, _) = pending_login(idp, "/session").await;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}login={}", pending.id)
}

/// curl runs as a blocking child process; keep the runtime's server responsive.
async fn curl_async(url: String, user: Option<&'static str>, extra: Vec<String>) -> Curl {
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        curl(&url, user, &extra)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_with_a_dev_certificate_completes_a_login_with_cookie_and_audit_record() {
    let (idp, _db) = idp().await;
    let (pending, secret) = pending_login(&idp, "/session").await;
    let url = idp.mtls_url(&format!("/mtls/login?login={}", pending.id));
    let first = curl_async(url, Some("anna"), vec![]).await;
    assert_eq!(first.status, 303, "{}", first.body);
    let location = first.header("location").unwrap();
    assert!(
        location.starts_with(&idp.url("/login/certificate/complete?ticket=")),
        "{location}"
    );
    let binding = format!("Cookie: __Host-idp_login={}", secret.0);

    let second = curl_async(location.clone(), None, vec!["-H".into(), binding.clone()]).await;
    assert_eq!(second.status, 303);
    assert_eq!(second.header("location").as_deref(), Some("/session"));
    let cookie = second.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-idp_sso="), "{cookie}");
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=None"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let session_cookie = cookie.split(';').next().unwrap().to_owned();

    let page = curl_async(
        idp.url("/session"),
        None,
        vec!["-H".into(), format!("Cookie: {session_cookie}")],
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Du är inloggad"), "{}", page.body);
    assert!(page.body.contains("Anna Andersson") && page.body.contains("SE2321009991-anna01"));
    assert!(page.body.contains("Region Exempelland"));

    // The ticket is single-use.
    let replay = curl_async(location, None, vec!["-H".into(), binding]).await;
    assert_eq!(replay.status, 400);
    assert_eq!(
        replay.header("x-idp-error").as_deref(),
        Some("LOGIN_EXPIRED")
    );

    let events = find_recent_audit_events(&idp.state.db, 10).await.unwrap();
    let login = events.iter().find(|e| e.event == "login").unwrap();
    assert_eq!(login.outcome, Outcome::Success);
    assert_eq!(login.method.as_deref(), Some("mtls"));
    assert_eq!(
        login.employee_hsa_id.as_deref(),
        Some("SE2321009991-anna01")
    );
    assert!(login
        .certificate_issuer
        .as_deref()
        .unwrap()
        .contains("HSA-id 3 CA"));
    assert!(login.certificate_serial.is_some() && login.request_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revoked_certificate_gets_the_revoked_page_and_an_audit_record() {
    let (idp, _db) = idp().await;
    let response = curl_async(
        started(&idp, idp.mtls_url("/mtls/login")).await,
        Some("fredrik"),
        vec![],
    )
    .await;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.header("x-idp-error").as_deref(),
        Some("CERT_REVOKED")
    );
    assert!(
        response.body.contains("Ditt certifikat har spärrats"),
        "{}",
        response.body
    );
    assert!(response.body.contains("<html lang=\"sv\">"));
    assert!(
        !response.body.contains("Revoked {"),
        "no internals on the page"
    );
    let events = find_recent_audit_events(&idp.state.db, 10).await.unwrap();
    assert_eq!(events[0].outcome, Outcome::Failure);
    assert_eq!(events[0].code.as_deref(), Some("CERT_REVOKED"));
    let metrics = idp.metrics();
    assert!(
        metrics.contains("method=\"mtls\",result=\"CERT_REVOKED\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expired_certificate_gets_the_expired_page_in_english_when_asked() {
    let (idp, _db) = idp().await;
    let response = curl_async(
        started(&idp, idp.mtls_url("/mtls/login?lang=en")).await,
        Some("gunilla"),
        vec![],
    )
    .await;
    assert_eq!(response.status, 403);
    assert!(
        response.body.contains("Your certificate has expired"),
        "{}",
        response.body
    );
    assert!(response.body.contains("CERT_EXPIRED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_the_page_explains_how_to_proceed() {
    let (idp, _db) = idp().await;
    let response = curl_async(
        started(&idp, idp.mtls_url("/mtls/login")).await,
        None,
        vec![],
    )
    .await;
    assert_eq!(response.status, 401);
    assert!(
        response.body.contains("Inget certifikat hittades"),
        "{}",
        response.body
    );
    assert!(response.body.contains("mobilappen"));
}

/// Every certificate login is a full handshake: the mTLS listener resumes no TLS
/// session, so a login always proves possession of the key (a card removed after the
/// first login cannot log in again from a resumed session). Issue 14, defect 15.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mtls_listener_never_resumes_a_tls_session() {
    let (idp, _db) = idp().await;
    let users = repo_root().join("certs-dev/users");
    let ca = repo_root().join("certs-dev/tls/tls-ca.pem");
    let connect = format!("127.0.0.1:{}", idp.mtls_addr.port());
    let output = tokio::task::spawn_blocking(move || {
        // TLS 1.2, where a session is resumed inside the handshake (session id or
        // ticket), so `-reconnect` shows resumption reliably when it is offered.
        Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &connect,
                "-servername",
                "localhost",
                "-tls1_2",
                "-reconnect",
            ])
            .arg("-cert")
            .arg(users.join("anna.pem"))
            .arg("-key")
            .arg(users.join("anna.key.pem"))
            .arg("-CAfile")
            .arg(&ca)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let handshakes = text.matches("New, TLSv1.2").count();
    assert!(handshakes >= 2, "expected several full handshakes:\n{text}");
    assert!(
        !text.contains("Reused,"),
        "a TLS session was resumed:\n{text}"
    );
}

/// A new login in the same browser ends the session it replaces: the old cookie's
/// session is gone server-side, and (the same person) its applications move to the new
/// session so that single logout still reaches them. Issue 14, defect 13.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_login_ends_the_session_it_replaces() {
    let (idp, _db) = idp().await;
    let browser = e2e::agent::Agent::with_certificate("anna");
    let log_in = || async {
        let page = browser
            .open(&idp.url("/login/start?app=region/journal"))
            .await;
        browser.log_in_with_certificate(&idp, &page).await;
        browser.cookie("localhost", "__Host-idp_sso").unwrap()
    };
    let first = log_in().await;
    let participant = idp::login::Participant {
        application: "storstad/personal".into(),
        protocol: idp::login::ParticipantProtocol::Oidc {
            client_id: "storstad-personal".into(),
        },
    };
    let first_session = idp.state.sso_sessions.find(&first).await.unwrap().unwrap();
    idp.state
        .sso_sessions
        .add_participant(&first_session, participant.clone())
        .await
        .unwrap()
        .unwrap();

    let second = log_in().await;
    assert_ne!(first, second, "a new login gets a new session");
    assert!(
        idp.state.sso_sessions.find(&first).await.unwrap().is_none(),
        "the replaced session still exists"
    );
    let current = idp.state.sso_sessions.find(&second).await.unwrap().unwrap();
    assert_eq!(current.participants, [participant]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mtls_listener_serves_only_certificate_login() {
    let (idp, _db) = idp().await;
    assert_eq!(
        curl_async(idp.mtls_url("/session"), None, vec![])
            .await
            .status,
        404
    );
    assert_eq!(
        curl_async(idp.mtls_url("/readyz"), None, vec![])
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_login_resumes_only_in_the_browser_that_started_it() {
    let (idp, _db) = idp().await;
    let (pending, secret) = pending_login(&idp, "/saml/resume?x=1").await;
    let url = idp.mtls_url(&format!("/mtls/login?login={}", pending.id));
    let first = curl_async(url.clone(), Some("anna"), vec![]).await;
    assert_eq!(first.status, 303, "{}", first.body);
    let complete = first.header("location").unwrap();

    // Another browser (no binding cookie) cannot complete it.
    let stranger = curl_async(complete.clone(), None, vec![]).await;
    assert_eq!(stranger.status, 400);
    assert_eq!(
        stranger.header("x-idp-error").as_deref(),
        Some("LOGIN_EXPIRED")
    );
    assert!(stranger.header("set-cookie").is_none());

    // The starting browser resumes the login that asked for it.
    let again = curl_async(url, Some("anna"), vec![]).await;
    let complete = again.header("location").unwrap();
    let owner = curl_async(
        complete,
        None,
        vec![
            "-H".into(),
            format!("Cookie: __Host-idp_login={}", secret.0),
        ],
    )
    .await;
    assert_eq!(owner.status, 303);
    assert_eq!(
        owner.header("location").as_deref(),
        Some("/saml/resume?x=1")
    );
    let done = idp
        .state
        .pending_logins
        .find(&pending.id)
        .await
        .unwrap()
        .unwrap();
    assert!(done.authenticated_session.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_organisation_is_not_connected_to_the_application_is_refused() {
    let (idp, _db) = idp().await;
    // Storstad's care records are open to Storstad and the region, not to Lillby (Eva).
    let (pending, _) = idp
        .state
        .pending_logins
        .create(
            "storstad".parse().unwrap(),
            "omsorg".parse().unwrap(),
            "/resume".into(),
            None,
        )
        .await
        .unwrap();
    let url = idp.mtls_url(&format!("/mtls/login?login={}", pending.id));
    let response = curl_async(url, Some("eva"), vec![]).await;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.header("x-idp-error").as_deref(),
        Some("USER_NOT_ALLOWED")
    );
    assert!(response
        .body
        .contains("Din organisation är inte ansluten till tjänsten"));
    // Anna (region) may use it.
    let (pending, _) = idp
        .state
        .pending_logins
        .create(
            "storstad".parse().unwrap(),
            "omsorg".parse().unwrap(),
            "/resume".into(),
            None,
        )
        .await
        .unwrap();
    let url = idp.mtls_url(&format!("/mtls/login?login={}", pending.id));
    assert_eq!(
        curl_async(url, Some("anna-mobile"), vec![]).await.status,
        303
    );
}

fn client_cert_header(user: &str) -> String {
    use base64::Engine;
    let leaf = dev_user(user).chain[0].clone();
    format!(
        "Client-Cert: :{}:",
        base64::engine::general_purpose::STANDARD.encode(leaf)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_header_is_accepted_from_a_configured_proxy_only() {
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    config.idp.mtls.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let trusted = TestIdp::start(config).await.unwrap();
    let response = curl_async(
        started(&trusted, trusted.url("/mtls/login")).await,
        None,
        vec!["-H".into(), client_cert_header("anna")],
    )
    .await;
    assert_eq!(response.status, 303, "{}", response.body);
    let events = find_recent_audit_events(&trusted.state.db, 5)
        .await
        .unwrap();
    assert_eq!(events[0].method.as_deref(), Some("mtls-proxy"));
    // Re-validated, never trusted: the proxy forwarding a revoked certificate changes nothing.
    let revoked = curl_async(
        started(&trusted, trusted.url("/mtls/login")).await,
        None,
        vec!["-H".into(), client_cert_header("fredrik")],
    )
    .await;
    assert_eq!(
        revoked.header("x-idp-error").as_deref(),
        Some("CERT_REVOKED")
    );

    let db2 = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db2.url, None);
    config.idp.mtls.trusted_proxies = vec!["10.9.9.9".parse().unwrap()];
    let untrusted = TestIdp::start(config).await.unwrap();
    let ignored = curl_async(
        started(&untrusted, untrusted.url("/mtls/login")).await,
        None,
        vec!["-H".into(), client_cert_header("anna")],
    )
    .await;
    assert_eq!(ignored.status, 401);
    assert_eq!(
        ignored.header("x-idp-error").as_deref(),
        Some("CERT_MISSING")
    );
    assert!(untrusted
        .metrics()
        .contains("idp_events_total{event=\"client_cert_header_untrusted\"} 1"));
}

/// A CRL in the hsaid3 CA's name that lists nobody.
fn empty_hsaid3_crl() -> Vec<u8> {
    use rcgen::{CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, SerialNumber};
    let dir = repo_root().join("certs-dev/ca");
    let key =
        KeyPair::from_pem(&std::fs::read_to_string(dir.join("hsaid3.key.pem")).unwrap()).unwrap();
    let issuer = Issuer::from_ca_cert_pem(
        &std::fs::read_to_string(dir.join("hsaid3.pem")).unwrap(),
        key,
    )
    .unwrap();
    let now = idp::clock::Clock::now(&idp::clock::SystemClock);
    let params = CertificateRevocationListParams {
        this_update: now - time::Duration::hours(1),
        next_update: now + time::Duration::days(7),
        crl_number: SerialNumber::from_slice(&[9]),
        issuing_distribution_point: None,
        revoked_certs: vec![],
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(&issuer)
        .unwrap()
        .pem()
        .unwrap()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_crl_takes_effect_on_trust_reload_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let crl = dir.path().join("hsaid3.crl.pem");
    std::fs::write(&crl, empty_hsaid3_crl()).unwrap();
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    let hsaid3 = config
        .idp
        .trust
        .issuers
        .iter_mut()
        .find(|i| i.name == "hsaid3")
        .unwrap();
    hsaid3.crl_file = Some(crl.clone());
    let idp = TestIdp::start(config).await.unwrap();

    let before = curl_async(
        started(&idp, idp.mtls_url("/mtls/login")).await,
        Some("fredrik"),
        vec![],
    )
    .await;
    assert_eq!(
        before.status, 303,
        "not yet revoked in the CRL in use: {}",
        before.body
    );

    std::fs::copy(repo_root().join("certs-dev/ca/hsaid3.crl.pem"), &crl).unwrap();
    let cached = curl_async(
        started(&idp, idp.mtls_url("/mtls/login")).await,
        Some("fredrik"),
        vec![],
    )
    .await;
    assert_eq!(
        cached.status, 303,
        "the CRL is cached until its nextUpdate or a reload"
    );

    idp::app::reload(&idp.state, &idp::app::TlsConfigs::default()).unwrap();
    let after = curl_async(
        started(&idp, idp.mtls_url("/mtls/login")).await,
        Some("fredrik"),
        vec![],
    )
    .await;
    assert_eq!(after.status, 403);
    assert_eq!(after.header("x-idp-error").as_deref(), Some("CERT_REVOKED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_open_decision_is_logged_counted_and_audited() {
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    e2e::idp_server::ocsp_only(
        &mut config,
        "hsaid3",
        e2e::revocation_peers::dead_url("/"),
        idp::auth::revocation::FailPolicy::FailOpen,
    );
    let idp = TestIdp::start(config).await.unwrap();

    let response = curl_async(
        started(&idp, idp.mtls_url("/mtls/login")).await,
        Some("anna"),
        vec![],
    )
    .await;
    assert_eq!(
        response.status, 303,
        "fail-open lets the login through: {}",
        response.body
    );
    let metrics = idp.metrics();
    assert!(
        metrics.contains("idp_events_total{event=\"revocation_fail_open\"} 1"),
        "{metrics}"
    );
    let events = find_recent_audit_events(&idp.state.db, 10).await.unwrap();
    let fail_open = events
        .iter()
        .find(|e| e.event == "revocation-fail-open")
        .expect("an audit record");
    assert!(
        fail_open.detail.as_deref().unwrap().contains("OCSP"),
        "{:?}",
        fail_open.detail
    );
    assert!(fail_open.certificate_serial.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_browser_logs_in_to_an_application_with_its_certificate() {
    let (idp, _db) = idp().await;
    let browser = e2e::agent::Agent::with_certificate("anna");
    let login_page = browser
        .open(&idp.url("/login/start?app=region/journal"))
        .await;
    assert_eq!(login_page.url.path(), "/login");
    let landed = browser.log_in_with_certificate(&idp, &login_page).await;
    assert_eq!(landed.url.path(), "/session");
    assert!(landed.body.contains("Anna"), "{}", landed.body);
    assert!(browser.cookie("localhost", "__Host-idp_sso").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_login_that_no_browser_started_hands_out_no_ticket() {
    let (idp, _db) = idp().await;
    // The attacker visits the mTLS listener with their own certificate and no login:
    // there is no ticket link to plant in a victim's browser.
    let bare = curl_async(idp.mtls_url("/mtls/login"), Some("anna"), vec![]).await;
    assert_eq!(bare.status, 400, "{}", bare.body);
    assert_eq!(
        bare.header("x-idp-error").as_deref(),
        Some("LOGIN_NOT_STARTED")
    );
    assert!(bare.header("location").is_none());
    assert!(bare.body.contains("Börja i tjänsten"), "{}", bare.body);
}

/// The login is answered where it completes: the certificate login's hop back to the
/// main host sets the session cookie and sends the browser straight to the client with
/// its code, without a stop at the login's resume path (a round trip fewer on a phone's
/// network).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hop_back_from_a_certificate_login_answers_the_client_itself() {
    use e2e::oidc::*;
    let (idp, _db) = idp().await;
    let browser = e2e::agent::Agent::with_certificate("david");
    let (verifier, challenge) = pkce();
    let login_page = browser
        .open(&authorize_url(
            &idp,
            CONFIDENTIAL,
            "openid",
            Some(&challenge),
            &[],
        ))
        .await;
    assert_eq!(login_page.url.path(), "/login", "{}", login_page.body);
    let ticket = browser
        .get(&idp.mtls_url(&format!("/mtls/login?login={}", login_page.login_id())))
        .await;
    let hop = ticket
        .location()
        .unwrap_or_else(|| panic!("{} {}", ticket.status, ticket.body));
    assert_eq!(hop.path(), "/login/certificate/complete");
    let answered = browser.get(hop.as_str()).await;
    assert!(
        answered.is_redirect(),
        "{} {}",
        answered.status,
        answered.body
    );
    let to_client = answered.location().unwrap();
    assert!(
        to_client.as_str().starts_with(&callback(CONFIDENTIAL)),
        "{to_client}"
    );
    assert!(browser.cookie("localhost", "__Host-idp_sso").is_some());
    let (status, _, _) =
        exchange_confidential(&idp, &param(&to_client, "code").unwrap(), &verifier).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_logins_waiting_side_by_side_in_one_browser_both_complete() {
    use e2e::oidc::*;
    let (idp, _db) = idp().await;
    let browser = e2e::agent::Agent::with_certificate("david");
    // Two tabs: the staff portal and the home-care app each send the browser to log in.
    let (verifier_a, challenge_a) = pkce();
    let (verifier_b, challenge_b) = pkce();
    let tab_a = browser
        .open(&authorize_url(
            &idp,
            CONFIDENTIAL,
            "openid",
            Some(&challenge_a),
            &[],
        ))
        .await;
    let tab_b = browser
        .open(&authorize_url(
            &idp,
            PUBLIC,
            "openid",
            Some(&challenge_b),
            &[],
        ))
        .await;
    assert!(tab_a.url.path() == "/login" && tab_b.url.path() == "/login");
    // The first tab's login completes although the second started after it...
    let landed_a = browser
        .log_in_until(&idp, &tab_a, &callback(CONFIDENTIAL))
        .await
        .unwrap_or_else(|page| panic!("tab A: {:?} {}", page.error_code(), page.body));
    let (status, _, _) =
        exchange_confidential(&idp, &param(&landed_a, "code").unwrap(), &verifier_a).await;
    assert_eq!(status, 200);
    // ...and so does the second.
    let landed_b = browser
        .log_in_until(&idp, &tab_b, &callback(PUBLIC))
        .await
        .unwrap_or_else(|page| panic!("tab B: {:?} {}", page.error_code(), page.body));
    let (status, _, _) =
        exchange_public(&idp, &param(&landed_b, "code").unwrap(), &verifier_b).await;
    assert_eq!(status, 200);
}

/// curl with a certificate chain and key of its own (written to a temporary directory),
/// its OpenSSL at security level 0 so that it uses even a weak key.
async fn curl_with(url: String, chain: &e2e::test_certs::TestChain) -> Curl {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("chain.pem");
    let key = dir.path().join("key.pem");
    let conf = dir.path().join("openssl.cnf");
    std::fs::write(&cert, chain.chain_pem()).unwrap();
    std::fs::write(&key, &chain.key_pem).unwrap();
    std::fs::write(
        &conf,
        "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = system\n\
         [system]\nCipherString = DEFAULT:@SECLEVEL=0\n",
    )
    .unwrap();
    let args = [
        "--cert".to_owned(),
        cert.display().to_string(),
        "--key".to_owned(),
        key.display().to_string(),
    ];
    let env = [("OPENSSL_CONF".to_owned(), conf.display().to_string())];
    let response = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        curl_env(&url, None, &args, &env)
    })
    .await
    .unwrap();
    drop(dir);
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_the_tls_layer_would_refuse_get_the_engines_page_instead_of_an_alert() {
    let (idp, _db) = idp().await;
    let factory = e2e::test_certs::Factory::new();
    // RSA-1024: the client's OpenSSL must be told to use so weak a key at all.
    let weak = curl_with(
        started(&idp, idp.mtls_url("/mtls/login")).await,
        &factory.rsa_1024(),
    )
    .await;
    assert_eq!(weak.status, 403, "{}", weak.body);
    assert_eq!(weak.header("x-idp-error").as_deref(), Some("CERT_WEAK_KEY"));

    // An unknown critical extension: webpki would have refused the handshake.
    let odd = curl_with(
        started(&idp, idp.mtls_url("/mtls/login")).await,
        &factory.unknown_critical_extension(),
    )
    .await;
    assert_eq!(odd.status, 403, "{}", odd.body);
    let code = odd.header("x-idp-error").unwrap();
    assert!(code.starts_with("CERT_"), "{code}");

    // Both refusals are audited like any login.
    let events = find_recent_audit_events(&idp.state.db, 5).await.unwrap();
    assert_eq!(events[1].code.as_deref(), Some("CERT_WEAK_KEY"));
    assert_eq!(events[0].code.as_deref(), Some(code.as_str()));
}
