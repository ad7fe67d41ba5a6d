//! Signing key rotation: a new key is published before it signs; the old one stays
//! published after it stopped signing, until its tokens have expired.

use e2e::idp_server::shipped_config;
use e2e::{SqliteDatabase, TestIdp};
use idp::clock::{Clock, ManualClock, SystemClock};
use idp::config::OidcKeyConfig;
use idp::keys::Algorithm;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::Duration;

async fn published_kids(idp: &TestIdp) -> Vec<String> {
    let jwks: serde_json::Value = e2e::https_client()
        .get(idp.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn signing_kid(idp: &TestIdp, clock: &ManualClock) -> String {
    let token = idp
        .state
        .oidc
        .sign(&serde_json::json!({}), Algorithm::Es256, "JWT", clock.now())
        .unwrap();
    let (header, _) = e2e::oidc::jwt_parts(&token);
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_new_key_is_published_before_it_signs_and_the_old_one_after() {
    let db = SqliteDatabase::create().unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let t0 = clock.now();
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["oidc-next".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("next.key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("next.pem"), cert.pem()).unwrap();

    let mut config = shipped_config(&db.url, None);
    let at = |d: Duration| (t0 + d).format(&Rfc3339).unwrap();
    let old = config
        .idp
        .oidc
        .keys
        .iter_mut()
        .find(|k| k.certificate.ends_with("oidc-es256.pem"))
        .unwrap();
    old.not_after = Some(at(Duration::days(1)));
    config.idp.oidc.keys.push(OidcKeyConfig {
        private_key: dir.path().join("next.key.pem"),
        certificate: dir.path().join("next.pem"),
        not_before: Some(at(Duration::days(1))),
        not_after: None,
    });
    let idp = TestIdp::start_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap();

    // Announced: published, not yet signing.
    let old_kid = signing_kid(&idp, &clock);
    let kids = published_kids(&idp).await;
    assert_eq!(kids.len(), 3, "{kids:?}");
    let new_kid = kids
        .iter()
        .find(|k| {
            **k != old_kid && idp.state.oidc.keys.find(k).unwrap().algorithm() == Algorithm::Es256
        })
        .unwrap()
        .clone();

    // Rotated: the new key signs; the old one is still published (its tokens live).
    clock.advance(Duration::days(1) + Duration::minutes(1));
    assert_eq!(signing_kid(&idp, &clock), new_kid);
    assert!(published_kids(&idp).await.contains(&old_kid));

    // Retention over (key_retention_seconds = one day): the old key is withdrawn.
    clock.advance(Duration::days(1));
    let kids = published_kids(&idp).await;
    assert!(
        !kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
}
