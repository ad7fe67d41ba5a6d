//! Federation metadata (docs/operations.md, "Federations"): the IdP reads a federation's
//! signed aggregate of a thousand members, a tenant registers one SP from it by entityID
//! and its staff log in there with the endpoints and keys the aggregate gave; an entity
//! another registration authority registered is refused; a tampered aggregate is
//! refused while the last verified copy keeps serving; an SP the federation withdraws
//! stops being served.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use e2e::saml::SamlIdp;
use e2e::sp_test_server::{app, Reserved, SpTestServer};
use idp::admin::TokenScope;
use serde_json::{json, Value};
use sp_test::federation::{aggregate, AggregateRequest};
use sp_test::phone::PhoneCredential;
use sp_test::saml_sp::SamlSp;
use sp_test::verify::{verify, Report, VerifyRequest};

const AUTHORITY: &str = "https://federation.example.se";
const HSA: &str = "http://sambi.se/attributes/1/employeeHsaId";

/// The federation operator: a key of its own, and the aggregate it publishes.
struct Federation {
    key: idp::keys::SigningKey,
    certificate: std::path::PathBuf,
    served: Arc<ArcSwap<String>>,
    url: String,
    _dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

impl Federation {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pair = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test federation metadata signer");
        let certificate = params.self_signed(&pair).unwrap();
        let (key_file, certificate_file) =
            (dir.path().join("fed.key.pem"), dir.path().join("fed.pem"));
        std::fs::write(&key_file, pair.serialize_pem()).unwrap();
        std::fs::write(&certificate_file, certificate.pem()).unwrap();
        let key = idp::keys::SigningKey::from_pem_files(&key_file, &certificate_file).unwrap();

        let served = Arc::new(ArcSwap::from_pointee(String::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://localhost:{}/federation.xml",
            listener.local_addr().unwrap().port()
        );
        let app = {
            let served = Arc::clone(&served);
            axum::Router::new().route(
                "/federation.xml",
                axum::routing::get(move || {
                    let served = Arc::clone(&served);
                    async move { served.load().to_string() }
                }),
            )
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            key,
            certificate: certificate_file,
            served,
            url,
            _dir: dir,
            _server: server,
        }
    }

    /// Publishes an aggregate of `members` (with their registration authorities) and a
    /// thousand generated members.
    fn publish(&self, members: Vec<(idp::saml::canonical::Element, &str)>) -> String {
        let xml = aggregate(&AggregateRequest {
            name: "urn:test:federation",
            members,
            generated: 1000,
            generated_domain: "members.example.se",
            authority: AUTHORITY,
            valid_for: Duration::from_secs(48 * 3600),
            cache_duration: Some("PT1H"),
            key: &self.key,
            now: idp::clock::Clock::now(&idp::clock::SystemClock),
        })
        .unwrap();
        self.served.store(Arc::new(xml.clone()));
        xml
    }

    fn config(&self) -> idp::config::FederationConfig {
        idp::config::FederationConfig {
            id: "test".into(),
            metadata_url: Some(self.url.parse().unwrap()),
            metadata_file: None,
            signing_certificate: self.certificate.clone(),
            registration_authorities: vec![AUTHORITY.into()],
            entity_categories: Vec::new(),
            max_bytes: 16 * 1024 * 1024,
            // Reloaded every second, so that the test sees each new aggregate.
            refresh_seconds: Some(1),
            require_valid_until: true,
        }
    }
}

/// What a federation operator reads from the IdP's metadata.
struct Published {
    registration_authority: Option<String>,
    contacts: Vec<String>,
    privacy_statement: Option<String>,
}

fn published_entity(metadata: &str) -> Published {
    let doc = idp::saml::xml::parse(metadata).unwrap();
    let root = doc.document_element().unwrap();
    let named = |ns: &str, local: &str| -> Vec<_> {
        doc.descendants(root)
            .into_iter()
            .filter(|&n| {
                doc.element(n)
                    .is_some_and(|e| e.name.matches(Some(ns), local))
            })
            .collect()
    };
    let md = "urn:oasis:names:tc:SAML:2.0:metadata";
    Published {
        registration_authority: named("urn:oasis:names:tc:SAML:metadata:rpi", "RegistrationInfo")
            .first()
            .and_then(|&n| doc.get_attribute(n, "registrationAuthority"))
            .map(str::to_owned),
        contacts: named(md, "ContactPerson")
            .iter()
            .filter_map(|&n| doc.get_attribute(n, "contactType"))
            .map(str::to_owned)
            .collect(),
        privacy_statement: named("urn:oasis:names:tc:SAML:metadata:ui", "PrivacyStatementURL")
            .first()
            .map(|&n| doc.text_content_deep(n)),
    }
}

fn member(reserved: &Reserved, app: &str) -> idp::saml::canonical::Element {
    SamlSp::with_dev_keys(
        &e2e::repo_root(),
        &reserved.entity_id(app),
        "https://idp.invalid",
        "-",
        false,
    )
    .unwrap()
    .entity_descriptor()
}

async fn log_in(sp_test: &SpTestServer, saml: &SamlIdp, app: &str) -> Report {
    let dir = e2e::repo_root().join("certs-dev");
    let ca = std::fs::read(dir.join("tls/tls-ca.pem")).unwrap();
    verify(&VerifyRequest {
        app_url: reqwest::Url::parse(&sp_test.app_url(app)).unwrap(),
        idp_url: reqwest::Url::parse(&saml.url("")).unwrap(),
        credential: PhoneCredential::from_pem_files(
            &dir.join("users/anna-mobile.chain.pem"),
            &dir.join("users/anna-mobile.key.pem"),
        )
        .unwrap(),
        expected_loa: None,
        required_attributes: vec![HSA.into()],
        allowed_attributes: Vec::new(),
        client: sp_test::verify::client(Some(&ca)).unwrap(),
    })
    .await
}

/// The federation's entry in the admin API, as a tenant admin sees it.
async fn federation_view(saml: &SamlIdp, token: &str) -> Value {
    let response = e2e::https_client()
        .get(saml.url("/admin/api/v1/tenants/region/federations"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let views: Value = response.json().await.unwrap();
    views[0].clone()
}

/// Waits until the IdP has loaded the aggregate as published now: two more loads, since
/// the first may have fetched it before.
async fn next_load(saml: &SamlIdp) {
    let metadata = &saml.idp.state.saml.metadata;
    let mut loads = metadata.federations().get("test").unwrap().loads();
    let seen = *loads.borrow_and_update();
    tokio::time::timeout(
        Duration::from_secs(20),
        loads.wait_for(|&count| count >= seen + 2),
    )
    .await
    .expect("the IdP did not load the aggregate again within 20 s")
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sp_registered_from_the_federation_serves_logins_from_its_last_verified_aggregate() {
    let reserved = Reserved::new().await;
    let federation = Federation::start().await;
    let (fed_app, elsewhere) = (member(&reserved, "fed-app"), member(&reserved, "elsewhere"));
    let first = federation.publish(vec![
        (fed_app, AUTHORITY),
        (elsewhere.clone(), "https://elsewhere.example"),
    ]);
    let fed_app_acs = format!("{}/acs", reserved.entity_id("fed-app"));
    let refused = [
        (reserved.entity_id("elsewhere"), "SAML_FEDERATION_AUTHORITY"),
        (
            reserved.entity_id("absent"),
            "SAML_FEDERATION_ENTITY_MISSING",
        ),
    ];
    let table = format!(
        "[[saml_sp]]\nid = \"fed-app\"\ndisplay_name = {{ sv = \"Federerad\", en = \"Federated\" }}\n\
         entity_id = \"{}\"\nprofile = \"sambi\"\nfederation = \"test\"\nuser_tenants = [\"region\"]\n",
        reserved.entity_id("fed-app")
    );
    let fed = federation.config();
    let saml = SamlIdp::start_with(&[("region", table)], &[], |config| {
        config.idp.saml.federation.push(fed);
        config.idp.saml.registration_authority = Some(AUTHORITY.into());
        config.idp.saml.organization.contact_email = Some("idp@region.example.se".into());
    })
    .await;

    // The IdP's own entity, in the form the federation operator imports.
    let published = published_entity(&saml.metadata);
    assert_eq!(published.registration_authority.as_deref(), Some(AUTHORITY));
    assert_eq!(published.contacts, ["technical", "support"]);
    assert_eq!(
        published.privacy_statement.as_deref(),
        Some(saml.url("/privacy").as_str())
    );
    let rsa = e2e::repo_root().join("certs-dev/signing/saml-signing.pem");
    e2e::saml::xmlsec_verify(&saml.metadata, &rsa, None)
        .await
        .unwrap();
    let sp_test = reserved.serve(&saml.idp, &[app("fed-app", false), app("elsewhere", false)]);

    // The aggregate's signature is a standard one: xmlsec1 verifies it too.
    e2e::saml::xmlsec_verify(&first, &federation.certificate, None)
        .await
        .unwrap();

    // Anna logs in at the application the tenant registered by its entityID alone.
    let report = log_in(&sp_test, &saml, "fed-app").await;
    assert!(report.ok, "{}", report.text());
    assert_eq!(
        report.login.as_ref().unwrap()["attributes"][HSA][0],
        "SE2321009991-anna01"
    );

    // The tenant admin sees the federation: every member, those its rules admit.
    let token = e2e::admin_token(&saml.idp, TokenScope::Tenant("region".parse().unwrap())).await;
    let view = federation_view(&saml, &token).await;
    assert_eq!(view["id"], "test");
    assert_eq!(view["name"], "urn:test:federation");
    assert_eq!(view["service_providers"], 1002);
    assert_eq!(view["admitted"], 1001, "{view}");
    assert_eq!(view["status"]["consecutive_failures"], 0);

    // An entity registered by another authority, or not in the federation, is refused
    // when the admin tries to register it.
    for (entity_id, code) in refused {
        let response = e2e::https_client()
            .put(saml.url("/admin/api/v1/tenants/region/saml-sps/other"))
            .bearer_auth(&token)
            .json(&json!({
                "id": "other",
                "display_name": { "sv": "Annan", "en": "Other" },
                "entity_id": entity_id,
                "profile": "sambi",
                "federation": "test"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }

    // A tampered aggregate (another ACS for the application) is refused; the last
    // verified copy stays, and so does the application.
    federation.served.store(Arc::new(
        first.replace(&fed_app_acs, "https://evil.example/acs"),
    ));
    next_load(&saml).await;
    let view = federation_view(&saml, &token).await;
    assert_eq!(
        view["status"]["last_error"]["code"], "SAML_METADATA_SIGNATURE",
        "{view}"
    );
    assert_eq!(view["status"]["has_good_copy"], true);
    let report = log_in(&sp_test, &saml, "fed-app").await;
    assert!(report.ok, "{}", report.text());

    // The federation withdraws the application: a new verified aggregate without it.
    federation.publish(vec![(elsewhere, "https://elsewhere.example")]);
    next_load(&saml).await;
    let view = federation_view(&saml, &token).await;
    assert_eq!(view["status"]["consecutive_failures"], 0, "{view}");
    assert_eq!(view["service_providers"], 1001);
    let report = log_in(&sp_test, &saml, "fed-app").await;
    let failed = report
        .steps
        .iter()
        .find(|s| !s.ok)
        .unwrap_or_else(|| panic!("{}", report.text()));
    assert_eq!(failed.name, "request", "{}", report.text());
    assert!(
        failed.detail.contains("SAML_METADATA_UNAVAILABLE"),
        "{}",
        report.text()
    );
}
