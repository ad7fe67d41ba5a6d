//! How an authorization request steers the login: max_age, ui_locales, login_hint.

use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::oidc::*;
use e2e::{SqliteDatabase, TestIdp};
use idp::clock::{Clock, ManualClock, SystemClock};
use std::sync::Arc;

#[tokio::test]
async fn max_age_asks_for_a_new_login_when_the_session_is_older() {
    let db = SqliteDatabase::create().unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let idp = TestIdp::start_with_clock(shipped_config(&db.url, None), Arc::new(clock.clone()))
        .await
        .unwrap();
    let browser = Agent::with_certificate("david");
    let (_, challenge) = pkce();
    let first = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    browse_to_callback(&browser, &idp, &first, CONFIDENTIAL).await;
    clock.advance(time::Duration::seconds(120));

    let recent_enough = authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid",
        Some(&challenge),
        &[("max_age", "600")],
    );
    assert!(browser
        .open_until(&recent_enough, &callback(CONFIDENTIAL))
        .await
        .is_ok());
    let too_old = authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid",
        Some(&challenge),
        &[("max_age", "60")],
    );
    let page = browser
        .open_until(&too_old, &callback(CONFIDENTIAL))
        .await
        .expect_err("a login page");
    assert_eq!(page.url.path(), "/login");
    let too_old_silently = authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid",
        Some(&challenge),
        &[("max_age", "60"), ("prompt", "none")],
    );
    let landed = browser
        .open_until(&too_old_silently, &callback(CONFIDENTIAL))
        .await
        .unwrap();
    assert_eq!(param(&landed, "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn ui_locales_choose_the_login_pages_language() {
    let (idp, _db) = crate::oidc_flow::idp().await;
    let (_, challenge) = pkce();
    let url = authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid",
        Some(&challenge),
        &[("ui_locales", "en-GB sv")],
    );
    let page = Agent::new()
        .open_until(&url, &callback(CONFIDENTIAL))
        .await
        .expect_err("a login page");
    assert_eq!(page.url.path(), "/login");
    assert_eq!(param(&page.url, "lang").as_deref(), Some("en"));
    assert!(page.body.contains("lang=\"en\""), "{}", page.body);
}

#[tokio::test]
async fn a_login_hint_admits_only_the_person_it_names() {
    let (idp, _db) = crate::oidc_flow::idp().await;
    let (_, challenge) = pkce();
    // Storstad's portal is open to Storstad only; Cecilia works there too.
    let url = authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid",
        Some(&challenge),
        &[("login_hint", "SE2120008889-cec03")],
    );
    let browser = Agent::with_certificate("david");
    let login_page = browser
        .open_until(&url, &callback(CONFIDENTIAL))
        .await
        .expect_err("a login page");
    let page = browser
        .log_in_until(&idp, &login_page, &callback(CONFIDENTIAL))
        .await
        .expect_err("David may not complete Cecilia's login");
    assert_eq!(page.error_code(), Some("USER_MISMATCH"), "{}", page.body);
}

const LOA2: &str = "http://id.elegnamnden.se/loa/1.0/loa2";
const LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";
const SAMBI_LOA2: &str = "http://id.sambi.se/loa/loa2";

#[tokio::test]
async fn acr_values_are_enforced_and_the_acr_is_one_the_client_asked_for() {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    // Helena (the region's, admitted to Lillby's home-care app by the region's grant) has a
    // certificate that gives LoA 2.
    let helena = Agent::with_certificate("helena");

    // Asked for LoA 3 only: her login cannot reach it, and the client hears so.
    let (_, challenge) = pkce();
    let loa3 = authorize_url(
        &idp,
        PUBLIC,
        "openid",
        Some(&challenge),
        &[("acr_values", LOA3)],
    );
    let landed = browse_to_callback(&helena, &idp, &loa3, PUBLIC).await;
    assert_eq!(
        param(&landed, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    assert_eq!(param(&landed, "state").as_deref(), Some("st"));
    assert!(param(&landed, "code").is_none());

    // Her LoA 2 session does not answer a LoA 3 request by single sign-on either: the IdP
    // asks for a new login (a step up) instead of issuing a code.
    let again = helena.open_until(&loa3, &callback(PUBLIC)).await;
    assert!(
        again.is_err(),
        "a code from a session below the level asked for"
    );

    // Asked for LoA 2 in Sambi's URI: SSO answers, and the acr is that very URI.
    let (verifier, challenge) = pkce();
    let sambi = authorize_url(
        &idp,
        PUBLIC,
        "openid",
        Some(&challenge),
        &[("acr_values", &format!("{LOA3} {SAMBI_LOA2}"))],
    );
    let landed = helena
        .open_until(&sambi, &callback(PUBLIC))
        .await
        .expect("single sign-on at LoA 2");
    let (status, tokens, _) =
        exchange_public(&idp, &param(&landed, "code").unwrap(), &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let (_, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], SAMBI_LOA2);

    // Without acr_values the acr is the Swedish eID URI of the level reached.
    let (verifier, challenge) = pkce();
    let plain = authorize_url(&idp, PUBLIC, "openid", Some(&challenge), &[]);
    let landed = helena.open_until(&plain, &callback(PUBLIC)).await.unwrap();
    let (_, tokens, _) = exchange_public(&idp, &param(&landed, "code").unwrap(), &verifier).await;
    let (_, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], LOA2);

    // Only unknown values: nothing can meet them.
    let unknown = authorize_url(
        &idp,
        PUBLIC,
        "openid",
        Some(&challenge),
        &[("acr_values", "urn:example:loa:9")],
    );
    let landed = helena
        .open_until(&unknown, &callback(PUBLIC))
        .await
        .unwrap();
    assert_eq!(
        param(&landed, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
}

/// The shipped configuration with the tenant files copied and `edit`ed (file name, text).
fn config_with_tenants(
    db_url: &str,
    edit: impl Fn(&str, String) -> String,
) -> (idp::config::LoadedConfig, tempfile::TempDir) {
    let mut config = shipped_config(db_url, None);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(e2e::repo_root().join("config/tenants")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = edit(&name, std::fs::read_to_string(&path).unwrap());
        std::fs::write(dir.path().join(&name), text).unwrap();
    }
    config.tenant_files = idp::config::TenantFiles::read(dir.path(), &config.idp);
    assert!(
        config.tenant_files.problems.0.is_empty(),
        "{}",
        config.tenant_files.problems
    );
    (config, dir)
}

/// Whether `browser` gets a code by single sign-on (no login page).
async fn signs_on(browser: &Agent, idp: &TestIdp) -> bool {
    let (_, challenge) = pkce();
    let url = authorize_url(idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    browser
        .open_until(&url, &callback(CONFIDENTIAL))
        .await
        .is_ok_and(|landed| param(&landed, "code").is_some())
}

#[tokio::test]
async fn an_unused_session_ends_after_the_idle_timeout_and_use_keeps_it_going() {
    let db = SqliteDatabase::create().unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let mut config = shipped_config(&db.url, None);
    config.idp.session.sso_idle_timeout_seconds = 30 * 60;
    let idp = TestIdp::start_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap();
    let browser = Agent::with_certificate("david");
    let (_, challenge) = pkce();
    let first = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    browse_to_callback(&browser, &idp, &first, CONFIDENTIAL).await;

    // Used every 20 minutes, the session goes on past the idle timeout of 30.
    for _ in 0..3 {
        clock.advance(time::Duration::minutes(20));
        assert!(
            signs_on(&browser, &idp).await,
            "single sign-on while in use"
        );
    }
    // Then 31 minutes untouched: the next application asks for a login.
    clock.advance(time::Duration::minutes(31));
    assert!(!signs_on(&browser, &idp).await, "an idle session signed on");
}

#[tokio::test]
async fn a_shared_workstation_tenant_keeps_the_idle_timeout_short_and_the_cookie_dies_with_the_browser(
) {
    let db = SqliteDatabase::create().unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let (mut config, _tenants) = config_with_tenants(&db.url, |name, text| {
        if name == "storstad.toml" {
            format!("{text}\n[session]\nshared_workstations = true\n")
        } else {
            text
        }
    });
    config.idp.session.sso_idle_timeout_seconds = 2 * 3600;
    config.idp.session.shared_workstation_idle_timeout_seconds = 10 * 60;
    let idp = TestIdp::start_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap();
    // David works for Storstad, whose staff share ward computers.
    let browser = Agent::with_certificate("david");
    let (_, challenge) = pkce();
    let first = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    browse_to_callback(&browser, &idp, &first, CONFIDENTIAL).await;
    clock.advance(time::Duration::minutes(9));
    assert!(signs_on(&browser, &idp).await);
    clock.advance(time::Duration::minutes(11));
    assert!(
        !signs_on(&browser, &idp).await,
        "past the shared-workstation timeout"
    );

    // The SSO cookie is a browser-session cookie: no Max-Age, no Expires.
    let cookie = idp
        .state
        .sso_cookie_replacing(&Default::default(), "some-session")
        .await
        .unwrap()
        .unwrap();
    let cookie = cookie.to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-idp_sso=some-session;"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Expires"),
        "{cookie}"
    );
}
