//! The platform the product is built for: fifty organisations (`sp-test platform`: the
//! three development tenants and 47 generated municipalities of 20 applications each,
//! 946 applications). A login on it behaves exactly as on the three development
//! tenants: the same claims for the same person and application, the same refusal for
//! an application of another organisation, and every generated application served
//! (its metadata or registration loaded), not only the first ones.

use e2e::agent::Agent;
use e2e::idp_server::shipped_config_on;
use e2e::oidc::*;
use e2e::{SqliteDatabase, TestIdp};
use serde_json::Value;

/// An IdP on the tenant files of `tenants_dir` (imported at start, as the shipped
/// configuration does).
async fn idp_on(tenants_dir: &std::path::Path) -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config_on(&db.url, None, tenants_dir))
        .await
        .unwrap();
    (idp, db)
}

/// What David's login to Storstad's staff portal gives the portal: the ID token's
/// claims without those that differ per login, and UserInfo. `sub` is left out too
/// once it is found the same in both: it is pairwise, derived from the person's id in
/// this IdP's own directory (each test IdP has a database of its own).
async fn what_the_portal_receives(idp: &TestIdp) -> (Value, Value) {
    let browser = Agent::with_certificate("david");
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        idp,
        CONFIDENTIAL,
        "openid profile hsa",
        Some(&challenge),
        &[],
    );
    let callback = browse_to_callback(&browser, idp, &url, CONFIDENTIAL).await;
    let code = param(&callback, "code").expect("a code");
    let (status, tokens, error) = exchange(
        idp,
        CONFIDENTIAL,
        Some((CONFIDENTIAL, CONFIDENTIAL_SECRET)),
        &code,
        &verifier,
    )
    .await;
    assert_eq!(status, 200, "{tokens} {error:?}");
    let (_, mut claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    for per_login in ["iat", "exp", "auth_time", "sid", "jti", "at_hash", "iss"] {
        claims.as_object_mut().unwrap().remove(per_login);
    }
    let (status, mut userinfo) = userinfo(idp, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{userinfo}");
    let sub = claims.as_object_mut().unwrap().remove("sub");
    assert!(sub.is_some(), "{claims}");
    assert_eq!(userinfo.as_object_mut().unwrap().remove("sub"), sub);
    (claims, userinfo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_on_fifty_organisations_is_the_login_on_three() {
    let platform = tempfile::tempdir().unwrap();
    let written = sp_test::platform::write(&sp_test::platform::PlatformRequest {
        root: e2e::repo_root(),
        out: platform.path().to_owned(),
        tenants: 50,
        applications: 20,
        persons: 0,
        applications_url: "https://localhost:9443".into(),
        idp_url: "https://localhost:8443".into(),
    })
    .unwrap();
    assert_eq!((written.tenants, written.applications), (50, 946));

    let (three, _db3) = idp_on(&e2e::repo_root().join("config/tenants")).await;
    let (fifty, _db50) = idp_on(&written.tenants_dir).await;
    assert_eq!(
        what_the_portal_receives(&fifty).await,
        what_the_portal_receives(&three).await,
        "the same person and application, different claims on fifty organisations"
    );

    // The last generated municipality's applications are registered (an unknown client
    // or SP would be refused as such, and the SP's signed request needs its metadata)
    // and refuse an employee of another organisation, as any application of the three
    // does.
    let browser = Agent::with_certificate("david");
    let (_, challenge) = pkce();
    let url = authorize_url(&fifty, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    browse_to_callback(&browser, &fifty, &url, CONFIDENTIAL).await;
    let client = "kommun-47-app-20";
    let url = authorize_url(&fifty, client, "openid", Some(&challenge), &[]);
    let refused = browse_to_callback(&browser, &fifty, &url, client).await;
    assert_eq!(
        param(&refused, "error").as_deref(),
        Some("access_denied"),
        "{refused}"
    );

    let sp = sp_test::saml_sp::SamlSp::with_dev_keys(
        &e2e::repo_root(),
        "https://localhost:9443/sp/kommun-47-sp-10",
        &fifty.url(""),
        &fifty.url("/saml/metadata"),
        false,
    )
    .unwrap();
    let (url, _) = sp
        .login_url(
            None,
            false,
            idp::clock::Clock::now(&idp::clock::SystemClock),
        )
        .unwrap();
    let refused = browser.open(&url).await;
    assert_eq!(refused.status, 403, "{}: {}", refused.url, refused.body);
    assert_eq!(refused.error_code(), Some("USER_NOT_ALLOWED"));
}
