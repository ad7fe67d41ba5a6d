//! No login is answered before its audit record is durable: `idp serve` is killed
//! (SIGKILL, nothing flushed on the way out) while certificate logins run, and every
//! login whose answer a browser had received is found in the audit log afterwards.
//! Audit records are written in batches (group commit), so this is what shows that a
//! batch is committed before any of its logins is answered.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::Url;

use crate::deployment::browser::Browser;
use crate::{free_port, repo_root};

const CLIENT_ID: &str = "storstad-personal";
const REDIRECT_URI: &str = "https://localhost:9443/rp/storstad-personal/callback";
/// Concurrent browsers, each logging in again and again with its own new session.
const BROWSERS: usize = 8;
/// Certificate logins answered before the process is killed.
const ANSWERED_BEFORE_KILL: usize = 40;

/// One full certificate login in a new browser: authorize, the certificate on the mTLS
/// listener. The request id of the mTLS answer when the login was answered as a success
/// (a ticket to the main host); `Err` when it was not answered or refused.
async fn certificate_login(
    public_url: &Url,
    mtls_url: &Url,
    ca: &str,
    identity: &str,
) -> Result<String, String> {
    let loopback = ("localhost".to_owned(), ([127, 0, 0, 1], 0).into());
    let browser = Browser::new(ca, identity, &[loopback]);
    let challenge = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let mut authorize = public_url.join("/oidc/authorize").unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "st")
        .append_pair("nonce", "n0")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut page = browser.try_get(&authorize).await?;
    while let Some(next) = page
        .location
        .clone()
        .filter(|url| url.origin() == public_url.origin())
    {
        page = browser.try_get(&next).await?;
    }
    let login = page
        .url
        .query_pairs()
        .find(|(key, _)| key == "login")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| format!("no login page: {} {}", page.status, page.url))?;
    let mut mtls = mtls_url.join("/mtls/login").unwrap();
    mtls.query_pairs_mut().append_pair("login", &login);
    let answer = browser.try_get(&mtls).await?;
    match (&answer.location, &answer.request_id) {
        (Some(ticket), Some(id)) if ticket.origin() == public_url.origin() => Ok(id.clone()),
        _ => Err(format!(
            "the certificate login was not a success: {} {}",
            answer.status, answer.body
        )),
    }
}

#[test]
fn a_login_answered_before_the_process_is_killed_has_its_audit_record() {
    let (port, mtls_port, management_port) = (free_port(), free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("idp.db").display());
    let public_url = Url::parse(&format!("https://localhost:{port}")).unwrap();
    let mtls_url = Url::parse(&format!("https://localhost:{mtls_port}")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_idp"));
    for (name, _) in std::env::vars() {
        if name.starts_with("IDP_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .current_dir(repo_root())
        .arg("serve")
        .env("IDP_DATABASE_URL", &database)
        .env("IDP_PUBLIC_URL", public_url.as_str().trim_end_matches('/'))
        .env("IDP_LISTEN", format!("127.0.0.1:{port}"))
        .env("IDP__MTLS__LISTEN", format!("127.0.0.1:{mtls_port}"))
        .env(
            "IDP__MTLS__PUBLIC_URL",
            mtls_url.as_str().trim_end_matches('/'),
        )
        .env(
            "IDP__MANAGEMENT__LISTEN",
            format!("127.0.0.1:{management_port}"),
        )
        // One test client makes all the logins: no per-address limit.
        .env("IDP__LIMITS__RATES__LOGIN_STARTS_PER_MINUTE", "0")
        .env("IDP_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let users = repo_root().join("certs-dev/users");
    let ca = std::fs::read_to_string(repo_root().join("certs-dev/tls/tls-ca.pem")).unwrap();
    let identity = std::fs::read_to_string(users.join("david.key.pem")).unwrap()
        + &std::fs::read_to_string(users.join("david.chain.pem")).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (answered, failures_while_up) = rt.block_on(async {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let ready = format!("http://127.0.0.1:{management_port}/readyz");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the IdP never turned ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let answered = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let mut browsers = tokio::task::JoinSet::new();
        for _ in 0..BROWSERS {
            let (public_url, mtls_url) = (public_url.clone(), mtls_url.clone());
            let (ca, identity) = (ca.clone(), identity.clone());
            let (answered, failures) = (answered.clone(), failures.clone());
            browsers.spawn(async move {
                loop {
                    match certificate_login(&public_url, &mtls_url, &ca, &identity).await {
                        Ok(id) => answered.lock().unwrap().push(id),
                        Err(e) => {
                            failures.lock().unwrap().push(e);
                            return;
                        }
                    }
                }
            });
        }
        // Killed while the browsers are in the middle of their logins.
        let pid = child.id();
        let watcher = {
            let answered = answered.clone();
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(120);
                while answered.lock().unwrap().len() < ANSWERED_BEFORE_KILL {
                    assert!(Instant::now() < deadline, "too few logins were answered");
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let status = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .unwrap();
                assert!(status.success());
            })
        };
        let first_failure = tokio::time::timeout(Duration::from_secs(150), async {
            while browsers.join_next().await.is_some() {}
        })
        .await;
        watcher.await.unwrap();
        assert!(first_failure.is_ok(), "the browsers never stopped");
        let answered = answered.lock().unwrap().clone();
        let failures = failures.lock().unwrap().clone();
        (answered, failures)
    });
    let status = child.wait().unwrap();
    let mut log = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        use std::io::Read as _;
        let _ = stderr.read_to_string(&mut log);
    }
    assert!(!status.success(), "the IdP was killed: {status:?}\n{log}");
    assert!(
        answered.len() >= ANSWERED_BEFORE_KILL,
        "{} logins answered; failures: {failures_while_up:?}",
        answered.len()
    );
    // Each browser stopped at the kill: its failure is the lost connection, not a
    // refused login.
    for failure in &failures_while_up {
        assert!(
            !failure.contains("not a success"),
            "a login was refused while the IdP was up: {failure}\n{log}"
        );
    }

    // The audit log as the killed process left it on disk.
    let written = rt.block_on(async {
        let db = idp::storage::Database::connect(&database, 1).await.unwrap();
        let filter = idp::storage::AuditFilter {
            event: Some("login".to_owned()),
            outcome: Some("success".to_owned()),
            ..Default::default()
        };
        idp::storage::find_audit_events(&db, &filter, 100_000)
            .await
            .unwrap()
    });
    let recorded: std::collections::BTreeSet<String> = written
        .into_iter()
        .filter_map(|event| event.request_id)
        .collect();
    let lost: Vec<&String> = answered
        .iter()
        .filter(|id| !recorded.contains(*id))
        .collect();
    eprintln!(
        "logins answered before the kill: {}, with their audit record: {}, lost: {}",
        answered.len(),
        answered.len() - lost.len(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "answered logins without an audit record: {lost:?}"
    );
}
