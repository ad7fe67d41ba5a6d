//! Revocation checking against real peers: `openssl ocsp` responders serving the
//! development CAs' indexes and an HTTP server serving CRLs. Each test asserts the
//! decision a login would get.

use e2e::revocation_peers::{
    dead_url, dev_ca_dir, dev_file, dev_index, CrlServer, OcspResponder, OcspResponderSpec,
};
use idp::auth::revocation::{
    FailPolicy, RevocationChecker, RevocationError, RevocationOutcome, RevocationSettings, Source,
};
use idp::clock::{Clock, SystemClock};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use reqwest::Url;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

const GOOD_OCSP: Result<RevocationOutcome, RevocationError> = Ok(RevocationOutcome::Good {
    source: Source::Ocsp,
});
const GOOD_CRL: Result<RevocationOutcome, RevocationError> = Ok(RevocationOutcome::Good {
    source: Source::Crl,
});
const REVOKED_CRL: Result<RevocationOutcome, RevocationError> = Err(RevocationError::Revoked {
    source: Source::Crl,
});

/// A certificate as DER, read from a PEM file under certs-dev/.
fn der(path: &str) -> Vec<u8> {
    let path = e2e::repo_root().join("certs-dev").join(path);
    CertificateDer::from_pem_file(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_vec()
}

fn anna() -> Vec<u8> {
    der("users/anna.pem")
}

fn fredrik() -> Vec<u8> {
    der("users/fredrik.pem")
}

fn hsaid3() -> Vec<u8> {
    der("ca/hsaid3.pem")
}

fn now() -> OffsetDateTime {
    SystemClock.now()
}

fn checker() -> RevocationChecker {
    idp::server::install_crypto_provider();
    RevocationChecker::new(std::time::Duration::from_secs(5))
}

/// OCSP at `ocsp`; the certificates' own CRL distribution point (localhost:8080) is
/// replaced by one where nothing listens, so only what the test sets up can answer.
fn ocsp_only(ocsp: Url, policy: FailPolicy) -> RevocationSettings {
    RevocationSettings {
        policy,
        use_ocsp: true,
        ocsp_url: Some(ocsp),
        crl_url: Some(dead_url("/hsaid3.crl")),
        crl_file: None,
    }
}

fn with_crl_file(mut settings: RevocationSettings, path: std::path::PathBuf) -> RevocationSettings {
    settings.crl_file = Some(path);
    settings
}

fn crl_only(crl_url: Url, policy: FailPolicy) -> RevocationSettings {
    RevocationSettings {
        policy,
        use_ocsp: false,
        ocsp_url: None,
        crl_url: Some(crl_url),
        crl_file: None,
    }
}

fn assert_unavailable(result: &Result<RevocationOutcome, RevocationError>) {
    assert!(
        matches!(result, Err(RevocationError::Unavailable { .. })),
        "expected Unavailable, got {result:?}"
    );
}

fn assert_failed_open(result: &Result<RevocationOutcome, RevocationError>) {
    assert!(
        matches!(result, Ok(RevocationOutcome::FailedOpen { .. })),
        "expected FailedOpen, got {result:?}"
    );
}

fn hsaid3_key() -> KeyPair {
    let pem = String::from_utf8(dev_file("ca/hsaid3.key.pem").unwrap()).unwrap();
    KeyPair::from_pem(&pem).unwrap()
}

/// An issuer with the hsaid3 CA's name and `key` (its own, or a forger's).
fn hsaid3_issuer(key: KeyPair) -> Issuer<'static, KeyPair> {
    let pem = String::from_utf8(dev_file("ca/hsaid3.pem").unwrap()).unwrap();
    Issuer::from_ca_cert_pem(&pem, key).unwrap()
}

/// A CRL in hsaid3's name listing fredrik, valid from `this_update` to `next_update`.
fn hsaid3_crl(
    key: KeyPair,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    number: u8,
) -> Vec<u8> {
    let fredrik_serial = [
        0x66, 0x28, 0xF5, 0x0E, 0x87, 0x43, 0x0E, 0xF8, 0x09, 0x23, 0x19, 0x5D, 0x73, 0x33, 0xC7,
        0xD7,
    ];
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from_slice(&[number]),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from_slice(&fredrik_serial),
            revocation_time: this_update - Duration::days(1),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(&hsaid3_issuer(key))
        .unwrap()
        .der()
        .to_vec()
}

#[tokio::test]
async fn ocsp_answers_good_and_revoked_and_the_answer_is_cached() {
    let responder = OcspResponder::start("hsaid3").await.unwrap();
    let checker = checker();
    let settings = ocsp_only(responder.url(), FailPolicy::FailClosed);

    let anna_result = checker.check(&anna(), &hsaid3(), &settings, now()).await;
    assert_eq!(anna_result, GOOD_OCSP);
    let fredrik_result = checker.check(&fredrik(), &hsaid3(), &settings, now()).await;
    assert_eq!(
        fredrik_result,
        Err(RevocationError::Revoked {
            source: Source::Ocsp
        })
    );
    assert_eq!(checker.ocsp_requests_made(), 2);

    let again = checker.check(&anna(), &hsaid3(), &settings, now()).await;
    assert_eq!(
        again,
        Ok(RevocationOutcome::Good {
            source: Source::OcspCache
        })
    );
    let fredrik_again = checker.check(&fredrik(), &hsaid3(), &settings, now()).await;
    assert_eq!(
        fredrik_again,
        Err(RevocationError::Revoked {
            source: Source::OcspCache
        })
    );
    assert_eq!(checker.ocsp_requests_made(), 2);
    assert_eq!(checker.crl_fetches_made(), 0);

    // openssl answers with nextUpdate = now + 5 minutes. Six minutes on, the cached
    // answer has expired, so the checker asks again, and rejects the new answer too:
    // by then it is past its own nextUpdate. Nothing else can answer: unavailable.
    let later = checker
        .check(&anna(), &hsaid3(), &settings, now() + Duration::minutes(6))
        .await;
    assert_unavailable(&later);
    assert_eq!(checker.ocsp_requests_made(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_checks_make_one_ocsp_request() {
    let responder = OcspResponder::start("hsaid3").await.unwrap();
    let checker = Arc::new(checker());
    let settings = Arc::new(ocsp_only(responder.url(), FailPolicy::FailClosed));
    let (leaf, issuer, now) = (Arc::new(anna()), Arc::new(hsaid3()), now());
    let checks: Vec<_> = (0..200)
        .map(|_| {
            let (checker, settings, leaf, issuer) = (
                checker.clone(),
                settings.clone(),
                leaf.clone(),
                issuer.clone(),
            );
            tokio::spawn(async move { checker.check(&leaf, &issuer, &settings, now).await })
        })
        .collect();
    for check in futures::future::join_all(checks).await {
        let result = check.unwrap();
        assert!(
            matches!(
                result,
                Ok(RevocationOutcome::Good {
                    source: Source::Ocsp | Source::OcspCache
                })
            ),
            "{result:?}"
        );
    }
    assert_eq!(checker.ocsp_requests_made(), 1);
}

#[tokio::test]
async fn a_serial_the_responder_does_not_know_is_refused_even_fail_open() {
    let fredrik_only: String = dev_index("hsaid3")
        .unwrap()
        .lines()
        .filter(|l| l.contains("Fredrik"))
        .map(|l| format!("{l}\n"))
        .collect();
    let responder = OcspResponder::start_with_index("hsaid3", &fredrik_only)
        .await
        .unwrap();
    let checker = checker();
    for policy in [FailPolicy::FailClosed, FailPolicy::FailOpen] {
        let settings = ocsp_only(responder.url(), policy);
        let result = checker.check(&anna(), &hsaid3(), &settings, now()).await;
        assert_eq!(result, Err(RevocationError::OcspUnknown), "{policy:?}");
        assert_eq!(result.unwrap_err().code(), "CERT_REVOCATION_UNKNOWN");
    }
    // Unknown is not cached: each check asked.
    assert_eq!(checker.ocsp_requests_made(), 2);

    // A current CRL that does not list the certificate settles it.
    let settings = with_crl_file(
        ocsp_only(responder.url(), FailPolicy::FailClosed),
        dev_ca_dir().join("hsaid3.crl.der"),
    );
    let result = checker.check(&anna(), &hsaid3(), &settings, now()).await;
    assert_eq!(result, GOOD_CRL);
}

#[tokio::test]
async fn a_responder_that_is_down_fails_closed_or_open_by_policy() {
    let mut responder = OcspResponder::start("hsaid3").await.unwrap();
    let url = responder.url();
    responder.stop().await.unwrap();
    let checker = checker();

    let closed = checker
        .check(
            &anna(),
            &hsaid3(),
            &ocsp_only(url.clone(), FailPolicy::FailClosed),
            now(),
        )
        .await;
    assert_unavailable(&closed);
    let Err(error) = closed else { unreachable!() };
    assert_eq!(error.code(), "CERT_REVOCATION_UNAVAILABLE");
    assert!(
        error.to_string().contains("OCSP: http://127.0.0.1:"),
        "{error}"
    );
    assert!(error.to_string().contains("cannot connect"), "{error}");
    let open = checker
        .check(
            &anna(),
            &hsaid3(),
            &ocsp_only(url, FailPolicy::FailOpen),
            now(),
        )
        .await;
    assert_failed_open(&open);

    // Never started: a free port with nothing listening.
    let never = ocsp_only(dead_url("/"), FailPolicy::FailClosed);
    assert_unavailable(&checker.check(&anna(), &hsaid3(), &never, now()).await);
    // Down, and a revoked certificate is still refused under fail-open when a CRL says so.
    let crl = dev_ca_dir().join("hsaid3.crl.pem");
    let open_with_crl = with_crl_file(ocsp_only(dead_url("/"), FailPolicy::FailOpen), crl);
    assert_eq!(
        checker
            .check(&fredrik(), &hsaid3(), &open_with_crl, now())
            .await,
        REVOKED_CRL
    );
}

#[tokio::test]
async fn a_responder_that_is_down_falls_back_to_the_crl_file() {
    let checker = checker();
    let settings = with_crl_file(
        ocsp_only(dead_url("/"), FailPolicy::FailClosed),
        dev_ca_dir().join("hsaid3.crl.der"),
    );
    assert_eq!(
        checker.check(&anna(), &hsaid3(), &settings, now()).await,
        GOOD_CRL
    );
    assert_eq!(
        checker.check(&fredrik(), &hsaid3(), &settings, now()).await,
        REVOKED_CRL
    );
    assert_eq!(checker.crl_fetches_made(), 1);
}

#[tokio::test]
async fn a_crl_over_http_decides_and_is_fetched_once() {
    let crl = dev_file("ca/hsaid3.crl.der").unwrap();
    let server = CrlServer::start(vec![("/hsaid3.crl".to_owned(), crl)])
        .await
        .unwrap();
    let checker = checker();
    let settings = crl_only(server.url("/hsaid3.crl"), FailPolicy::FailClosed);

    assert_eq!(
        checker.check(&fredrik(), &hsaid3(), &settings, now()).await,
        REVOKED_CRL
    );
    assert_eq!(
        checker.check(&anna(), &hsaid3(), &settings, now()).await,
        GOOD_CRL
    );
    assert_eq!(server.hits(), 1);
    assert_eq!(
        checker.check(&anna(), &hsaid3(), &settings, now()).await,
        GOOD_CRL
    );
    assert_eq!(server.hits(), 1);
    assert_eq!(checker.crl_fetches_made(), 1);

    // Nothing is near its nextUpdate (ten years on): nothing to refresh.
    assert_eq!(checker.refresh_crls(now(), Duration::hours(1)).await, 0);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_expired_crl_fails_closed_or_open_until_a_fresh_one_is_published() {
    let now = now();
    let expired = hsaid3_crl(
        hsaid3_key(),
        now - Duration::days(8),
        now - Duration::days(1),
        2,
    );
    let server = CrlServer::start(vec![("/hsaid3.crl".to_owned(), expired)])
        .await
        .unwrap();
    let checker = checker();
    let closed = crl_only(server.url("/hsaid3.crl"), FailPolicy::FailClosed);
    let open = crl_only(server.url("/hsaid3.crl"), FailPolicy::FailOpen);

    let result = checker.check(&anna(), &hsaid3(), &closed, now).await;
    assert_eq!(result, Err(RevocationError::CrlExpired));
    assert_eq!(result.unwrap_err().code(), "CERT_CRL_EXPIRED");
    assert_failed_open(&checker.check(&anna(), &hsaid3(), &open, now).await);
    // Revocation is final: an expired CRL that lists a certificate still refuses it.
    assert_eq!(
        checker.check(&fredrik(), &hsaid3(), &open, now).await,
        REVOKED_CRL
    );

    // The CA publishes a fresh CRL; the periodic refresh picks it up.
    let fresh = hsaid3_crl(
        hsaid3_key(),
        now - Duration::hours(1),
        now + Duration::days(7),
        3,
    );
    server.publish("/hsaid3.crl", fresh);
    let hits_before = server.hits();
    assert_eq!(checker.refresh_crls(now, Duration::hours(1)).await, 1);
    assert_eq!(server.hits(), hits_before + 1);
    assert_eq!(
        checker.check(&anna(), &hsaid3(), &closed, now).await,
        GOOD_CRL
    );
    assert_eq!(server.hits(), hits_before + 1);

    // The committed CRL, a day past its nextUpdate.
    let file = with_crl_file(
        ocsp_only(dead_url("/"), FailPolicy::FailClosed),
        dev_ca_dir().join("hsaid3.crl.der"),
    );
    let next_update = OffsetDateTime::parse(
        "2036-11-22T06:18:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let after = next_update + Duration::days(1);
    let result = checker.check(&anna(), &hsaid3(), &file, after).await;
    assert_eq!(result, Err(RevocationError::CrlExpired));
}

#[tokio::test]
async fn a_crl_signed_by_another_key_is_never_good() {
    let mobile_key =
        KeyPair::from_pem(&String::from_utf8(dev_file("ca/mobile.key.pem").unwrap()).unwrap())
            .unwrap();
    let now = now();
    let forged = hsaid3_crl(
        mobile_key,
        now - Duration::hours(1),
        now + Duration::days(7),
        9,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.crl");
    std::fs::write(&path, &forged).unwrap();
    let server = CrlServer::start(vec![("/forged.crl".to_owned(), forged)])
        .await
        .unwrap();
    let checker = checker();

    let from_file = with_crl_file(ocsp_only(dead_url("/"), FailPolicy::FailClosed), path);
    let result = checker.check(&anna(), &hsaid3(), &from_file, now).await;
    assert_unavailable(&result);
    let Err(RevocationError::Unavailable { detail }) = result else {
        unreachable!()
    };
    assert!(detail.contains("signature"), "{detail}");

    let over_http = crl_only(server.url("/forged.crl"), FailPolicy::FailClosed);
    assert_unavailable(&checker.check(&anna(), &hsaid3(), &over_http, now).await);
    let over_http_open = crl_only(server.url("/forged.crl"), FailPolicy::FailOpen);
    assert_failed_open(
        &checker
            .check(&anna(), &hsaid3(), &over_http_open, now)
            .await,
    );
}

#[tokio::test]
async fn an_ocsp_answer_signed_by_a_stranger_is_not_believed() {
    let ca = dev_ca_dir();
    let spec = OcspResponderSpec::dev_ca("hsaid3")
        .signed_by(ca.join("mobile.pem"), ca.join("mobile.key.pem"));
    let responder = OcspResponder::start_spec(spec, None).await.unwrap();
    let checker = checker();

    let settings = ocsp_only(responder.url(), FailPolicy::FailClosed);
    let result = checker.check(&anna(), &hsaid3(), &settings, now()).await;
    assert_unavailable(&result);
    let Err(RevocationError::Unavailable { detail }) = result else {
        unreachable!()
    };
    assert!(detail.contains("not signed by the CA"), "{detail}");
    // Even "revoked" from a stranger is no answer.
    let fredrik_result = checker.check(&fredrik(), &hsaid3(), &settings, now()).await;
    assert_unavailable(&fredrik_result);

    let with_crl = with_crl_file(settings, ca.join("hsaid3.crl.der"));
    assert_eq!(
        checker.check(&anna(), &hsaid3(), &with_crl, now()).await,
        GOOD_CRL
    );
    assert_eq!(
        checker.check(&fredrik(), &hsaid3(), &with_crl, now()).await,
        REVOKED_CRL
    );
}

/// A responder certificate issued by hsaid3 (ECDSA P-256), written to `dir`.
fn delegated_responder(
    dir: &std::path::Path,
    ocsp_signing: bool,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "TEST Dev OCSP responder for hsaid3");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if ocsp_signing {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
    }
    params.not_before = now() - Duration::hours(1);
    params.not_after = now() + Duration::days(1);
    let key = KeyPair::generate().unwrap();
    let cert = params
        .signed_by(&key, &hsaid3_issuer(hsaid3_key()))
        .unwrap();
    let (cert_path, key_path) = (dir.join("responder.pem"), dir.join("responder.key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

#[tokio::test]
async fn a_delegated_responder_needs_the_ocsp_signing_purpose() {
    for ocsp_signing in [true, false] {
        let checker = checker();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = delegated_responder(dir.path(), ocsp_signing);
        let spec = OcspResponderSpec::dev_ca("hsaid3").signed_by(cert, key);
        let responder = OcspResponder::start_spec(spec, Some(dir)).await.unwrap();
        let settings = ocsp_only(responder.url(), FailPolicy::FailClosed);
        let result = checker.check(&fredrik(), &hsaid3(), &settings, now()).await;
        if ocsp_signing {
            assert_eq!(
                result,
                Err(RevocationError::Revoked {
                    source: Source::Ocsp
                })
            );
        } else {
            assert_unavailable(&result);
            let Err(RevocationError::Unavailable { detail }) = result else {
                unreachable!()
            };
            assert!(detail.contains("OCSPSigning"), "{detail}");
        }
    }
}

#[tokio::test]
async fn signature_algorithms_pss_is_accepted_and_sha1_is_not() {
    let checker = checker();
    let pss = OcspResponderSpec::dev_ca("hsaid3").with_args(&[
        "-rsigopt",
        "rsa_padding_mode:pss",
        "-rsigopt",
        "rsa_pss_saltlen:digest",
    ]);
    let responder = OcspResponder::start_spec(pss, None).await.unwrap();
    let settings = ocsp_only(responder.url(), FailPolicy::FailClosed);
    assert_eq!(
        checker.check(&anna(), &hsaid3(), &settings, now()).await,
        GOOD_OCSP
    );

    let sha1 = OcspResponderSpec::dev_ca("hsaid3").with_args(&["-rmd", "sha1"]);
    let responder = OcspResponder::start_spec(sha1, None).await.unwrap();
    let settings = ocsp_only(responder.url(), FailPolicy::FailClosed);
    let result = checker.check(&fredrik(), &hsaid3(), &settings, now()).await;
    assert_unavailable(&result);
    let Err(RevocationError::Unavailable { detail }) = result else {
        unreachable!()
    };
    // sha1WithRSAEncryption
    assert!(
        detail.contains("1.2.840.113549.1.1.5 is not accepted"),
        "{detail}"
    );
}
