use super::*;
use certs::tests::dev_der;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2027-01-01 00:00 UTC);

fn dev_path(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../certs-dev")
        .join(path)
}

fn crl_file_only(policy: FailPolicy) -> RevocationSettings {
    RevocationSettings {
        policy,
        use_ocsp: false,
        crl_file: Some(dev_path("ca/hsaid3.crl.der")),
        ..RevocationSettings::default()
    }
}

fn checker() -> RevocationChecker {
    RevocationChecker::new(std::time::Duration::from_secs(2))
}

#[test]
fn codes_are_stable() {
    let revoked = RevocationError::Revoked {
        source: Source::Ocsp,
    };
    assert_eq!(revoked.code(), "CERT_REVOKED");
    assert_eq!(
        RevocationError::OcspUnknown.code(),
        "CERT_REVOCATION_UNKNOWN"
    );
    let unavailable = RevocationError::Unavailable {
        detail: String::new(),
    };
    assert_eq!(unavailable.code(), "CERT_REVOCATION_UNAVAILABLE");
    assert_eq!(RevocationError::CrlExpired.code(), "CERT_CRL_EXPIRED");
}

#[test]
fn fail_open_lets_through_only_what_could_not_be_established() {
    let open = FailPolicy::FailOpen;
    let unavailable = RevocationError::Unavailable {
        detail: "responder down".to_owned(),
    };
    assert_eq!(
        apply_policy(open, Err(unavailable.clone())),
        Ok(RevocationOutcome::FailedOpen {
            detail: "responder down".to_owned()
        })
    );
    assert!(matches!(
        apply_policy(open, Err(RevocationError::CrlExpired)),
        Ok(RevocationOutcome::FailedOpen { .. })
    ));
    let revoked = RevocationError::Revoked {
        source: Source::Crl,
    };
    assert_eq!(apply_policy(open, Err(revoked.clone())), Err(revoked));
    assert_eq!(
        apply_policy(open, Err(RevocationError::OcspUnknown)),
        Err(RevocationError::OcspUnknown)
    );
    assert_eq!(
        apply_policy(FailPolicy::FailClosed, Err(unavailable.clone())),
        Err(unavailable)
    );
    assert_eq!(
        apply_policy(FailPolicy::FailClosed, Ok(Source::OcspCache)),
        Ok(RevocationOutcome::Good {
            source: Source::OcspCache
        })
    );
}

#[test]
fn fail_policy_reads_kebab_case_and_defaults_to_closed() {
    #[derive(serde::Deserialize)]
    struct Config {
        policy: FailPolicy,
    }
    let config: Config = toml::from_str("policy = \"fail-open\"").unwrap();
    assert_eq!(config.policy, FailPolicy::FailOpen);
    assert_eq!(FailPolicy::default(), FailPolicy::FailClosed);
}

#[test]
fn crl_file_wins_over_url_which_wins_over_the_certificate() {
    let (leaf, _) =
        certs::parse_pair(&dev_der("users/anna.pem"), &dev_der("ca/hsaid3.pem")).unwrap();
    let url = url::Url::parse("http://crl.example/ca.crl").unwrap();
    let mut settings = RevocationSettings {
        crl_file: Some("/x.crl".into()),
        crl_url: Some(url.clone()),
        ..RevocationSettings::default()
    };
    assert_eq!(
        crl_sources(&settings, &leaf),
        vec![CrlSource::File("/x.crl".into())]
    );
    settings.crl_file = None;
    assert_eq!(crl_sources(&settings, &leaf), vec![CrlSource::Url(url)]);
    settings.crl_url = None;
    assert_eq!(
        crl_sources(&settings, &leaf),
        vec![CrlSource::Url(leaf.crl_urls[0].clone())]
    );
}

#[tokio::test]
async fn a_crl_file_decides_and_is_read_once() {
    let checker = checker();
    let settings = crl_file_only(FailPolicy::FailClosed);
    let ca = dev_der("ca/hsaid3.pem");
    let anna = checker
        .check(&dev_der("users/anna.pem"), &ca, &settings, NOW)
        .await;
    assert_eq!(
        anna,
        Ok(RevocationOutcome::Good {
            source: Source::Crl
        })
    );
    let fredrik = checker
        .check(&dev_der("users/fredrik.pem"), &ca, &settings, NOW)
        .await;
    assert_eq!(
        fredrik,
        Err(RevocationError::Revoked {
            source: Source::Crl
        })
    );
    assert_eq!(checker.crl_fetches_made(), 1);
    assert_eq!(checker.ocsp_requests_made(), 0);
}

#[tokio::test]
async fn an_expired_crl_fails_closed_or_open_but_revoked_stays_revoked() {
    let checker = checker();
    let ca = dev_der("ca/hsaid3.pem");
    let later = datetime!(2040-01-01 00:00 UTC);
    let closed = crl_file_only(FailPolicy::FailClosed);
    let anna = dev_der("users/anna.pem");
    assert_eq!(
        checker.check(&anna, &ca, &closed, later).await,
        Err(RevocationError::CrlExpired)
    );
    let open = crl_file_only(FailPolicy::FailOpen);
    assert!(matches!(
        checker.check(&anna, &ca, &open, later).await,
        Ok(RevocationOutcome::FailedOpen { .. })
    ));
    let fredrik = dev_der("users/fredrik.pem");
    assert_eq!(
        checker.check(&fredrik, &ca, &open, later).await,
        Err(RevocationError::Revoked {
            source: Source::Crl
        })
    );
    // Refreshing finds the file no newer; it is read and checked again all the same.
    assert_eq!(
        checker.refresh_crls(later, time::Duration::hours(1)).await,
        1
    );
    assert_eq!(checker.refresh_crls(NOW, time::Duration::hours(1)).await, 0);
}

#[tokio::test]
async fn nothing_to_go_on_is_unavailable_and_says_why() {
    let checker = checker();
    let settings = RevocationSettings {
        crl_file: Some(dev_path("ca/does-not-exist.crl")),
        use_ocsp: false,
        ..RevocationSettings::default()
    };
    let result = checker
        .check(
            &dev_der("users/anna.pem"),
            &dev_der("ca/hsaid3.pem"),
            &settings,
            NOW,
        )
        .await;
    match result {
        Err(RevocationError::Unavailable { detail }) => {
            assert!(detail.contains("does-not-exist.crl"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    let garbage = checker
        .check(
            b"not a certificate",
            &dev_der("ca/hsaid3.pem"),
            &settings,
            NOW,
        )
        .await;
    assert!(matches!(garbage, Err(RevocationError::Unavailable { .. })));
}
