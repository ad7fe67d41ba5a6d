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
