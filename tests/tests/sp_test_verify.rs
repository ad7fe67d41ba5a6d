//! `sp-test verify` against a real IdP and a real `sp-test serve`: it passes for a good
//! registration, and fails naming the step and the reason when the registration is
//! wrong (an ACS URL the SP does not use, a certificate that is not the SP's, an
//! attribute the application needs but does not get).

use e2e::saml::SamlIdp;
use e2e::sp_test_server::{app, Reserved};
use sp_test::phone::PhoneCredential;
use sp_test::verify::{verify, Report, VerifyRequest};

fn credential(user: &str) -> PhoneCredential {
    let dir = e2e::repo_root().join("certs-dev/users");
    PhoneCredential::from_pem_files(
        &dir.join(format!("{user}.chain.pem")),
        &dir.join(format!("{user}.key.pem")),
    )
    .unwrap()
}

fn table(id: &str, tenant_users: &str, profile: &str, entity_id: &str, source: &str) -> String {
    format!(
        "[[saml_sp]]\nid = \"{id}\"\ndisplay_name = {{ sv = \"Test {id}\", en = \"Test {id}\" }}\n\
         entity_id = \"{entity_id}\"\nprofile = \"{profile}\"\n{source}\nuser_tenants = [{tenant_users}]\n"
    )
}

async fn run(
    sp_test: &e2e::sp_test_server::SpTestServer,
    saml: &SamlIdp,
    app: &str,
    required: Vec<String>,
    allowed: Vec<String>,
) -> Report {
    let ca = std::fs::read(e2e::repo_root().join("certs-dev/tls/tls-ca.pem")).unwrap();
    verify(&VerifyRequest {
        app_url: reqwest::Url::parse(&sp_test.app_url(app)).unwrap(),
        idp_url: reqwest::Url::parse(&saml.url("")).unwrap(),
        credential: credential("anna-mobile"),
        expected_loa: Some("http://id.sambi.se/loa/loa3".into()),
        required_attributes: required,
        allowed_attributes: allowed,
        client: sp_test::verify::client(Some(&ca)).unwrap(),
    })
    .await
}

fn failed_step(report: &Report) -> (&str, &str) {
    let step = report
        .steps
        .iter()
        .find(|s| !s.ok)
        .unwrap_or_else(|| panic!("{}", report.text()));
    (step.name, step.detail.as_str())
}

const HSA: &str = "http://sambi.se/attributes/1/employeeHsaId";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_for_a_good_registration_and_names_what_is_wrong_in_bad_ones() {
    let reserved = Reserved::new().await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.xml");
    std::fs::write(&good, reserved.metadata("good", false)).unwrap();
    // The certificate in this metadata is not the one the SP signs with.
    let wrong_key = dir.path().join("wrong-key.xml");
    let impostor_certificate = {
        let pem =
            std::fs::read_to_string(e2e::repo_root().join("certs-dev/signing/saml-encryption.pem"))
                .unwrap();
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    let mut wrong = reserved.metadata("wrong-key", false);
    let start = wrong.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = wrong.find("</ds:X509Certificate>").unwrap();
    wrong.replace_range(start..end, &impostor_certificate);
    std::fs::write(&wrong_key, wrong).unwrap();

    let users = "\"region\"";
    let sps = [
        (
            "region",
            table(
                "good",
                users,
                "sambi",
                &reserved.entity_id("good"),
                &format!("metadata_file = \"{}\"", good.display()),
            ),
        ),
        (
            "region",
            table(
                "wrong-key",
                users,
                "sambi",
                &reserved.entity_id("wrong-key"),
                &format!("metadata_file = \"{}\"", wrong_key.display()),
            ),
        ),
        // Registered with an ACS URL the application does not use.
        (
            "region",
            table(
                "wrong-acs",
                users,
                "sambi",
                &reserved.entity_id("wrong-acs"),
                &format!(
                    "acs_urls = [\"{}/sp/wrong-acs/assertion\"]\nsigning_certificate = \"{}\"",
                    reserved.base_url,
                    e2e::repo_root()
                        .join("certs-dev/signing/sp-test-signing.pem")
                        .display()
                ),
            ),
        ),
    ];
    let saml = SamlIdp::start(&sps, &[]).await;
    let sp_test = reserved.serve(
        &saml.idp,
        &[
            app("good", false),
            app("wrong-key", false),
            app("wrong-acs", false),
        ],
    );
    let allowed = || {
        [
            "employeeHsaId",
            "givenName",
            "surname",
            "commissionHsaId",
            "commissionName",
            "commissionPurpose",
            "commissionRight",
            "healthCareProviderHsaId",
            "healthCareUnitHsaId",
        ]
        .iter()
        .map(|n| format!("http://sambi.se/attributes/1/{n}"))
        .chain([
            "urn:sambi:names:attribute:levelOfAssurance".to_owned(),
            "urn:sambi:names:attribute:authnMethod".to_owned(),
        ])
        .collect::<Vec<_>>()
    };

    let report = run(&sp_test, &saml, "good", vec![HSA.into()], allowed()).await;
    assert!(report.ok, "{}", report.text());
    assert_eq!(
        report.login.as_ref().unwrap()["attributes"][HSA][0],
        "SE2321009991-anna01"
    );
    assert!(report.steps.iter().any(|s| s.name == "logout" && s.ok));

    let report = run(&sp_test, &saml, "wrong-acs", vec![HSA.into()], allowed()).await;
    assert!(!report.ok);
    assert_eq!(
        failed_step(&report),
        (
            "request",
            "the IdP refused the request: SAML_ACS_NOT_REGISTERED"
        )
    );

    let report = run(&sp_test, &saml, "wrong-key", vec![HSA.into()], allowed()).await;
    assert_eq!(
        failed_step(&report),
        (
            "request",
            "the IdP refused the request: SAML_SIGNATURE_INVALID"
        )
    );

    let pnr = "http://sambi.se/attributes/1/personalIdentityNumber".to_owned();
    let report = run(
        &sp_test,
        &saml,
        "good",
        vec![HSA.into(), pnr.clone()],
        allowed(),
    )
    .await;
    let (step, detail) = failed_step(&report);
    assert_eq!(step, "attributes");
    assert!(detail.contains(&pnr), "{detail}");

    // An application that must not see the commission gets told it was released.
    let narrow = vec![HSA.to_owned()];
    let report = run(&sp_test, &saml, "good", vec![HSA.into()], narrow).await;
    let (step, detail) = failed_step(&report);
    assert_eq!(step, "attributes");
    assert!(detail.contains("released but not expected"), "{detail}");
    assert!(
        report.text().contains("[FAIL] attributes"),
        "{}",
        report.text()
    );
    sp_test.stop().await;
}
