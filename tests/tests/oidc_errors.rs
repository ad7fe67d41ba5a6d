//! What the OpenID Connect provider refuses, with the exact RFC 6749 error and the
//! stable code of each refusal.

use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::oidc::*;
use e2e::{SqliteDatabase, TestIdp};
use idp::clock::{Clock, ManualClock, SystemClock};
use reqwest::Url;
use serde_json::Value;
use std::sync::Arc;

use crate::oidc_flow::idp;

/// The error page's code for `url`, checking that the IdP did not redirect.
async fn page_error(url: &str) -> (u16, Option<String>) {
    let page = Agent::new().get(url).await;
    assert!(!page.is_redirect(), "redirected to {:?}", page.location());
    (page.status.as_u16(), page.error_code().map(str::to_owned))
}

/// The `error` sent to the client's redirect URI, and the stable code.
async fn redirect_error(browser: &Agent, url: &str) -> (String, Option<String>) {
    let page = browser.get(url).await;
    let location = page
        .location()
        .unwrap_or_else(|| panic!("no redirect: {} {}", page.status, page.body));
    assert!(
        location.as_str().starts_with("https://localhost:9443/rp/"),
        "{location}"
    );
    (
        param(&location, "error").unwrap_or_default(),
        page.error_code().map(str::to_owned),
    )
}

/// Logs `browser` in for the confidential client and returns the code and verifier.
async fn confidential_code(idp: &TestIdp, browser: &Agent) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(idp, CONFIDENTIAL, "openid profile", Some(&challenge), &[]);
    let callback = browse_to_callback(browser, idp, &url, CONFIDENTIAL).await;
    (param(&callback, "code").unwrap(), verifier)
}

async fn confidential_tokens(idp: &TestIdp, browser: &Agent) -> Value {
    let (code, verifier) = confidential_code(idp, browser).await;
    let (status, tokens, error) = exchange_confidential(idp, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens} {error:?}");
    tokens
}

#[tokio::test]
async fn an_unknown_client_gets_an_error_page() {
    let (idp, _db) = idp().await;
    let url = authorize_url(&idp, "no-such-client", "openid", None, &[]);
    assert_eq!(
        page_error(&url).await,
        (400, Some("OIDC_UNKNOWN_CLIENT".into()))
    );
}

#[tokio::test]
async fn a_redirect_uri_must_match_a_registered_one_exactly() {
    let (idp, _db) = idp().await;
    let registered = callback(CONFIDENTIAL);
    for wrong in [
        format!("{registered}/extra"),
        registered.replace("/rp/", "/RP/"),
        format!("{registered}?a=1"),
        "https://evil.example/callback".to_owned(),
    ] {
        let mut url = Url::parse(&idp.url("/oidc/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", CONFIDENTIAL)
            .append_pair("redirect_uri", &wrong)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid");
        assert_eq!(
            page_error(url.as_str()).await,
            (400, Some("OIDC_REDIRECT_URI_MISMATCH".into())),
            "{wrong}"
        );
    }
}

#[tokio::test]
async fn a_public_client_must_use_pkce_with_s256() {
    let (idp, _db) = idp().await;
    let browser = Agent::new();
    let without = authorize_url(&idp, PUBLIC, "openid", None, &[]);
    assert_eq!(
        redirect_error(&browser, &without).await,
        ("invalid_request".into(), Some("OIDC_PKCE_REQUIRED".into()))
    );
    let (_, challenge) = pkce();
    let plain = authorize_url(
        &idp,
        PUBLIC,
        "openid",
        None,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "plain"),
        ],
    );
    assert_eq!(
        redirect_error(&browser, &plain).await,
        (
            "invalid_request".into(),
            Some("OIDC_PKCE_METHOD_UNSUPPORTED".into())
        )
    );
}

#[tokio::test]
async fn a_request_without_openid_or_with_another_response_type_is_refused() {
    let (idp, _db) = idp().await;
    let browser = Agent::new();
    let (_, challenge) = pkce();
    let url = authorize_url(&idp, CONFIDENTIAL, "profile", Some(&challenge), &[]);
    assert_eq!(
        redirect_error(&browser, &url).await,
        ("invalid_scope".into(), Some("OIDC_INVALID_SCOPE".into()))
    );
    let url = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[])
        .replace("response_type=code", "response_type=token");
    assert_eq!(
        redirect_error(&browser, &url).await,
        (
            "unsupported_response_type".into(),
            Some("OIDC_UNSUPPORTED_RESPONSE_TYPE".into())
        )
    );
}

#[tokio::test]
async fn prompt_none_without_a_session_returns_login_required() {
    let (idp, _db) = idp().await;
    let (_, challenge) = pkce();
    let url = authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid",
        Some(&challenge),
        &[("prompt", "none")],
    );
    assert_eq!(
        redirect_error(&Agent::new(), &url).await,
        ("login_required".into(), Some("OIDC_LOGIN_REQUIRED".into()))
    );
}

#[tokio::test]
async fn a_confidential_client_must_use_pkce_too_unless_registered_as_a_legacy_exception() {
    let (idp, _db) = idp().await;
    let browser = Agent::new();
    // A client secret does not make PKCE optional (OAuth 2.1).
    let without = authorize_url(&idp, CONFIDENTIAL, "openid", None, &[]);
    assert_eq!(
        redirect_error(&browser, &without).await,
        ("invalid_request".into(), Some("OIDC_PKCE_REQUIRED".into()))
    );

    // A legacy client may be exempted, and the admin API says what that costs.
    let (status, answer) = register_client(
        &idp,
        "storstad",
        &serde_json::json!({
            "id": "legacy", "display_name": { "sv": "Gamla systemet" },
            "client_id": "storstad-legacy", "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": [callback("storstad-legacy")], "allow_without_pkce": true
        }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert!(
        answer["warnings"][0]
            .as_str()
            .is_some_and(|w| w.starts_with("PKCE_NOT_REQUIRED")),
        "{answer}"
    );
    let legacy = authorize_url(&idp, "storstad-legacy", "openid", None, &[]);
    let page = browser.get(&legacy).await;
    assert_eq!(
        page.location().map(|l| l.path().to_owned()).as_deref(),
        Some("/login"),
        "{} {}",
        page.status,
        page.body
    );

    // A public client can never be exempted.
    let (status, _) = register_client(
        &idp,
        "storstad",
        &serde_json::json!({
            "id": "app", "display_name": { "sv": "Appen" },
            "client_id": "storstad-app", "token_endpoint_auth_method": "none",
            "redirect_uris": [callback("storstad-app")], "allow_without_pkce": true
        }),
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn oversized_and_repeated_parameters_are_refused() {
    let (idp, _db) = idp().await;
    let long = "x".repeat(5000);
    let url = authorize_url(&idp, CONFIDENTIAL, "openid", None, &[("login_hint", &long)]);
    assert_eq!(
        page_error(&url).await,
        (400, Some("OIDC_PARAMETER_TOO_LONG".into()))
    );
    let url = authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid",
        None,
        &[("client_id", CONFIDENTIAL)],
    );
    assert_eq!(
        page_error(&url).await,
        (400, Some("OIDC_REPEATED_PARAMETER".into()))
    );
}

#[tokio::test]
async fn a_wrong_code_verifier_is_refused() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("david");
    let (code, _) = confidential_code(&idp, &browser).await;
    let (other_verifier, _) = pkce();
    let (status, body, error) = exchange_confidential(&idp, &code, &other_verifier).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(error.as_deref(), Some("OIDC_PKCE_VERIFIER_MISMATCH"));
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("david");
    let (code, verifier) = confidential_code(&idp, &browser).await;
    let redirect = callback(CONFIDENTIAL);
    let (status, body, error) = token_request(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ],
        Some((CONFIDENTIAL, "not-the-secret")),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(error.as_deref(), Some("OIDC_INVALID_CLIENT"));
}

#[tokio::test]
async fn a_code_issued_to_another_client_is_refused() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("david");
    let (code, verifier) = confidential_code(&idp, &browser).await;
    let redirect = callback(CONFIDENTIAL);
    let (status, body, error) = token_request(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(error.as_deref(), Some("OIDC_CODE_CLIENT_MISMATCH"));
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_what_the_first_use_issued() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("david");
    let (code, verifier) = confidential_code(&idp, &browser).await;
    let (status, first, _) = exchange_confidential(&idp, &code, &verifier).await;
    assert_eq!(status, 200);
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&idp, access).await.0, 200);

    let (status, body, error) = exchange_confidential(&idp, &code, &verifier).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(error.as_deref(), Some("OIDC_CODE_REUSED"));
    assert_eq!(userinfo(&idp, access).await.0, 401);
    let events = audit_events(&idp).await;
    assert!(
        events.contains(&("oidc-code-reuse".into(), "failure".into())),
        "{events:?}"
    );
    let (status, body, error) = token_request(
        &idp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
        Some((CONFIDENTIAL, CONFIDENTIAL_SECRET)),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(error.as_deref(), Some("OIDC_REFRESH_INVALID"));
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let db = SqliteDatabase::create().unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let idp = TestIdp::start_with_clock(shipped_config(&db.url, None), Arc::new(clock.clone()))
        .await
        .unwrap();
    let browser = Agent::with_certificate("david");
    let (code, verifier) = confidential_code(&idp, &browser).await;
    clock.advance(time::Duration::seconds(61));
    let (status, body, error) = exchange_confidential(&idp, &code, &verifier).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(error.as_deref(), Some("OIDC_CODE_INVALID"));
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_whole_family() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("david");
    let tokens = confidential_tokens(&idp, &browser).await;
    let refresh = |token: String| {
        let idp = &idp;
        async move {
            token_request(
                idp,
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
                Some((CONFIDENTIAL, CONFIDENTIAL_SECRET)),
            )
            .await
        }
    };
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated, _) = refresh(first.clone()).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        userinfo(&idp, rotated["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );

    let (status, body, error) = refresh(first).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(error.as_deref(), Some("OIDC_REFRESH_REUSED"));
    let (_, body, error) = refresh(second).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(error.as_deref(), Some("OIDC_REFRESH_INVALID"));
    assert_eq!(
        userinfo(&idp, rotated["access_token"].as_str().unwrap())
            .await
            .0,
        401
    );
    let events = audit_events(&idp).await;
    assert!(
        events.contains(&("oidc-refresh-reuse".into(), "failure".into())),
        "{events:?}"
    );
    assert!(events.contains(&("oidc-refresh".into(), "success".into())));
}

#[tokio::test]
async fn a_user_whose_organisation_may_not_use_the_client_is_sent_back_with_access_denied() {
    let (idp, _db) = idp().await;
    // Eva (Lillby) logs in to Lillby's app, then opens Storstad's staff portal: the
    // portal hears `access_denied` (and can tell her), she is not stranded at the IdP.
    let browser = Agent::with_certificate("eva");
    let (_, challenge) = pkce();
    let url = authorize_url(&idp, PUBLIC, "openid", Some(&challenge), &[]);
    browse_to_callback(&browser, &idp, &url, PUBLIC).await;
    let url = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    let page = browser.get(&url).await;
    assert!(page.is_redirect(), "{} {}", page.status, page.body);
    let back = page.location().unwrap();
    assert!(back.as_str().starts_with(&callback(CONFIDENTIAL)), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st"));
    assert!(param(&back, "code").is_none());
    let events = audit_events(&idp).await;
    assert!(
        events.contains(&("oidc-code".into(), "failure".into())),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_id_token_hint_of_another_client_is_refused_at_logout() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("david");
    let tokens = confidential_tokens(&idp, &browser).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let mut url = Url::parse(&idp.url("/oidc/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("client_id", PUBLIC);
    let page = browser.get(url.as_str()).await;
    assert_eq!(
        page.error_code(),
        Some("OIDC_ID_TOKEN_HINT_CLIENT_MISMATCH")
    );

    let mut url = Url::parse(&idp.url("/oidc/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair(
            "post_logout_redirect_uri",
            "https://localhost:9443/rp/lillby-hemtjanst/",
        );
    let page = browser.get(url.as_str()).await;
    assert_eq!(
        page.error_code(),
        Some("OIDC_POST_LOGOUT_REDIRECT_URI_MISMATCH")
    );
    // Neither ended the session.
    assert!(browser.cookie("localhost", "__Host-idp_sso").is_some());
}
