//! The Rust `openidconnect` crate as the relying party (sp-test's `oidc_rp`): discovery,
//! code flow with PKCE, ID token validation with the JWKS, at_hash, UserInfo, refresh.

use e2e::agent::Agent;
use e2e::oidc::*;
use sp_test::oidc_rp::OidcRp;

use crate::oidc_flow::idp;

#[tokio::test]
async fn the_openidconnect_crate_logs_in_with_a_confidential_client() {
    let (idp, _db) = idp().await;
    let rp = OidcRp::discover(
        &idp.url(""),
        CONFIDENTIAL,
        Some(CONFIDENTIAL_SECRET),
        &callback(CONFIDENTIAL),
        "RS256",
        rp_http_client(),
    )
    .await
    .unwrap();
    let started = rp.start(&["profile", "email"]);
    let browser = Agent::with_certificate("david");
    let landed = browse_to_callback(&browser, &idp, started.url.as_str(), CONFIDENTIAL).await;
    let done = rp.complete(started, &landed).await.unwrap();
    assert_eq!(done.issuer, idp.url(""));
    assert_eq!(done.audience, vec![CONFIDENTIAL.to_owned()]);
    assert_eq!(
        done.acr.as_deref(),
        Some("http://id.elegnamnden.se/loa/1.0/loa3")
    );
    assert_eq!(done.amr, vec!["mtls".to_owned()]);
    assert!(done.auth_time.is_some());
    assert_eq!(done.userinfo["sub"], done.subject.as_str());
    assert_eq!(
        done.userinfo["family_name"],
        done.id_token_claims["family_name"]
    );

    let (access, refresh) = rp
        .refresh(done.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_ne!(access, done.access_token);
    assert_ne!(refresh, done.refresh_token);
}

#[tokio::test]
async fn the_openidconnect_crate_logs_in_with_a_public_client_and_sso() {
    let (idp, _db) = idp().await;
    let rp = OidcRp::discover(
        &idp.url(""),
        PUBLIC,
        None,
        &callback(PUBLIC),
        "RS256",
        rp_http_client(),
    )
    .await
    .unwrap();
    let browser = Agent::with_certificate("eva");
    let first = rp.start(&["profile"]);
    let landed = browse_to_callback(&browser, &idp, first.url.as_str(), PUBLIC).await;
    let done = rp.complete(first, &landed).await.unwrap();
    // A second login in the same browser is answered from the SSO session: no login page.
    let second = rp.start(&["profile"]);
    let landed = browser
        .open_until(second.url.as_str(), &callback(PUBLIC))
        .await
        .unwrap_or_else(|page| panic!("asked again: {} {}", page.url, page.body));
    let again = rp.complete(second, &landed).await.unwrap();
    assert_eq!(again.subject, done.subject);
    assert_eq!(again.auth_time, done.auth_time);
}
