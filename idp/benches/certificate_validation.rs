//! Validation of one valid chain (anna, HSA-id 3 CA) with the OCSP answer cached, as in a
//! burst of morning logins: the whole path (parse, validity, strength, webpki path with
//! two RSA-2048 signature checks, issuer, key usage, policy, subject, OCSP cache).
//! `openssl ocsp` serves the dev PKI's index once to fill the cache.
//!
//! Run from the repository root: `cargo bench -p idp --bench certificate_validation`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use idp::auth::revocation::{FailPolicy, RevocationChecker, RevocationOutcome, Source};
use idp::auth::{CertificateValidator, TrustStore};
use idp::clock::{Clock, SystemClock};
use idp::config::{IssuerConfig, PolicyConfig, TrustConfig};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Responder(Child);

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl ocsp` on a port of its choosing (read from its `ACCEPT` line: probing the
/// port with a bare connection would wedge it).
fn start_responder() -> (Responder, u16) {
    use std::io::BufRead;
    let dir = root().join("certs-dev/ca");
    let mut child = Command::new("openssl")
        .current_dir(&dir)
        .args(["ocsp", "-index", "hsaid3.index.txt", "-CA", "hsaid3.pem"])
        .args([
            "-rsigner",
            "hsaid3.pem",
            "-rkey",
            "hsaid3.key.pem",
            "-nmin",
            "60",
        ])
        .args(["-ignore_err", "-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl");
    let stdout = child.stdout.take().unwrap();
    let responder = Responder(child);
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("ACCEPT ") {
            // "ACCEPT [::]:46097 PID=5739"
            let socket = addr.split_whitespace().next().unwrap();
            let port = socket.rsplit(':').next().unwrap().parse().unwrap();
            return (responder, port);
        }
    }
    panic!("OCSP responder did not start");
}

fn pem_chain(path: &Path) -> Vec<CertificateDer<'static>> {
    idp::server::load_certificates(path).unwrap()
}

fn bench(c: &mut Criterion) {
    idp::server::install_crypto_provider();
    let (_responder, port) = start_responder();
    let dev = root().join("certs-dev");
    let config = TrustConfig {
        anchors: vec![dev.join("root-ca.pem")],
        max_chain_length: 6,
        revocation_timeout_millis: 2000,
        issuers: vec![IssuerConfig {
            name: "hsaid3".into(),
            certificate: dev.join("ca/hsaid3.pem"),
            revocation: FailPolicy::FailClosed,
            use_ocsp: true,
            ocsp_url: Some(format!("http://127.0.0.1:{port}/").parse().unwrap()),
            crl_url: None,
            crl_file: None,
            methods: idp::auth::method::all_methods(),
            certificate_type: idp::auth::CertificateType::SmartCard,
        }],
        policies: vec![PolicyConfig {
            oid: "1.3.6.1.4.1.32473.752.1.3".into(),
            loa: 3,
        }],
    };
    let checker = Arc::new(RevocationChecker::new(Duration::from_secs(2)));
    let validator = CertificateValidator::new(TrustStore::from_config(&config).unwrap(), checker);
    let chain = pem_chain(&dev.join("users/anna.chain.pem"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = SystemClock.now();
    let first = rt.block_on(validator.validate(&chain, now)).unwrap();
    assert_eq!(
        first.revocation,
        RevocationOutcome::Good {
            source: Source::Ocsp
        }
    );
    let cached = rt.block_on(validator.validate(&chain, now)).unwrap();
    assert_eq!(
        cached.revocation,
        RevocationOutcome::Good {
            source: Source::OcspCache
        }
    );

    c.bench_function("validate chain, OCSP cached", |b| {
        b.to_async(&rt)
            .iter(|| async { validator.validate(&chain, now).await.unwrap() })
    });
    c.bench_function("validate chain, offline checks only", |b| {
        b.iter(|| validator.validate_offline(&chain, now).map(|_| ()).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(200).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
