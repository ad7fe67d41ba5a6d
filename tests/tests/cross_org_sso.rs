//! The point of a shared IdP, end to end with everything real: the IdP (one node, or two
//! behind a load balancer that alternates connections between them), Redis, and
//! `sp-test serve` with three applications of three organisations: the region's patient
//! record (SAML, Sambi), the large municipality's care records (SAML, Swedish eID,
//! encrypted) and the small municipality's home-care app (OIDC). A nurse logs in once
//! and reaches all three; single logout from one ends all three; a user whose
//! organisation is not admitted is refused with a clear page.

use serde_json::Value;

use e2e::agent::{Agent, Page};
use e2e::balancer::{Reserved as ReservedBalancer, RoundRobin};
use e2e::sp_test_server::{app, Reserved, SpTestServer};
use e2e::{PostgresDatabase, RedisServer, SqliteDatabase, TestIdp};

pub(crate) struct Scenario {
    /// Where browsers reach the IdP (the balancer, or the only node).
    pub(crate) idp_url: String,
    nodes: Vec<TestIdp>,
    balancer: Option<RoundRobin>,
    pub(crate) apps: SpTestServer,
    _tenants: tempfile::TempDir,
    _files: tempfile::TempDir,
    _redis: RedisServer,
    _sqlite: Option<SqliteDatabase>,
    _postgres: Option<PostgresDatabase>,
}

fn tables(reserved: &Reserved, files: &std::path::Path) -> Vec<(&'static str, String)> {
    let journal = files.join("t-journal.xml");
    std::fs::write(&journal, reserved.metadata("t-journal", false)).unwrap();
    let omsorg = files.join("t-omsorg.xml");
    std::fs::write(&omsorg, reserved.metadata("t-omsorg", true)).unwrap();
    let base = &reserved.base_url;
    vec![
        (
            "region",
            format!(
                "[[saml_sp]]\nid = \"t-journal\"\ndisplay_name = {{ sv = \"Journalen\", en = \"Patient records\" }}\n\
                 entity_id = \"{}\"\nprofile = \"sambi\"\nmetadata_file = \"{}\"\n\
                 user_tenants = [\"region\", \"storstad\", \"lillby\"]\n",
                reserved.entity_id("t-journal"),
                journal.display()
            ),
        ),
        (
            "storstad",
            format!(
                "[[saml_sp]]\nid = \"t-omsorg\"\ndisplay_name = {{ sv = \"Omsorgsjournalen\", en = \"Social care records\" }}\n\
                 entity_id = \"{}\"\nprofile = \"swedish-eid\"\nmetadata_file = \"{}\"\n\
                 user_tenants = [\"storstad\", \"region\"]\n",
                reserved.entity_id("t-omsorg"),
                omsorg.display()
            ),
        ),
        (
            "lillby",
            format!(
                "[[oidc_client]]\nid = \"t-hemtjanst\"\ndisplay_name = {{ sv = \"Hemtjänstappen\", en = \"Home care app\" }}\n\
                 client_id = \"t-hemtjanst\"\ntoken_endpoint_auth_method = \"none\"\n\
                 redirect_uris = [\"{base}/rp/t-hemtjanst/callback\"]\n\
                 post_logout_redirect_uris = [\"{base}/rp/t-hemtjanst/\"]\n\
                 backchannel_logout_uri = \"{base}/rp/t-hemtjanst/backchannel-logout\"\n\
                 scopes = [\"openid\", \"profile\", \"hsa\"]\nuser_tenants = [\"lillby\", \"storstad\", \"region\"]\n"
            ),
        ),
    ]
}

pub(crate) async fn scenario(nodes: usize) -> Scenario {
    scenario_with(nodes, |_, _| {}).await
}

/// [`scenario`] with each node's configuration changed by `node_config(index, config)`.
async fn scenario_with(
    nodes: usize,
    node_config: impl Fn(usize, &mut idp::config::LoadedConfig),
) -> Scenario {
    let reserved = Reserved::new().await;
    let files = tempfile::tempdir().unwrap();
    let tables = tables(&reserved, files.path());
    let redis = RedisServer::start().await.unwrap();
    let (sqlite, postgres, database_url) = if nodes == 1 {
        let db = SqliteDatabase::create().unwrap();
        let url = db.url.clone();
        (Some(db), None, url)
    } else {
        let db = PostgresDatabase::create().await.unwrap();
        let url = db.url.clone();
        (None, Some(db), url)
    };
    let (mut config, tenants) = e2e::saml::config_with_sps(&database_url, &tables);
    config.idp.session.store = idp::config::SessionBackend::Redis;
    config.idp.session.redis_url = redis.url();
    let (idp_url, started, balancer) = if nodes == 1 {
        node_config(0, &mut config);
        let node = TestIdp::start(config).await.unwrap();
        (node.url(""), vec![node], None)
    } else {
        let front = ReservedBalancer::bind().await;
        let url = front.url();
        let mut started = Vec::new();
        for index in 0..nodes {
            let mut config = config.clone();
            node_config(index, &mut config);
            started.push(TestIdp::start_behind(config, &url).await.unwrap());
        }
        let balancer = RoundRobin::start(front, started.iter().map(|n| n.addr).collect()).await;
        (url, started, Some(balancer))
    };
    let oidc = vec![sp_test::serve_oidc::OidcApp {
        id: "t-hemtjanst".into(),
        name: "Hemtjänstappen".into(),
        registered_as: "lillby/t-hemtjanst".into(),
        client_id: "t-hemtjanst".into(),
        client_secret: None,
        id_token_alg: "RS256".into(),
        scopes: vec!["profile".into(), "hsa".into()],
    }];
    let apps = reserved.serve_with_oidc(
        &idp_url,
        &[app("t-journal", false), app("t-omsorg", true)],
        oidc,
    );
    Scenario {
        idp_url,
        nodes: started,
        balancer,
        apps,
        _tenants: tenants,
        _files: files,
        _redis: redis,
        _sqlite: sqlite,
        _postgres: postgres,
    }
}

impl Scenario {
    fn page(&self, app: &str) -> String {
        if app == "t-hemtjanst" {
            format!("{}/rp/{app}/", self.apps.base_url)
        } else {
            self.apps.app_url(app)
        }
    }

    async fn session(&self, browser: &Agent, app: &str) -> Value {
        let page = browser
            .open(&format!("{}session.json", self.page(app)))
            .await;
        serde_json::from_str(&page.body).unwrap_or_else(|e| panic!("{app}: {e}: {}", page.body))
    }

    /// Opens the application's login link; when the IdP asks, logs in with the
    /// browser's certificate (on the first node's mTLS listener); submits the SAML form
    /// if there is one; returns the application's page.
    async fn log_in(&self, browser: &Agent, app: &str) -> (Page, bool) {
        let mut page = browser.open(&format!("{}login", self.page(app))).await;
        let asked = page.url.path() == "/login";
        if asked {
            page = browser.log_in_with_certificate(&self.nodes[0], &page).await;
        }
        if let Some(form) = page.form().filter(|f| f.field("SAMLResponse").is_some()) {
            page = browser.submit(&form).await;
        }
        (page, asked)
    }
}

const HSA_SAMBI: &str = "http://sambi.se/attributes/1/employeeHsaId";
const HSA_EID: &str = "urn:oid:1.2.752.29.6.2.1";

async fn one_login_three_organisations_one_logout(s: &Scenario) {
    let nurse = if s.balancer.is_some() {
        Agent::with_certificate_and_fresh_connections("anna")
    } else {
        Agent::with_certificate("anna")
    };

    // The regional application: the only login.
    let (page, asked) = s.log_in(&nurse, "t-journal").await;
    assert!(asked, "the first application asks for a login");
    assert!(page.body.contains("Inloggad"), "{} {}", page.url, page.body);
    let journal = s.session(&nurse, "t-journal").await;
    assert_eq!(journal["attributes"][HSA_SAMBI][0], "SE2321009991-anna01");
    assert_eq!(journal["loa"], "http://id.sambi.se/loa/loa3");

    // The municipal application: no second certificate step.
    let (page, asked) = s.log_in(&nurse, "t-omsorg").await;
    assert!(
        !asked,
        "single sign-on: no login page at the second application"
    );
    assert!(page.body.contains("Inloggad"), "{}", page.body);
    let omsorg = s.session(&nurse, "t-omsorg").await;
    assert_eq!(omsorg["attributes"][HSA_EID][0], "SE2321009991-anna01");
    assert_eq!(omsorg["loa"], "http://id.elegnamnden.se/loa/1.0/loa3");
    assert_eq!(journal["session_index"], omsorg["session_index"]);

    // The other municipality's OIDC application, the same.
    let (page, asked) = s.log_in(&nurse, "t-hemtjanst").await;
    assert!(!asked, "single sign-on across protocols");
    assert!(page.body.contains("Inloggad"), "{} {}", page.url, page.body);
    let hemtjanst = s.session(&nurse, "t-hemtjanst").await;
    assert_eq!(hemtjanst["attributes"][HSA_SAMBI][0], "SE2321009991-anna01");

    // Single logout from the regional application ends all three.
    let done = nurse.open(&format!("{}logout", s.page("t-journal"))).await;
    assert!(
        done.body.contains("Logged out"),
        "{} {}",
        done.url,
        done.body
    );
    for app in ["t-journal", "t-omsorg", "t-hemtjanst"] {
        assert_eq!(
            s.session(&nurse, app).await["logged_in"],
            false,
            "{app} still logged in"
        );
    }
    assert!(nurse.cookie("localhost", "__Host-idp_sso").is_none());
    let (_, asked) = s.log_in(&nurse, "t-omsorg").await;
    assert!(
        asked,
        "after logout the next application asks for a login again"
    );

    // A user whose organisation the application does not admit: a clear page.
    let outsider = Agent::with_certificate("eva");
    let refused = outsider.open(&format!("{}login", s.page("t-omsorg"))).await;
    let refused = outsider
        .log_in_with_certificate(&s.nodes[0], &refused)
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.error_code(), Some("USER_NOT_ALLOWED"));
    assert!(refused.body.contains("inte ansluten"), "{}", refused.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nurse_logs_in_once_for_three_organisations_and_logs_out_of_all() {
    let s = scenario(1).await;
    one_login_three_organisations_one_logout(&s).await;
    assert!(s.idp_url.starts_with("https://localhost:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_on_two_idp_nodes_sharing_redis_with_requests_alternating() {
    let s = scenario(2).await;
    one_login_three_organisations_one_logout(&s).await;
    let served = s.balancer.as_ref().unwrap().served();
    assert!(
        served.iter().all(|n| *n >= 5),
        "both nodes served the browser: {served:?}"
    );
}

/// A change of the SSO session encoding, half done: one node still writes JSON, the
/// other the compact form, and the browser's requests alternate between them. Each
/// node reads what the other wrote and adds its applications to the session the other
/// stored (a compare-and-swap across encodings), so single sign-on and single logout
/// work throughout, and no session is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_while_the_nodes_write_sessions_in_different_encodings() {
    let s = scenario_with(2, |index, config| {
        config.idp.session.sso_session_encoding = if index == 0 {
            idp::login::SessionEncoding::Json
        } else {
            idp::login::SessionEncoding::Compact
        };
    })
    .await;
    one_login_three_organisations_one_logout(&s).await;
    let served = s.balancer.as_ref().unwrap().served();
    assert!(
        served.iter().all(|n| *n >= 5),
        "both nodes served the browser: {served:?}"
    );
}
