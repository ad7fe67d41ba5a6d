//! The shipped deployment, run as Kubernetes would run it, logs a person in.
//!
//! deploy/kubernetes/*.yaml and deploy/Dockerfile give the container's process (the
//! image's ENTRYPOINT with the container's args), environment, volume mounts, user,
//! security context and probes, and the ConfigMap's idp.toml; bubblewrap starts the
//! `idp` binary in a container like it: a read-only root file system like the image's,
//! user and group 10001 without capabilities, every volume at its mount path. The test
//! brings what the operator brings: its own PKI (not the development one), a PostgreSQL
//! database, a Redis, and the Secrets and ConfigMaps the Deployment names. As an
//! operator would with `kubectl exec`, it registers a tenant with an application
//! (`idp tenants import`) and imports a person (`idp directory import`); the person
//! logs in to the application with a certificate on the mutual-TLS listener, and the
//! application receives their identity. A write anywhere would fail on the read-only
//! root, so the login working shows that the IdP needs none.
//!
//! The one deviation from the manifests: every `listen` address of the configuration
//! keeps its host but gets a free port (tests never use fixed ports). The clients reach
//! the public host names at those ports, as DNS and the load balancers would lead them.

pub mod browser;
mod manifest;
pub mod peers;
mod pki;
mod sandbox;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::Url;

use browser::Browser;
use manifest::{Deployment, HttpGet};
use pki::Pki;
use sandbox::{Objects, Running, Sandbox};

/// The tenant, application and person the operator registers.
const TENANT: &str = "region";
const CLIENT_ID: &str = "region-journal";
const REDIRECT_URI: &str = "https://journal.region.example/callback";
const EMPLOYEE_HSA_ID_CLAIM: &str = "http://sambi.se/attributes/1/employeeHsaId";

fn tenant_file(client_secret_sha256: &str) -> String {
    format!(
        r#"id = "{TENANT}"
kind = "region"
organisation_number = "232100-0156"
display_name = {{ sv = "Testregionen", en = "Test Region" }}
admins = ["SE2321000156-kar01"]

[users]
hsa_id_prefixes = ["SE2321000156-"]
organisation_numbers = ["2321000156"]

[[oidc_client]]
id = "journal"
display_name = {{ sv = "Journalen", en = "Patient records" }}
client_id = "{CLIENT_ID}"
token_endpoint_auth_method = "client_secret_basic"
client_secret_sha256 = "{client_secret_sha256}"
redirect_uris = ["{REDIRECT_URI}"]
scopes = ["openid", "profile", "hsa"]
"#
    )
}

/// The organisation's HSA export of the person (docs/directory.md, CSV).
fn directory_export(person: &pki::Person) -> String {
    format!(
        "personal_identity_number,given_name,surname,hsa_id,organisation_number,organisation_name,commission_hsa_id,commission_name,commission_purpose,commission_rights\n\
         ,{},{},{},2321000156,Testregionen,,,,\n",
        person.given_name, person.surname, person.hsa_id
    )
}

fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// The dotted configuration key of an `IDP__<SECTION>__<KEY>_FILE` variable.
fn file_variable_key(name: &str) -> Option<String> {
    let key = name.strip_prefix("IDP__")?.strip_suffix("_FILE")?;
    Some(key.split("__").collect::<Vec<_>>().join(".").to_lowercase())
}

/// A listener of the configuration: its port in the manifests and here.
struct Listener {
    key: String,
    container_port: u16,
    port: u16,
}

/// Gives every `listen` address of `config` a free port (the test's one deviation), each
/// another one (a port just released can be handed out again).
fn use_free_ports(config: &mut toml::Table) -> Vec<Listener> {
    let mut listeners: Vec<Listener> = Vec::new();
    for (section, value) in config.iter_mut() {
        let Some(listen) = value.get_mut("listen") else {
            continue;
        };
        let addr: SocketAddr = listen.as_str().unwrap().parse().unwrap();
        let port = std::iter::repeat_with(peers::free_port)
            .find(|port| listeners.iter().all(|l| l.port != *port))
            .unwrap_or_default();
        *listen = toml::Value::String(SocketAddr::new(addr.ip(), port).to_string());
        listeners.push(Listener {
            key: format!("{section}.listen"),
            container_port: addr.port(),
            port,
        });
    }
    listeners
}

fn port_named(listeners: &[Listener], key: &str) -> Option<u16> {
    listeners.iter().find(|l| l.key == key).map(|l| l.port)
}

fn port_of(listeners: &[Listener], key: &str) -> u16 {
    port_named(listeners, key).unwrap_or_else(|| panic!("the configuration sets no {key}"))
}

/// Asks `url` until it answers 200-399 (a kubelet's success), at most `within`.
async fn probe_until_success(url: &str, idp: &mut Running, within: Duration) {
    // The kubelet does not check the certificate of an HTTPS probe.
    let kubelet = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let deadline = Instant::now() + within;
    loop {
        idp.assert_running();
        let status = kubelet.get(url).send().await.map(|r| r.status());
        match status {
            Ok(status) if status.is_success() || status.is_redirection() => return,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("probe {url}: {other:?}\n{}", idp.log()),
        }
    }
}

/// Each probe of the container, on the port and path it names.
async fn check_probes(deployment: &Deployment, listeners: &[Listener], idp: &mut Running) {
    let container = &deployment.container;
    let probes = [
        ("startupProbe", &container.startup_probe),
        ("readinessProbe", &container.readiness_probe),
        ("livenessProbe", &container.liveness_probe),
    ];
    for (name, probe) in probes {
        let get: &HttpGet = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .unwrap_or_else(|| panic!("the container has no httpGet {name}"));
        let container_port = deployment.probe_port(get);
        let scheme = get.scheme.as_deref().unwrap_or("HTTP").to_lowercase();
        let url = match listeners
            .iter()
            .find(|l| l.container_port == container_port)
        {
            Some(listener) => format!("{scheme}://127.0.0.1:{}{}", listener.port, get.path),
            None => panic!("{name} names port {container_port}, which no listener serves"),
        };
        probe_until_success(&url, idp, Duration::from_secs(60)).await;
    }
}

/// A JWT's claims, after checking its RS256 signature with `public_key`.
fn verified_claims(jwt: &str, public_key: &[u8]) -> serde_json::Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        panic!("not a JWT: {jwt}");
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&decode(header)).unwrap();
    assert_eq!(header["alg"], "RS256", "{header}");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key,
    )
    .verify(
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &decode(signature),
    )
    .expect("the ID token is signed with the mounted OIDC key");
    serde_json::from_slice(&decode(claims)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_deployment_runs_as_kubernetes_would_and_logs_a_person_in() {
    idp::server::install_crypto_provider();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let deployment = Deployment::read(
        &root.join("deploy/kubernetes"),
        "idp",
        "idp",
        &root.join("deploy/Dockerfile"),
    );
    let security = &deployment.container.security_context;
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let (uid, gid) = deployment.user_and_group();
    assert_ne!(uid, 0, "runAsUser");
    let mut objects = Objects::shipped(&deployment);

    // The ConfigMap's configuration, where IDP_CONFIG names it, with free ports.
    let config_path = deployment
        .env_value("IDP_CONFIG")
        .expect("the container names its configuration with IDP_CONFIG");
    let shipped = objects.read(&deployment, config_path);
    let mut config: toml::Table = toml::from_str(std::str::from_utf8(&shipped).unwrap()).unwrap();
    let listeners = use_free_ports(&mut config);
    objects.place(
        &deployment,
        config_path,
        toml::to_string(&config).unwrap().into_bytes(),
    );

    // What the operator brings: PostgreSQL, Redis, the PKI, the Secrets.
    let database_url = peers::postgres_database().await;
    let redis = peers::Redis::start().await;
    let mut crl_server = peers::CrlServer::bind().await;
    #[allow(clippy::disallowed_methods)] // certificates are checked against real time
    let now = time::OffsetDateTime::now_utc();
    let pki = Pki::for_config(&config, &crl_server.base, now);
    crl_server.serve(pki.crls.clone());
    for (path, content) in &pki.files {
        objects.place(&deployment, path, content.clone());
    }
    let secrets = BTreeMap::from([
        ("storage.database_url", database_url),
        ("session.redis_url", redis.url.clone()),
        ("saml.pseudonym_secret", random_secret()),
        ("oidc.subject_salt", random_secret()),
    ]);
    for var in &deployment.container.env {
        if let (Some(key), Some(path)) = (file_variable_key(&var.name), &var.value) {
            let value = secrets
                .get(key.as_str())
                .unwrap_or_else(|| panic!("{}: the test has no value for {key}", var.name));
            objects.place(&deployment, path, value.clone().into_bytes());
        }
    }
    let client_secret = random_secret();
    let client_secret_sha256 = hex(&sha256(client_secret.as_bytes()));
    let tenants_dir = config["tenants_dir"].as_str().unwrap().to_owned();
    objects.place(
        &deployment,
        &format!("{tenants_dir}/{TENANT}.toml"),
        tenant_file(&client_secret_sha256).into_bytes(),
    );

    // The container starts; the kubelet probes it.
    let sandbox = Sandbox::new(&deployment, &objects, Path::new(env!("CARGO_BIN_EXE_idp")));
    let mut idp = sandbox.start();
    check_probes(&deployment, &listeners, &mut idp).await;

    // The operator, with `kubectl exec deploy/idp -- idp ...`.
    let checked = sandbox.exec(&["check-config"], b"");
    assert_eq!(
        checked.trim(),
        "configuration OK: 1 tenants, 1 applications"
    );
    let imported = sandbox.exec(&["tenants", "import", &tenants_dir], b"");
    assert!(imported.starts_with(&format!("+ {TENANT}\n")), "{imported}");
    let person = &pki.person;
    let export = directory_export(person);
    let directory = sandbox.exec(
        &[
            "directory",
            "import",
            "--tenant",
            TENANT,
            "--format",
            "csv",
            "/dev/stdin",
        ],
        export.as_bytes(),
    );
    assert!(directory.contains("1 created"), "{directory}");

    // The person logs in to the application with their certificate.
    let public_url = Url::parse(config["public_url"].as_str().unwrap()).unwrap();
    let mtls_url = Url::parse(config["mtls"]["public_url"].as_str().unwrap()).unwrap();
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let browser = Browser::new(
        &pki.tls_ca_pem,
        &person.identity_pem,
        &[
            (
                public_url.host_str().unwrap().to_owned(),
                at(port_of(&listeners, "server.listen")),
            ),
            (
                mtls_url.host_str().unwrap().to_owned(),
                at(port_of(&listeners, "mtls.listen")),
            ),
        ],
    );
    let verifier = random_secret();
    let challenge = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    let mut authorize = public_url.join("/oidc/authorize").unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile hsa")
        .append_pair("state", "st")
        .append_pair("nonce", "n0")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    // Every node takes a registry change into use within [registry] watch_interval_millis.
    let deadline = Instant::now() + Duration::from_secs(20);
    let login_id = loop {
        let page = match browser.open_until(&authorize, REDIRECT_URI).await {
            Ok(url) => panic!("a code before any login: {url}"),
            Err(page) => page,
        };
        if let Some((_, id)) = page.url.query_pairs().find(|(k, _)| k == "login") {
            break id.into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the application never became known: {} {}\n{}",
            page.status,
            page.body,
            idp.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut certificate_login = mtls_url.join("/mtls/login").unwrap();
    certificate_login
        .query_pairs_mut()
        .append_pair("login", &login_id);
    let callback = browser
        .open_until(&certificate_login, REDIRECT_URI)
        .await
        .unwrap_or_else(|page| {
            panic!(
                "the login did not return to the application: {} {}: {}\n{}",
                page.status,
                page.url,
                page.body,
                idp.log()
            )
        });
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("st"));
    let code = param("code").expect("a code");

    // The application redeems the code: the person's identity, signed with the
    // deployment's key.
    let tokens: serde_json::Value = browser
        .client
        .post(public_url.join("/oidc/token").unwrap())
        .basic_auth(CLIENT_ID, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no ID token: {tokens}"));
    let claims = verified_claims(id_token, &pki.oidc_rs256_public_key);
    assert_eq!(
        claims["iss"].as_str().map(|i| i.trim_end_matches('/')),
        Some(public_url.as_str().trim_end_matches('/'))
    );
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], "n0");
    assert_eq!(claims[EMPLOYEE_HSA_ID_CLAIM], person.hsa_id.as_str());
    assert_eq!(claims["amr"], serde_json::json!(["mtls"]));
    let userinfo: serde_json::Value = browser
        .client
        .get(public_url.join("/oidc/userinfo").unwrap())
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["given_name"], person.given_name.as_str());
    assert_eq!(userinfo["family_name"], person.surname.as_str());

    // The operator's view on the management port: the login by tenant and application,
    // the certificates' expiry by key, the process.
    let metrics = reqwest::get(format!(
        "http://127.0.0.1:{}/metrics",
        port_of(&listeners, "management.listen")
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    for series in [
        format!(
            "idp_logins_total{{tenant=\"{TENANT}\",application=\"journal\",method=\"mtls\",result=\"success\"}} 1"
        ),
        "idp_certificate_expiry_days{key=\"server.tls_certificate\"}".to_owned(),
        "idp_certificate_expiry_days{key=\"trust.anchors[0]\"}".to_owned(),
        "idp_store_operation_duration_seconds_count{store=\"session_store\"".to_owned(),
        "idp_build_info{".to_owned(),
        "process_resident_memory_bytes".to_owned(),
    ] {
        assert!(metrics.contains(&series), "{series} missing in\n{metrics}");
    }

    // The IdP ran as the manifest says: its user in its namespace, no capabilities, no
    // way to gain privileges, a read-only root and read-only volumes.
    let name = Path::new(&deployment.process()[0])
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let process = idp.process(&name).await;
    assert_eq!(process.uid_in_namespace(), uid);
    assert_eq!(process.gid_in_namespace(), gid);
    assert_eq!(process.effective_capabilities(), 0);
    assert!(process.has_no_new_privileges());
    let is_read_only = |mount_point: &str| {
        process
            .mount_options(mount_point)
            .split(',')
            .any(|o| o == "ro")
    };
    assert!(is_read_only("/"));
    for mount in &deployment.container.volume_mounts {
        assert_eq!(
            is_read_only(&mount.mount_path),
            mount.read_only,
            "{}",
            mount.mount_path
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
