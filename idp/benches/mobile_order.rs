//! One mobile login order end to end on the engine, as a phone and a browser drive it:
//! start, QR content, claim, the app's ECDSA P-256 signature over the challenge,
//! complete (signature check, certificate validation with the CRL from file, directory
//! lookup, SSO session, audit record in SQLite), and the browser's collect. In-memory
//! session store; the shipped development configuration.
//!
//! Run from anywhere: `cargo bench -p idp --bench mobile_order`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use idp::auth::mobile::{ClaimStart, OrderDisplay, Status};
use idp::clock::{Clock, SystemClock};
use idp::config::{ConfigSource, EnvOverrides};
use idp::login::LoginMethod;

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::env::set_current_dir(root).unwrap();
    idp::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let env = EnvOverrides {
        database_url: Some(format!("sqlite://{}", dir.path().join("idp.db").display())),
        ..EnvOverrides::default()
    };
    let mut config = idp::config::load(&ConfigSource { file: None, env }).unwrap();
    // Room for every order of a long run (each leaves a few short-lived entries).
    config.idp.session.memory_max_entries = 2_000_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = rt
        .block_on(idp::app::build_state(config, Arc::new(SystemClock)))
        .unwrap();

    let users = root.join("certs-dev/users");
    let key_pem = std::fs::read(users.join("anna-mobile.key.pem")).unwrap();
    let key_der = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::PrivateKeyDer::from_pem_slice(&key_pem).unwrap()
    };
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key_der.secret_der()).unwrap();
    let chain = idp::server::load_certificates(&users.join("anna-mobile.chain.pem")).unwrap();
    let rng = SystemRandom::new();
    let display = OrderDisplay {
        application_sv: "Journalen".into(),
        application_en: "Records".into(),
        organisation_sv: "Region Exempelland".into(),
        organisation_en: "Region Exempelland".into(),
    };

    let one_login = || async {
        let now = SystemClock.now();
        let (login, _) = state
            .pending_logins
            .create(
                "region".parse().unwrap(),
                "journal".parse().unwrap(),
                "/session".into(),
                None,
            )
            .await
            .unwrap();
        let started = state
            .orders
            .start(&login.id, display.clone(), now)
            .await
            .unwrap();
        let qr = state
            .orders
            .current_qr(&started.order_ref, now)
            .await
            .unwrap()
            .unwrap();
        let claimed = state
            .orders
            .claim(&ClaimStart::Qr(qr), chain[0].as_ref(), now)
            .await
            .unwrap();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&claimed.challenge)
            .unwrap();
        let signature = key.sign(&rng, &challenge).unwrap();
        let validator = state.validator.load();
        let client = idp::web::ClientAddress(std::net::Ipv4Addr::LOCALHOST.into());
        let ctx = state.login_context(&validator, LoginMethod::MobileQr, client, None);
        state
            .orders
            .complete(
                &ctx,
                &claimed.claim_token,
                "ecdsa-p256-sha256",
                signature.as_ref(),
                &chain,
            )
            .await
            .unwrap();
        let collect = state.orders.collect(&started.order_ref, now).await.unwrap();
        assert_eq!(collect.status, Status::Complete);
        // The user logs out again, so that long runs do not fill the memory store with
        // SSO sessions (eight hours each).
        let session = collect.session_id.unwrap();
        assert!(state.sso_sessions.delete(&session).await.unwrap());
    };

    c.bench_function(
        "mobile order: start + claim + sign + complete + collect",
        |b| b.to_async(&rt).iter(one_login),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(100).measurement_time(Duration::from_secs(8));
    targets = bench
}
criterion_main!(benches);
