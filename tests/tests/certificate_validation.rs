//! The certificate engine's decisions over real certificates: the committed dev PKI and
//! certificates the tests issue (tests/src/test_certs.rs), each with the expected
//! decision and reason. Revocation here comes from the committed CRL files (the shipped
//! configuration); OCSP decisions are in `certificate_revocation`.

use rustls::pki_types::CertificateDer;

use e2e::idp_server::shipped_config;
use e2e::test_certs::{dev_user, Factory, TestChain};
use e2e::SqliteDatabase;
use idp::auth::revocation::{RevocationError, RevocationOutcome, Source};
use idp::auth::{CertError, CertificateValidator, Identifier, Loa};
use idp::clock::{Clock, SystemClock};

fn shipped_validator() -> CertificateValidator {
    idp::server::install_crypto_provider();
    let db = SqliteDatabase::create().unwrap();
    idp::app::build_validator(&shipped_config(&db.url, None)).unwrap()
}

fn ders(chain: &[Vec<u8>]) -> Vec<CertificateDer<'static>> {
    chain
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect()
}

async fn decide(chain: &TestChain) -> Result<idp::auth::ValidatedCertificate, CertError> {
    shipped_validator()
        .validate(&ders(&chain.chain), SystemClock.now())
        .await
}

async fn refused(chain: &TestChain) -> CertError {
    decide(chain)
        .await
        .expect_err("the certificate must be refused")
}

#[tokio::test]
async fn a_valid_hsa_id_certificate_is_accepted_with_its_loa_and_crl_status() {
    let ok = decide(&dev_user("anna")).await.unwrap();
    assert_eq!(
        ok.identifier,
        Identifier::HsaId("SE2321009991-anna01".parse().unwrap())
    );
    assert_eq!(ok.loa, Loa::Loa3);
    assert_eq!(ok.issuer_name, "hsaid3");
    assert_eq!(ok.given_name.as_deref(), Some("Anna"));
    assert_eq!(
        ok.revocation,
        RevocationOutcome::Good {
            source: Source::Crl
        }
    );
}

#[tokio::test]
async fn a_valid_personal_number_certificate_is_accepted() {
    let ok = decide(&dev_user("cecilia")).await.unwrap();
    assert_eq!(
        ok.identifier,
        Identifier::PersonalIdentityNumber("198504042386".parse().unwrap())
    );
    assert_eq!(ok.issuer_name, "pnr3");
}

#[tokio::test]
async fn a_mobile_certificate_maps_to_loa3_and_an_hsa_id2_certificate_to_loa2() {
    assert_eq!(
        decide(&dev_user("anna-mobile")).await.unwrap().loa,
        Loa::Loa3
    );
    assert_eq!(decide(&dev_user("helena")).await.unwrap().loa, Loa::Loa2);
}

#[tokio::test]
async fn a_fresh_certificate_from_each_issuer_is_accepted() {
    let factory = Factory::new();
    for (ca, serial) in [
        ("hsaid3", "SE2321009991-x1"),
        ("mobile", "SE2120008889-x2"),
        ("pnr3", "198001012387"),
    ] {
        let ok = decide(&factory.valid(ca, serial))
            .await
            .unwrap_or_else(|e| panic!("{ca}: {e}"));
        assert_eq!(ok.issuer_name, ca);
    }
}

#[tokio::test]
async fn expired_certificates_are_refused_as_expired() {
    assert_eq!(refused(&dev_user("gunilla")).await, CertError::Expired);
    assert_eq!(refused(&Factory::new().expired()).await, CertError::Expired);
}

#[tokio::test]
async fn a_chain_that_passed_is_refused_once_it_expires_and_still_checked_for_revocation() {
    // One validator: the second and third decisions may reuse the first's offline
    // result, which must hold only within the chain's validity.
    let validator = shipped_validator();
    let anna = ders(&dev_user("anna").chain);
    let now = SystemClock.now();
    assert!(validator.validate(&anna, now).await.is_ok());
    assert!(validator.validate(&anna, now).await.is_ok());
    let later = now + time::Duration::days(365 * 30);
    assert_eq!(
        validator.validate(&anna, later).await.unwrap_err(),
        CertError::Expired
    );
    let earlier = now - time::Duration::days(365 * 30);
    assert_eq!(
        validator.validate(&anna, earlier).await.unwrap_err(),
        CertError::NotYetValid
    );
    // The revoked certificate is refused on every attempt, not only the first.
    let fredrik = ders(&dev_user("fredrik").chain);
    for _ in 0..2 {
        assert!(matches!(
            validator.validate(&fredrik, now).await,
            Err(CertError::Revocation(RevocationError::Revoked { .. }))
        ));
    }
}

#[tokio::test]
async fn a_certificate_not_yet_valid_is_refused() {
    assert_eq!(
        refused(&Factory::new().not_yet_valid()).await,
        CertError::NotYetValid
    );
}

#[tokio::test]
async fn a_certificate_from_a_look_alike_ca_is_untrusted() {
    assert_eq!(
        refused(&Factory::new().wrong_ca()).await,
        CertError::Untrusted
    );
}

#[tokio::test]
async fn a_self_signed_certificate_is_untrusted() {
    assert_eq!(
        refused(&Factory::new().self_signed()).await,
        CertError::Untrusted
    );
}

#[tokio::test]
async fn the_revoked_certificate_is_refused_by_the_crl() {
    assert_eq!(
        refused(&dev_user("fredrik")).await,
        CertError::Revocation(RevocationError::Revoked {
            source: Source::Crl
        })
    );
}

#[tokio::test]
async fn wrong_extended_key_usage_is_refused() {
    let factory = Factory::new();
    assert_eq!(refused(&factory.wrong_eku()).await, CertError::WrongUsage);
    assert_eq!(
        refused(&factory.no_eku_client_auth_but_email()).await,
        CertError::WrongUsage
    );
}

#[tokio::test]
async fn a_key_usage_without_digital_signature_is_refused() {
    assert_eq!(
        refused(&Factory::new().no_digital_signature()).await,
        CertError::WrongUsage
    );
}

#[tokio::test]
async fn a_missing_or_unmapped_policy_is_refused() {
    let factory = Factory::new();
    assert_eq!(
        refused(&factory.missing_policy()).await,
        CertError::NoPolicy
    );
    assert_eq!(
        refused(&factory.unmapped_policy()).await,
        CertError::NoPolicy
    );
}

#[tokio::test]
async fn a_sha1_signature_is_refused_as_weak() {
    assert_eq!(
        refused(&Factory::new().sha1_signed()).await,
        CertError::WeakAlgorithm
    );
}

/// Two identifiers in one subject: whichever a parser reads first, it is ambiguous whose
/// certificate it is, so it is refused in both orders (it used to log in as the first).
#[tokio::test]
async fn a_subject_with_two_identifiers_is_refused_whatever_their_order() {
    let factory = Factory::new();
    for (first, second) in [
        ("SE2321009991-anna01", "SE2321009991-bert02"),
        ("SE2321009991-bert02", "SE2321009991-anna01"),
        ("SE2321009991-anna01", "198504042386"),
    ] {
        assert_eq!(
            refused(&factory.two_serial_numbers(first, second)).await,
            CertError::AmbiguousIdentifier,
            "{first}, {second}"
        );
    }
    assert_eq!(
        CertError::AmbiguousIdentifier.code(),
        "CERT_AMBIGUOUS_IDENTIFIER"
    );
}

#[tokio::test]
async fn an_rsa_1024_key_is_refused_as_weak() {
    assert_eq!(
        refused(&Factory::new().rsa_1024()).await,
        CertError::WeakKey
    );
}

#[tokio::test]
async fn a_path_length_violation_is_refused() {
    let error = refused(&Factory::new().path_length_violation()).await;
    assert_eq!(error.code(), "CERT_PATH_INVALID", "{error:?}");
}

#[tokio::test]
async fn malformed_der_is_refused_as_malformed() {
    let chain = ders(&Factory::malformed_der());
    let error = shipped_validator()
        .validate(&chain, SystemClock.now())
        .await
        .unwrap_err();
    assert_eq!(error, CertError::Malformed);
}

#[tokio::test]
async fn an_empty_chain_is_refused_as_missing() {
    let error = shipped_validator()
        .validate(&[], SystemClock.now())
        .await
        .unwrap_err();
    assert_eq!(error, CertError::Missing);
}

#[tokio::test]
async fn a_chain_of_twenty_certificates_is_refused_before_any_work() {
    let error = refused(&Factory::new().long_chain(20)).await;
    assert_eq!(error, CertError::ChainTooLong { max: 6 });
}

#[tokio::test]
async fn every_refusal_has_a_stable_code_and_a_message_in_both_languages() {
    let factory = Factory::new();
    for chain in [
        factory.expired(),
        factory.wrong_ca(),
        factory.sha1_signed(),
        dev_user("fredrik"),
    ] {
        let error = refused(&chain).await;
        assert!(error.code().starts_with("CERT_"), "{}", error.code());
        let (sv, en) = (error.explain("sv"), error.explain("en"));
        assert_ne!(sv.title, en.title);
        assert!(!sv.detail.is_empty() && !en.detail.is_empty());
    }
    assert_eq!(
        CertError::Expired.explain("en").title,
        "Your certificate has expired"
    );
    assert_eq!(
        CertError::Revocation(RevocationError::Revoked {
            source: Source::Crl
        })
        .explain("en")
        .title,
        "Your certificate has been revoked"
    );
}

/// The shipped trust configuration with the hsaid3 issuer asking `ocsp_url` first and no
/// CRL to fall back on.
fn validator_with_ocsp(
    ocsp_url: reqwest::Url,
    policy: idp::auth::revocation::FailPolicy,
) -> CertificateValidator {
    idp::server::install_crypto_provider();
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    e2e::idp_server::ocsp_only(&mut config, "hsaid3", ocsp_url, policy);
    idp::app::build_validator(&config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_path_asks_ocsp_first_and_refuses_the_revoked_certificate() {
    use idp::auth::revocation::FailPolicy;
    let responder = e2e::revocation_peers::OcspResponder::start("hsaid3")
        .await
        .unwrap();
    let validator = validator_with_ocsp(responder.url(), FailPolicy::FailClosed);
    let now = SystemClock.now();
    let anna = validator
        .validate(&ders(&dev_user("anna").chain), now)
        .await
        .unwrap();
    assert_eq!(
        anna.revocation,
        RevocationOutcome::Good {
            source: Source::Ocsp
        }
    );
    let fredrik = validator
        .validate(&ders(&dev_user("fredrik").chain), now)
        .await
        .unwrap_err();
    assert_eq!(
        fredrik,
        CertError::Revocation(RevocationError::Revoked {
            source: Source::Ocsp
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_that_is_down_fails_closed_by_default_and_open_when_configured() {
    use idp::auth::revocation::FailPolicy;
    let dead = e2e::revocation_peers::dead_url("/");
    let now = SystemClock.now();
    let closed = validator_with_ocsp(dead.clone(), FailPolicy::FailClosed);
    let error = closed
        .validate(&ders(&dev_user("anna").chain), now)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "CERT_REVOCATION_UNAVAILABLE");
    let open = validator_with_ocsp(dead, FailPolicy::FailOpen);
    let ok = open
        .validate(&ders(&dev_user("anna").chain), now)
        .await
        .unwrap();
    assert!(
        matches!(ok.revocation, RevocationOutcome::FailedOpen { .. }),
        "{:?}",
        ok.revocation
    );
}
