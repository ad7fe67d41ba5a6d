//! The OpenID Connect code flow end to end, with the scripted browser and plain HTTP
//! requests: discovery, JWKS, authorize, login, code, tokens, UserInfo, refresh.

use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::oidc::*;
use e2e::{SqliteDatabase, TestIdp};

pub(crate) async fn idp() -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    (idp, db)
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_the_jwks_holds_both_keys() {
    let (idp, _db) = idp().await;
    let client = e2e::https_client();
    let discovery: serde_json::Value = client
        .get(idp.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = idp.url("");
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(discovery["token_endpoint"], idp.url("/oidc/token").as_str());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        discovery["response_types_supported"],
        serde_json::json!(["code"])
    );
    let jwks: serde_json::Value = client
        .get(idp.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert!(algs.contains(&"RS256") && algs.contains(&"ES256"), "{jwks}");
}

#[tokio::test]
async fn a_confidential_client_gets_a_code_and_tokens_with_the_claims_it_may_see() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("david");
    let (verifier, challenge) = pkce();
    let scope = "openid profile hsa https://id.oidc.se/scope/naturalPersonOrgId";
    let url = authorize_url(&idp, CONFIDENTIAL, scope, Some(&challenge), &[]);
    let callback = browse_to_callback(&browser, &idp, &url, CONFIDENTIAL).await;
    assert_eq!(param(&callback, "state").as_deref(), Some("st"));
    assert_eq!(
        param(&callback, "iss").as_deref(),
        Some(idp.url("").as_str())
    );
    let code = param(&callback, "code").expect("a code");

    let (status, tokens, error) = exchange_confidential(&idp, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens} {error:?}");
    assert_eq!(tokens["token_type"], "Bearer");
    let (header, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], idp.url("").as_str());
    assert_eq!(claims["aud"], CONFIDENTIAL);
    assert_eq!(claims["nonce"], "n0");
    assert_eq!(claims["acr"], "http://id.elegnamnden.se/loa/1.0/loa3");
    assert_eq!(claims["amr"], serde_json::json!(["mtls"]));
    assert!(claims["at_hash"].is_string() && claims["auth_time"].is_i64());
    assert_eq!(
        claims["http://sambi.se/attributes/1/employeeHsaId"],
        "SE2120008889-dav04"
    );
    assert_eq!(claims["https://id.oidc.se/claim/orgNumber"], "2120008889");
    let sub = claims["sub"].as_str().unwrap();
    assert!(!sub.contains("SE2120008889") && sub.len() >= 40, "{sub}");
    // The session's public sid, never the cookie's session id.
    let session_id = browser.cookie("localhost", "__Host-idp_sso").unwrap();
    let session = idp
        .state
        .sso_sessions
        .find(&session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claims["sid"], session.sid.as_str());
    assert_ne!(claims["sid"], session_id.as_str());
    assert!(session
        .participants
        .iter()
        .any(|p| p.application == "storstad/personal"));
    // Not released: the personal identity number (scope not requested).
    assert!(claims
        .get("https://id.oidc.se/claim/personalIdentityNumber")
        .is_none());

    let (at_header, at_claims) = jwt_parts(tokens["access_token"].as_str().unwrap());
    assert_eq!(at_header["typ"], "at+jwt");
    assert_eq!(at_header["alg"], "ES256", "the default access token form");
    assert_eq!(at_claims["client_id"], CONFIDENTIAL);
    let (status, info) = userinfo(&idp, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], sub);
    assert_eq!(info["given_name"], "David");
    let events = audit_events(&idp).await;
    assert!(
        events.contains(&("oidc-code".into(), "success".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&("oidc-token".into(), "success".into())),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_flow_works_with_redis_and_a_form_posted_authorization_request() {
    let db = SqliteDatabase::create().unwrap();
    let redis = e2e::RedisServer::start().await.unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, Some(&redis.url())))
        .await
        .unwrap();
    assert_eq!(idp.state.store.backend_name(), "redis");
    let browser = Agent::with_certificate("david");
    let (verifier, challenge) = pkce();
    let url = reqwest::Url::parse(&authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid profile",
        Some(&challenge),
        &[],
    ))
    .unwrap();
    let form: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut endpoint = url.clone();
    endpoint.set_query(None);
    let posted = browser
        .request(reqwest::Method::POST, &endpoint, Some(&form))
        .await;
    let login_page = browser.follow(posted).await;
    let landed = browser
        .log_in_until(&idp, &login_page, &callback(CONFIDENTIAL))
        .await
        .unwrap();
    let code = param(&landed, "code").unwrap();
    let (status, tokens, _) = exchange_confidential(&idp, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, _, error) = exchange_confidential(&idp, &code, &verifier).await;
    assert_eq!(
        (status.as_u16(), error.as_deref()),
        (400, Some("OIDC_CODE_REUSED"))
    );
    assert_eq!(
        userinfo(&idp, tokens["access_token"].as_str().unwrap())
            .await
            .0,
        401
    );
}
