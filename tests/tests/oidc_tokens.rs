//! Access tokens in the form each client is registered for (a JWT signed with ES256,
//! the default, or RS256, or an opaque reference), token introspection for resource
//! servers (RFC 7662) and token revocation (RFC 7009), each within its tenant.

use e2e::agent::Agent;
use e2e::oidc::*;
use e2e::TestIdp;
use serde_json::{json, Value};

use crate::oidc_flow::idp;

/// Registers a confidential client `<tenant>-<id>` whose access tokens have `format`
/// (through the admin API, as the tenant's admin would): its client_id and the secret
/// the IdP made.
async fn confidential_client(
    idp: &TestIdp,
    tenant: &str,
    id: &str,
    format: &str,
) -> (String, String) {
    let client_id = format!("{tenant}-{id}");
    let (status, answer) = register_client(
        idp,
        tenant,
        &json!({
            "id": id,
            "display_name": { "sv": format!("Tjänst {id}"), "en": format!("Service {id}") },
            "client_id": client_id,
            "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": [callback(&client_id)],
            "scopes": ["openid", "profile"],
            "access_token_format": format,
        }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    // The default is left out, as in the tenant files.
    let registered = answer["application"]["access_token_format"]
        .as_str()
        .unwrap_or("jwt_es256");
    assert_eq!(registered, format, "{answer}");
    let secret = answer["client_secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    (client_id, secret)
}

/// David's tokens for `client`: authorize (his SSO session in `browser`), the code
/// exchanged with the client's secret.
async fn tokens_for(idp: &TestIdp, browser: &Agent, client: &(String, String)) -> Value {
    let (client_id, secret) = client;
    let (verifier, challenge) = pkce();
    let url = authorize_url(idp, client_id, "openid profile", Some(&challenge), &[]);
    let callback = browse_to_callback(browser, idp, &url, client_id).await;
    let code = param(&callback, "code").expect("a code");
    let (status, tokens, error) =
        exchange(idp, client_id, Some((client_id, secret)), &code, &verifier).await;
    assert_eq!(status, 200, "{tokens} {error:?}");
    tokens
}

/// POSTs `token` to `path` (introspection or revocation) as `caller` (HTTP Basic).
async fn ask(idp: &TestIdp, path: &str, caller: (&str, &str), token: &str) -> (u16, Value) {
    let response = e2e::https_client()
        .post(idp.url(path))
        .basic_auth(caller.0, Some(caller.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn introspect(idp: &TestIdp, caller: (&str, &str), token: &str) -> Value {
    let (status, answer) = ask(idp, "/oidc/introspect", caller, token).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn each_access_token_form_is_honoured_and_introspected_only_within_its_tenant() {
    let (idp, _db) = idp().await;
    let discovery: Value = e2e::https_client()
        .get(idp.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["introspection_endpoint"],
        idp.url("/oidc/introspect")
    );
    assert_eq!(discovery["revocation_endpoint"], idp.url("/oidc/revoke"));

    let resource_server = (CONFIDENTIAL, CONFIDENTIAL_SECRET);
    let elsewhere = confidential_client(&idp, "lillby", "resurs", "jwt_es256").await;
    let browser = Agent::with_certificate("david");
    for (format, alg) in [
        ("jwt_es256", Some("ES256")),
        ("jwt_rs256", Some("RS256")),
        ("opaque", None),
    ] {
        let client = confidential_client(&idp, "storstad", &format.replace('_', "-"), format).await;
        let tokens = tokens_for(&idp, &browser, &client).await;
        let access = tokens["access_token"].as_str().unwrap();
        let (_, id_claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
        match alg {
            Some(alg) => {
                let (header, claims) = jwt_parts(access);
                assert_eq!(
                    (header["alg"].as_str(), header["typ"].as_str()),
                    (Some(alg), Some("at+jwt"))
                );
                assert_eq!(claims["client_id"], client.0.as_str());
            }
            None => assert!(
                !access.contains('.'),
                "an opaque token says nothing: {access}"
            ),
        }
        let (status, info) = userinfo(&idp, access).await;
        assert_eq!(status, 200, "{format}: {info}");
        assert_eq!(info["sub"], id_claims["sub"], "{format}");

        // A resource server of the same organisation learns what the token stands for.
        let answer = introspect(&idp, resource_server, access).await;
        assert_eq!(answer["active"], true, "{format}: {answer}");
        assert_eq!(answer["client_id"], client.0.as_str(), "{answer}");
        assert_eq!(answer["sub"], id_claims["sub"], "{answer}");
        assert_eq!(answer["scope"], "openid profile", "{answer}");
        assert_eq!(answer["iss"], idp.url(""), "{answer}");
        assert!(answer["exp"].as_i64() > answer["iat"].as_i64(), "{answer}");
        // Another organisation's learns nothing, not even that it exists.
        let answer = introspect(&idp, (&elsewhere.0, &elsewhere.1), access).await;
        assert_eq!(answer, json!({ "active": false }), "{format}");
    }

    // Unknown and malformed tokens are inactive; a public client may not ask at all.
    for token in ["no-such-token", "a.b.c", ""] {
        let answer = introspect(&idp, resource_server, token).await;
        assert_eq!(answer, json!({ "active": false }), "{token:?}");
    }
    let (status, answer) = ask(&idp, "/oidc/introspect", (PUBLIC, ""), "no-such-token").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_client")),
        "{answer}"
    );
}

#[tokio::test]
async fn revoking_a_token_ends_its_grant_and_only_its_own_client_may() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("david");
    let opaque = confidential_client(&idp, "storstad", "referens", "opaque").await;
    let jwt = confidential_client(&idp, "storstad", "signerad", "jwt_es256").await;
    let resource_server = (CONFIDENTIAL, CONFIDENTIAL_SECRET);

    for client in [&opaque, &jwt] {
        let tokens = tokens_for(&idp, &browser, client).await;
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        // Another client's revocation is answered alike and changes nothing.
        let (status, _) = ask(&idp, "/oidc/revoke", resource_server, access).await;
        assert_eq!(status, 200);
        assert_eq!(
            introspect(&idp, resource_server, access).await["active"],
            true
        );

        // The client revokes its refresh token: the grant ends, with every token of it.
        let (status, _) = ask(&idp, "/oidc/revoke", (&client.0, &client.1), refresh).await;
        assert_eq!(status, 200);
        assert_eq!(
            introspect(&idp, resource_server, access).await,
            json!({ "active": false }),
            "{}",
            client.0
        );
        assert_eq!(userinfo(&idp, access).await.0, 401);
        let (status, body, _) = token_request(
            &idp,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some((&client.0, &client.1)),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // Revoking again, or an unknown token, is still a plain 200.
        for token in [refresh, "no-such-token"] {
            assert_eq!(
                ask(&idp, "/oidc/revoke", (&client.0, &client.1), token)
                    .await
                    .0,
                200
            );
        }
    }
    // The access token itself revokes its grant too.
    let tokens = tokens_for(&idp, &browser, &opaque).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        ask(&idp, "/oidc/revoke", (&opaque.0, &opaque.1), access)
            .await
            .0,
        200
    );
    assert_eq!(userinfo(&idp, access).await.0, 401);
    let events = audit_events(&idp).await;
    assert!(
        events.contains(&("oidc-revoke".into(), "success".into())),
        "{events:?}"
    );
}
