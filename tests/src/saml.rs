//! SAML harness: an IdP configured with extra service providers, a pysaml2 service
//! provider driven step by step (`tests/saml-sp/sp.py serve`, one process per SP, JSON in
//! and out), `xmlsec1` checks of every signature the IdP makes, and crafted requests
//! for the negative tests.
//!
//! `tests/run` creates `tests/saml-sp/.venv` (pysaml2) and installs `xmlsec1`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;
use base64::Engine as _;
use reqwest::{Method, Url};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use idp::config::{ConfigSource, EnvOverrides, LoadedConfig};

use crate::agent::{Agent, Form, Page};
use crate::{repo_root, SqliteDatabase, TestIdp};

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
pub const STATUS_NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
pub const STATUS_INVALID_NAME_ID_POLICY: &str =
    "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const NAME_FORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const SSO_COOKIE: &str = "__Host-idp_sso";

// --- configuration ---------------------------------------------------------------------

/// The shipped configuration (as [`crate::idp_server::shipped_config`]) with its tenant
/// files copied to a temporary directory and each `(tenant, table)` of `extra` appended to
/// `<tenant>.toml` (a `[[saml_sp]]` table as TOML text). Keep the directory as long as the
/// IdP runs.
pub fn config_with_sps(
    database_url: &str,
    extra: &[(&str, String)],
) -> (LoadedConfig, tempfile::TempDir) {
    crate::use_repo_root_as_cwd();
    let root = repo_root();
    let tenants = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let shipped = root.join("config/tenants");
    for entry in std::fs::read_dir(&shipped).unwrap_or_else(|e| panic!("{shipped:?}: {e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{shipped:?}: {e}")).path();
        if path.extension().is_some_and(|x| x == "toml") {
            let name = path.file_name().unwrap_or_default();
            std::fs::copy(&path, tenants.path().join(name))
                .unwrap_or_else(|e| panic!("copy {path:?}: {e}"));
        }
    }
    for (tenant, table) in extra {
        append(tenants.path(), tenant, table);
        for (user_tenant, grant) in grants_for(tenant, table) {
            append(tenants.path(), &user_tenant, &grant);
        }
    }
    let env = EnvOverrides {
        database_url: Some(database_url.to_owned()),
        listen: Some("127.0.0.1:0".to_owned()),
        tenants_dir: Some(tenants.path().display().to_string()),
        directory_seed_file: Some(root.join("config/directory-dev.toml").display().to_string()),
        tls_certificate: Some(
            root.join("certs-dev/tls/localhost.pem")
                .display()
                .to_string(),
        ),
        tls_private_key: Some(
            root.join("certs-dev/tls/localhost.key.pem")
                .display()
                .to_string(),
        ),
        ..EnvOverrides::default()
    };
    let config = idp::config::load(&ConfigSource { file: None, env })
        .unwrap_or_else(|problems| panic!("config with SAML SPs: {problems}"));
    (config, tenants)
}

fn append(dir: &Path, tenant: &str, table: &str) {
    let file = dir.join(format!("{tenant}.toml"));
    let mut text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("no tenant {tenant}: {e}"));
    text.push_str("\n\n");
    text.push_str(table);
    text.push('\n');
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{file:?}: {e}"));
}

/// Every attribute, as a grant names them.
pub const ALL_ATTRIBUTES: &str =
    "[\"givenName\", \"surname\", \"displayName\", \"employeeHsaId\", \
     \"personalIdentityNumber\", \"mail\", \"organizationName\", \"organizationIdentifier\", \
     \"orgAffiliation\", \"commissionHsaId\", \"commissionName\", \"commissionPurpose\", \
     \"commissionRight\", \"healthCareProviderHsaId\", \"healthCareUnitHsaId\", \
     \"levelOfAssurance\", \"authnMethod\"]";

/// The other side of each crossing a test application asks for (its `user_tenants`):
/// a `[[grant]]` of every attribute from each other tenant it names, unless the table
/// says `# no grants` (tests of the grants themselves).
fn grants_for(owner: &str, table: &str) -> Vec<(String, String)> {
    if table.contains("# no grants") {
        return Vec::new();
    }
    let parsed: toml::Table =
        toml::from_str(table).unwrap_or_else(|e| panic!("test table for {owner}: {e}\n{table}"));
    let mut grants = Vec::new();
    for kind in ["saml_sp", "oidc_client"] {
        let Some(apps) = parsed.get(kind).and_then(|v| v.as_array()) else {
            continue;
        };
        for app in apps {
            let id = app["id"].as_str().unwrap_or_default();
            let user_tenants = app.get("user_tenants").and_then(|v| v.as_array());
            for user_tenant in user_tenants.into_iter().flatten() {
                let user_tenant = user_tenant.as_str().unwrap_or_default();
                if user_tenant != owner {
                    grants.push((
                        user_tenant.to_owned(),
                        format!(
                            "[[grant]]\napplication = \"{owner}/{id}\"\nattributes = {ALL_ATTRIBUTES}\n"
                        ),
                    ));
                }
            }
        }
    }
    grants
}

/// An IdP (SQLite, in-memory sessions) with extra SAML SPs, and its metadata.
pub struct SamlIdp {
    pub idp: TestIdp,
    /// `GET /saml/metadata` as served at start.
    pub metadata: String,
    _db: SqliteDatabase,
    _tenants: tempfile::TempDir,
}

impl SamlIdp {
    /// Starts the IdP with `sps` (tenant, `[[saml_sp]]` table) and hands its metadata to
    /// every pysaml2 SP in `trusting`.
    pub async fn start(sps: &[(&str, String)], trusting: &[&PySp]) -> Self {
        Self::start_with(sps, trusting, |_| {}).await
    }

    /// Like [`SamlIdp::start`], with `edit` applied to the configuration first.
    pub async fn start_with(
        sps: &[(&str, String)],
        trusting: &[&PySp],
        edit: impl FnOnce(&mut LoadedConfig),
    ) -> Self {
        let db = SqliteDatabase::create().unwrap();
        let (mut config, tenants) = config_with_sps(&db.url, sps);
        edit(&mut config);
        let idp = TestIdp::start(config).await.unwrap();
        let response = crate::https_client()
            .get(idp.url("/saml/metadata"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /saml/metadata: {e}"));
        let status = response.status();
        let metadata = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "GET /saml/metadata: {metadata}");
        for sp in trusting {
            sp.trust_idp(&metadata);
        }
        Self {
            idp,
            metadata,
            _db: db,
            _tenants: tenants,
        }
    }

    /// The IdP's entityID (`<public_url>/saml/metadata`).
    pub fn entity_id(&self) -> String {
        self.idp.url("/saml/metadata")
    }

    pub fn url(&self, path: &str) -> String {
        self.idp.url(path)
    }
}

// --- the pysaml2 service provider ------------------------------------------------------

fn sp_dir() -> PathBuf {
    repo_root().join("tests/saml-sp")
}

fn python() -> PathBuf {
    let python = sp_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run tests/run once (it creates the pysaml2 virtualenv)",
        python.display()
    );
    python
}

/// A pysaml2 SP in its own work directory (keys, options, logins), served by one
/// `sp.py serve` process (pysaml2 takes a second to import), ended when dropped.
pub struct PySp {
    process: tokio::sync::Mutex<SpProcess>,
    dir: tempfile::TempDir,
    pub entity_id: String,
    pub acs_url: String,
    pub slo_url: String,
    pub metadata: String,
    pub metadata_file: PathBuf,
    pub signing_key: PathBuf,
    pub signing_certificate: PathBuf,
    /// A key pair the IdP does not know (for forged signatures).
    pub other_key: PathBuf,
    pub other_certificate: PathBuf,
    pub encryption_key: Option<PathBuf>,
}

/// A message the SP sends through the browser: a Redirect URL or a POST form.
#[derive(Debug, Clone)]
pub struct SpMessage {
    pub request_id: String,
    pub xml: String,
    pub url: Option<String>,
    pub form: Option<Form>,
}

impl SpMessage {
    fn from_json(answer: &Value) -> Self {
        let form = answer["action"].as_str().map(|action| Form {
            action: Url::parse(action).unwrap_or_else(|e| panic!("{action}: {e}")),
            method: "post".into(),
            fields: answer["fields"]
                .as_object()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        });
        Self {
            request_id: answer["request_id"].as_str().unwrap_or_default().to_owned(),
            xml: answer["xml"].as_str().unwrap_or_default().to_owned(),
            url: answer["url"].as_str().map(str::to_owned),
            form,
        }
    }

    /// Sends it with the browser (GET the URL or POST the form), without following any
    /// redirect: the first answer of the IdP.
    pub async fn send(&self, agent: &Agent) -> Page {
        if let Some(url) = &self.url {
            agent.get(url).await
        } else if let Some(form) = &self.form {
            agent
                .request(Method::POST, &form.action, Some(&form.fields))
                .await
        } else {
            panic!("neither URL nor form: {self:?}")
        }
    }
}

impl PySp {
    /// `sp.py init` with `options` (see sp.py); the entityID is
    /// `https://sp.example.test/<name>` unless `options` has one.
    pub async fn init(name: &str, options: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut request = json!({ "entity_id": format!("https://sp.example.test/{name}") });
        if let (Some(target), Some(extra)) = (request.as_object_mut(), options.as_object()) {
            for (k, v) in extra {
                target.insert(k.clone(), v.clone());
            }
        }
        let mut process =
            SpProcess::start(dir.path()).unwrap_or_else(|e| panic!("sp.py serve: {e:#}"));
        let answer = process
            .call("init", &request)
            .await
            .unwrap_or_else(|e| panic!("sp.py init: {e:#}"));
        let path = |key: &str| PathBuf::from(answer[key].as_str().unwrap_or_default());
        Self {
            process: tokio::sync::Mutex::new(process),
            entity_id: answer["entity_id"].as_str().unwrap_or_default().to_owned(),
            acs_url: answer["acs_url"].as_str().unwrap_or_default().to_owned(),
            slo_url: answer["slo_url"].as_str().unwrap_or_default().to_owned(),
            metadata: answer["metadata"].as_str().unwrap_or_default().to_owned(),
            metadata_file: path("metadata_file"),
            signing_key: path("signing_key"),
            signing_certificate: path("signing_certificate"),
            other_key: path("other_key"),
            other_certificate: path("other_certificate"),
            encryption_key: answer["encryption_key"].as_str().map(PathBuf::from),
            dir,
        }
    }

    /// A `[[saml_sp]]` table registering this SP: `id`, `profile`, the metadata file,
    /// users of every tenant unless `extra` sets `user_tenants`, and the `extra` keys.
    pub fn sp_table(&self, id: &str, profile: &str, extra: &str) -> String {
        let mut table = format!(
            "[[saml_sp]]\nid = \"{id}\"\ndisplay_name = {{ sv = \"Test-SP {id}\", en = \"Test SP {id}\" }}\n\
             entity_id = \"{}\"\nprofile = \"{profile}\"\nmetadata_file = \"{}\"\n",
            self.entity_id,
            self.metadata_file.display()
        );
        if !extra.contains("user_tenants") {
            table.push_str("user_tenants = [\"region\", \"storstad\", \"lillby\"]\n");
        }
        table.push_str(extra);
        table.push('\n');
        table
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Saves the IdP's metadata where every later step reads it.
    pub fn trust_idp(&self, metadata: &str) {
        std::fs::write(self.dir.path().join("idp-metadata.xml"), metadata).unwrap();
    }

    /// One `sp.py` step; panics when it fails.
    pub async fn run(&self, command: &str, input: Value) -> Value {
        self.process
            .lock()
            .await
            .call(command, &input)
            .await
            .unwrap_or_else(|e| panic!("sp.py {command}: {e:#}"))
    }

    /// An AuthnRequest (`options`: binding redirect|post, loa, force_authn, is_passive,
    /// name_id_format, relay_state, sign, signing_key, acs_url, acs_index, destination).
    pub async fn authn_request(&self, options: Value) -> SpMessage {
        SpMessage::from_json(&self.run("authn-request", options).await)
    }

    /// pysaml2's reading of the `SAMLResponse` in `form` (signatures, InResponseTo,
    /// Audience, Recipient, times) and what it says.
    pub async fn consume_response(&self, form: &Form, request_id: &str) -> Value {
        let response = form
            .field("SAMLResponse")
            .unwrap_or_else(|| panic!("no SAMLResponse in the form {form:?}"));
        self.run(
            "consume-response",
            json!({
                "saml_response": response,
                "relay_state": form.field("RelayState"),
                "request_id": request_id,
            }),
        )
        .await
    }

    /// An SP-initiated LogoutRequest for the last login (`options`: binding, relay_state).
    pub async fn logout_request(&self, options: Value) -> SpMessage {
        SpMessage::from_json(&self.run("logout-request", options).await)
    }

    /// The IdP's LogoutResponse, as it arrived (a redirect to, or a form posting to, our
    /// SLO endpoint).
    pub async fn consume_logout_response(&self, arrival: &ToSp) -> Value {
        self.run("consume-logout-response", arrival.as_json()).await
    }

    /// An IdP LogoutRequest as it arrived; the answer carries our LogoutResponse in
    /// `response` (`url` or `action` + `fields`). `respond_status` (a status URI) makes
    /// the SP answer that instead of Success.
    pub async fn consume_logout_request(
        &self,
        arrival: &ToSp,
        respond_status: Option<&str>,
    ) -> Value {
        let mut input = arrival.as_json();
        if let Some(status) = respond_status {
            input["respond_status"] = json!(status);
        }
        self.run("consume-logout-request", input).await
    }

    /// The query of a Redirect-binding message with `xml` (deflated, base64), signed with
    /// `key` (a path) when given.
    pub async fn redirect_query(
        &self,
        xml: &str,
        relay_state: Option<&str>,
        key: Option<&Path>,
    ) -> String {
        let answer = self
            .run(
                "redirect-encode",
                json!({
                    "xml": xml,
                    "relay_state": relay_state,
                    "sign": key.is_some(),
                    "key": key.map(|k| k.display().to_string()),
                }),
            )
            .await;
        answer["query"].as_str().unwrap_or_default().to_owned()
    }
}

/// `sp.py serve <workdir>`: one JSON line in, one out.
struct SpProcess {
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
    _child: tokio::process::Child,
}

impl SpProcess {
    fn start(workdir: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(python())
            .arg("-W")
            .arg("ignore")
            .arg(sp_dir().join("sp.py"))
            .arg("serve")
            .arg(workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start tests/saml-sp/.venv/bin/python")?;
        Ok(Self {
            stdin: child.stdin.take().context("stdin")?,
            stdout: tokio::io::BufReader::new(child.stdout.take().context("stdout")?),
            _child: child,
        })
    }

    async fn call(&mut self, command: &str, input: &Value) -> anyhow::Result<Value> {
        use tokio::io::AsyncBufReadExt;
        let mut line = json!({ "command": command, "input": input }).to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).await?;
        if answer.is_empty() {
            anyhow::bail!("sp.py serve ended without answering {command}");
        }
        let mut answer: Value = serde_json::from_str(&answer)
            .with_context(|| format!("sp.py serve answered {answer}"))?;
        if answer["ok"] != true {
            anyhow::bail!(
                "{}\n{}",
                answer["error"].as_str().unwrap_or_default(),
                answer["traceback"].as_str().unwrap_or_default()
            );
        }
        Ok(answer["answer"].take())
    }
}

async fn run_python(args: &[&str], input: &Value) -> anyhow::Result<Value> {
    let mut child = Command::new(python())
        .arg("-W")
        .arg("ignore")
        .arg(sp_dir().join("sp.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start tests/saml-sp/.venv/bin/python")?;
    let mut stdin = child.stdin.take().context("stdin")?;
    stdin.write_all(input.to_string().as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        anyhow::bail!(
            "sp.py {args:?} failed ({}): {stdout}\n{stderr}",
            output.status
        );
    }
    serde_json::from_str(&stdout)
        .with_context(|| format!("sp.py {args:?} printed {stdout}\n{stderr}"))
}

/// The shape of an XML document (sp.py xml-info): root, elements with an ID, signatures
/// (parent, references, algorithms), EncryptedData algorithms.
pub async fn xml_info(xml: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    run_python(
        &["xml-info", &dir.path().display().to_string()],
        &json!({ "xml": xml }),
    )
    .await
    .unwrap_or_else(|e| panic!("xml-info: {e:#}"))
}

// --- the browser between IdP and SP ----------------------------------------------------

/// Where the IdP sent the browser when it left the IdP: a redirect to an SP, or an
/// auto-submitting form posting to one; or an IdP page that does neither.
#[derive(Debug, Clone)]
pub enum ToSp {
    Redirect(Url),
    Form(Form),
    Page(Page),
}

impl ToSp {
    pub fn as_json(&self) -> Value {
        match self {
            ToSp::Redirect(url) => json!({ "url": url.as_str() }),
            ToSp::Form(form) => json!({
                "fields": form
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect::<serde_json::Map<String, Value>>(),
            }),
            ToSp::Page(page) => panic!(
                "the IdP did not send the browser to an SP: {} {} {:?}\n{}",
                page.status,
                page.url,
                page.error_code(),
                page.body
            ),
        }
    }

    /// Where it goes (the SP endpoint).
    pub fn target(&self) -> Option<&Url> {
        match self {
            ToSp::Redirect(url) => Some(url),
            ToSp::Form(form) => Some(&form.action),
            ToSp::Page(_) => None,
        }
    }

    /// The SAML message it carries (decoded XML), for signature checks.
    pub async fn saml_xml(&self) -> Option<String> {
        match self {
            ToSp::Redirect(url) => {
                let (_, data) = url
                    .query_pairs()
                    .find(|(k, _)| k == "SAMLRequest" || k == "SAMLResponse")?;
                let dir = tempfile::tempdir().unwrap();
                let answer = run_python(
                    &["inflate", &dir.path().display().to_string()],
                    &json!({ "data": data }),
                )
                .await
                .ok()?;
                answer["xml"].as_str().map(str::to_owned)
            }
            ToSp::Form(form) => {
                let data = form
                    .field("SAMLRequest")
                    .or_else(|| form.field("SAMLResponse"))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .ok()?;
                String::from_utf8(bytes).ok()
            }
            ToSp::Page(_) => None,
        }
    }

    pub fn page(&self) -> Option<&Page> {
        match self {
            ToSp::Page(page) => Some(page),
            _ => None,
        }
    }
}

/// Follows redirects from `page` while they stay on the IdP (localhost); stops at a
/// redirect to another host (an SP) or at a page, which is read for a form posting to
/// another host.
pub async fn follow_to_sp(agent: &Agent, mut page: Page) -> ToSp {
    for _ in 0..25 {
        if page.is_redirect() {
            let next = page
                .location()
                .unwrap_or_else(|| panic!("redirect without Location from {}", page.url));
            if next.host_str() != Some("localhost") {
                return ToSp::Redirect(next);
            }
            page = agent.request(Method::GET, &next, None).await;
            continue;
        }
        if page.status == 200 {
            if let Some(form) = page.form() {
                if form.action.host_str() != Some("localhost")
                    && (form.field("SAMLResponse").is_some() || form.field("SAMLRequest").is_some())
                {
                    return ToSp::Form(form);
                }
            }
        }
        return ToSp::Page(page);
    }
    panic!("more than 25 redirects from {}", page.url)
}

/// Whether `page` is the IdP's login page (`/login?login=<id>`).
pub fn is_login_page(page: &Page) -> bool {
    page.url.path() == "/login" && page.url.query_pairs().any(|(k, _)| k == "login")
}

/// Sends `request` with `agent`, logs in with its certificate when the IdP asks, and
/// returns where the IdP sent the browser, and whether a login page was shown.
pub async fn sso(idp: &TestIdp, agent: &Agent, request: &SpMessage) -> (ToSp, bool) {
    let first = request.send(agent).await;
    match follow_to_sp(agent, first).await {
        ToSp::Page(page) if is_login_page(&page) => {
            let landed = agent.log_in_with_certificate(idp, &page).await;
            let landed = follow_to_sp(agent, landed).await;
            (landed, true)
        }
        other => (other, false),
    }
}

/// Logs in to `sp` with `agent` (SP-initiated; `options` as for
/// [`PySp::authn_request`]) and returns pysaml2's reading of the response, its
/// request and the response form.
pub async fn log_in(idp: &TestIdp, agent: &Agent, sp: &PySp, options: Value) -> Login {
    let request = sp.authn_request(options).await;
    let (arrival, login_page_shown) = sso(idp, agent, &request).await;
    let form = match &arrival {
        ToSp::Form(form) => form.clone(),
        other => panic!(
            "expected a SAMLResponse form for {}, got {other:?}",
            sp.entity_id
        ),
    };
    assert_eq!(
        form.action.as_str(),
        sp.acs_url,
        "the form posts to the ACS"
    );
    let result = sp.consume_response(&form, &request.request_id).await;
    Login {
        request,
        form,
        result,
        login_page_shown,
    }
}

/// One SP-initiated login: the request, the response form and pysaml2's reading.
#[derive(Debug, Clone)]
pub struct Login {
    pub request: SpMessage,
    pub form: Form,
    pub result: Value,
    pub login_page_shown: bool,
}

impl Login {
    /// The decoded `SAMLResponse` XML.
    pub fn response_xml(&self) -> String {
        let data = self.form.field("SAMLResponse").unwrap_or_default();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap_or_default(),
        )
        .unwrap_or_default()
    }

    pub fn name_id(&self) -> &str {
        self.result["name_id"]["text"].as_str().unwrap_or_default()
    }

    /// The values of attribute `name` (a full URI).
    pub fn attribute(&self, name: &str) -> Vec<String> {
        self.result["attributes"][name]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn attribute_names(&self) -> Vec<String> {
        self.result["attributes"]
            .as_object()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default()
    }
}

// --- xmlsec1 ---------------------------------------------------------------------------

/// The IdP's SAML signing certificates (certs-dev/signing/saml-signing*.pem: RSA, and
/// ECDSA for SPs whose metadata lists ecdsa-sha256).
pub fn idp_signing_certificates() -> Vec<PathBuf> {
    let dir = repo_root().join("certs-dev/signing");
    let mut certificates: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            name.starts_with("saml-signing")
                && name.ends_with(".pem")
                && !name.ends_with(".key.pem")
        })
        .collect();
    certificates.sort();
    assert!(
        !certificates.is_empty(),
        "no SAML signing certificate in {dir:?}"
    );
    certificates
}

/// The element types whose `ID` attribute a signature may reference.
const ID_ATTRIBUTES: &[&str] = &[
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
    "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest",
    "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
    "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
    "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor",
];

async fn xmlsec1(args: &[String], input_xml: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("message.xml");
    std::fs::write(&file, input_xml).map_err(|e| e.to_string())?;
    let output = Command::new("xmlsec1")
        .args(args)
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run xmlsec1 (tests/run installs it): {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("xmlsec1 {args:?}: {stderr}"))
    }
}

fn id_attr_args() -> Vec<String> {
    ID_ATTRIBUTES
        .iter()
        .map(|element| format!("--id-attr:ID {element}"))
        .flat_map(|a| {
            let (flag, element) = a.split_once(' ').unwrap_or((&a, ""));
            [flag.to_owned(), element.to_owned()]
        })
        .collect()
}

/// `xmlsec1 --verify` of the signature inside the element with ID `node_id` (the first
/// signature in the document when `None`) with the public key of `certificate` only.
pub async fn xmlsec_verify(
    xml: &str,
    certificate: &Path,
    node_id: Option<&str>,
) -> Result<(), String> {
    let mut args = vec![
        "--verify".to_owned(),
        "--enabled-reference-uris".to_owned(),
        "empty,same-doc".to_owned(),
        "--pubkey-cert-pem".to_owned(),
        certificate.display().to_string(),
    ];
    args.extend(id_attr_args());
    if let Some(id) = node_id {
        args.push("--node-id".to_owned());
        args.push(id.to_owned());
    }
    xmlsec1(&args, xml).await.map(|_| ())
}

/// `xmlsec1 --decrypt` of the first EncryptedData with `key`: the document with the
/// plaintext in its place.
pub async fn xmlsec_decrypt(xml: &str, key: &Path) -> Result<String, String> {
    let mut args = vec![
        "--decrypt".to_owned(),
        "--privkey-pem".to_owned(),
        key.display().to_string(),
    ];
    args.extend(id_attr_args());
    xmlsec1(&args, xml).await
}

/// `xmlsec1 --sign` of a document holding a signature template ([`signature_template`]).
pub async fn xmlsec_sign(xml: &str, key: &Path, certificate: &Path) -> Result<String, String> {
    let mut args = vec![
        "--sign".to_owned(),
        "--privkey-pem".to_owned(),
        format!("{},{}", key.display(), certificate.display()),
    ];
    args.extend(id_attr_args());
    xmlsec1(&args, xml).await
}

/// An empty enveloped signature over `#id`: exclusive c14n, RSA-SHA256, SHA-256.
pub fn signature_template(id: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue></ds:SignatureValue>\
         <ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
}

/// Signs a SAML request (the root carries `ID`, the first child is `saml:Issuer`) with an
/// enveloped signature placed after the Issuer, as SAML requires.
pub async fn sign_request(xml: &str, key: &Path, certificate: &Path) -> String {
    let id = attribute_value(xml, "ID").unwrap_or_else(|| panic!("no ID in {xml}"));
    let end = xml
        .find("</saml:Issuer>")
        .unwrap_or_else(|| panic!("no </saml:Issuer> in {xml}"))
        + "</saml:Issuer>".len();
    let template = format!("{}{}{}", &xml[..end], signature_template(&id), &xml[end..]);
    xmlsec_sign(&template, key, certificate)
        .await
        .unwrap_or_else(|e| panic!("signing failed: {e}"))
}

/// The value of the first `name="..."` in `xml`.
pub fn attribute_value(xml: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = xml.find(&needle)? + needle.len();
    let end = xml[start..].find('"')? + start;
    Some(xml[start..end].to_owned())
}

/// Which signatures a message from the IdP carries, each verified with `xmlsec1`
/// against the IdP's signing certificate; encrypted assertions are first decrypted with
/// `decryption_key`.
#[derive(Debug, Clone, Default)]
pub struct CheckedSignatures {
    /// Local names of the elements whose enveloped signature verified (e.g. "Response",
    /// "Assertion").
    pub signed: Vec<String>,
    /// The SignatureMethod of each, in the same order.
    pub signature_methods: Vec<String>,
    pub encrypted: bool,
    /// EncryptedData Algorithm, when encrypted.
    pub encryption_algorithm: Option<String>,
    /// The document after decryption.
    pub plaintext: String,
}

impl CheckedSignatures {
    pub fn is_signed(&self, element: &str) -> bool {
        self.signed.iter().any(|s| s == element)
    }
}

/// Verifies every signature in an IdP message: each must sit directly in the element it
/// signs, reference that element's ID, use exclusive c14n and SHA-256, and verify with
/// the IdP's signing certificate (xmlsec1 started at that element). Panics otherwise.
pub async fn verify_idp_signatures(xml: &str, decryption_key: Option<&Path>) -> CheckedSignatures {
    let mut checked = CheckedSignatures {
        plaintext: xml.to_owned(),
        ..Default::default()
    };
    // Signatures over the message as sent (a Response signed around its
    // EncryptedAssertion verifies only before decryption) ...
    let before = xml_info(xml).await;
    let mut verified = Vec::new();
    verify_signatures_in(xml, &before, &[], &mut checked, &mut verified).await;
    // ... then those that decryption reveals (the assertion's own).
    if let Some(data) = before["encrypted_data"].as_array().and_then(|a| a.first()) {
        checked.encrypted = true;
        checked.encryption_algorithm = data["algorithm"].as_str().map(str::to_owned);
        let key = decryption_key.unwrap_or_else(|| panic!("encrypted, but no key given: {xml}"));
        checked.plaintext = xmlsec_decrypt(xml, key)
            .await
            .unwrap_or_else(|e| panic!("xmlsec1 cannot decrypt the IdP's message: {e}\n{xml}"));
        let after = xml_info(&checked.plaintext).await;
        let already = verified.clone();
        let plaintext = checked.plaintext.clone();
        verify_signatures_in(&plaintext, &after, &already, &mut checked, &mut verified).await;
    }
    checked
}

/// Checks each signature `info` lists in `xml` (except those in elements `skip`), and
/// records the element names and IDs that verified.
async fn verify_signatures_in(
    xml: &str,
    info: &Value,
    skip: &[String],
    checked: &mut CheckedSignatures,
    verified: &mut Vec<String>,
) {
    let signatures = info["signatures"].as_array().cloned().unwrap_or_default();
    let certificates = idp_signing_certificates();
    for signature in &signatures {
        let parent = signature["parent"].as_str().unwrap_or_default();
        let parent_id = signature["parent_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a signature in an element without ID: {signature}"));
        if skip.iter().any(|id| id == parent_id) {
            continue;
        }
        let references = signature["references"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            references.len(),
            1,
            "one reference per signature: {signature}"
        );
        assert_eq!(
            references[0]["uri"].as_str(),
            Some(format!("#{parent_id}").as_str()),
            "the signature in {parent} references its own element: {signature}"
        );
        assert_eq!(
            signature["canonicalization"].as_str(),
            Some("http://www.w3.org/2001/10/xml-exc-c14n#"),
            "exclusive c14n: {signature}"
        );
        assert_eq!(
            references[0]["digest_method"].as_str(),
            Some("http://www.w3.org/2001/04/xmlenc#sha256"),
            "SHA-256 digest: {signature}"
        );
        let method = signature["signature_method"].as_str().unwrap_or_default();
        assert!(
            method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
                || method == "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            "RSA-SHA256 or ECDSA-SHA256: {signature}"
        );
        let mut rejections = Vec::new();
        for certificate in &certificates {
            match xmlsec_verify(xml, certificate, Some(parent_id)).await {
                Ok(()) => {
                    rejections.clear();
                    break;
                }
                Err(e) => rejections.push(e),
            }
        }
        assert!(
            rejections.is_empty(),
            "xmlsec1 rejects the IdP's signature in {parent} {parent_id} with every IdP \
             signing certificate: {}\n{xml}",
            rejections.join("\n")
        );
        checked.signed.push(parent.to_owned());
        checked.signature_methods.push(method.to_owned());
        verified.push(parent_id.to_owned());
    }
}

/// Checks the signature of a Redirect-binding message (query `Signature` over
/// `SAMLRequest|SAMLResponse[&RelayState]&SigAlg`, raw as received) with the IdP's
/// signing certificates (sp.py verify-redirect: RSA-SHA256 or ECDSA-SHA256).
pub async fn verify_redirect_signature(url: &Url) -> Result<(), String> {
    let certificates: Vec<String> = idp_signing_certificates()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let answer = run_python(
        &["verify-redirect", &dir.path().display().to_string()],
        &json!({ "url": url.as_str(), "certificates": certificates }),
    )
    .await
    .map_err(|e| format!("{e:#}"))?;
    match answer["valid"].as_bool() {
        Some(true) => Ok(()),
        Some(false) => Err(format!("the query signature does not verify: {url}")),
        None => Err(format!("the message is not signed: {url}")),
    }
}

// --- crafted requests ------------------------------------------------------------------

/// An AuthnRequest written by hand, for what pysaml2 will not produce.
#[derive(Debug, Clone)]
pub struct CraftedAuthnRequest {
    pub id: String,
    pub issuer: String,
    pub destination: String,
    pub acs_url: Option<String>,
    pub issue_instant: time::OffsetDateTime,
    pub provider_name: String,
    /// Raw XML placed after the Issuer (e.g. a NameIDPolicy or Extensions).
    pub extra: String,
}

impl CraftedAuthnRequest {
    /// A plain request from `sp` to `idp`'s `/saml/sso`, issued now (the IdP's clock).
    pub fn new(sp: &PySp, idp: &TestIdp) -> Self {
        Self {
            id: format!("_{}", uuid::Uuid::new_v4().simple()),
            issuer: sp.entity_id.clone(),
            destination: idp.url("/saml/sso"),
            acs_url: Some(sp.acs_url.clone()),
            issue_instant: idp.state.clock.now(),
            provider_name: "Test SP".to_owned(),
            extra: String::new(),
        }
    }

    pub fn to_xml(&self) -> String {
        let instant = self
            .issue_instant
            .replace_nanosecond(0)
            .unwrap_or(self.issue_instant)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let acs = self
            .acs_url
            .as_ref()
            .map(|url| {
                format!(
                    " AssertionConsumerServiceURL=\"{url}\" \
                     ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\""
                )
            })
            .unwrap_or_default();
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
             ID=\"{}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{}\" \
             ProviderName=\"{}\"{acs}><saml:Issuer>{}</saml:Issuer>{}</samlp:AuthnRequest>",
            self.id, self.destination, self.provider_name, self.issuer, self.extra
        )
    }
}

/// POSTs `xml` to `/saml/sso` (HTTP-POST binding) without following redirects.
pub async fn post_request(
    idp: &TestIdp,
    agent: &Agent,
    xml: &str,
    relay_state: Option<&str>,
) -> Page {
    let mut fields = vec![(
        "SAMLRequest".to_owned(),
        base64::engine::general_purpose::STANDARD.encode(xml.as_bytes()),
    )];
    if let Some(relay_state) = relay_state {
        fields.push(("RelayState".to_owned(), relay_state.to_owned()));
    }
    let url = Url::parse(&idp.url("/saml/sso")).unwrap();
    agent.request(Method::POST, &url, Some(&fields)).await
}

/// Asserts that `page` is an IdP error page with `code` (HTTP 400 or 403), carrying no
/// SAML response, and that it set no SSO cookie.
pub fn assert_refused(page: &Page, code: &str) {
    if let Err(problem) = check_refused(page, code) {
        panic!("{problem}");
    }
}

/// [`assert_refused`] as a result, for tests that report several findings at once.
pub fn check_refused(page: &Page, code: &str) -> Result<(), String> {
    let seen = format!(
        "{} {} (x-idp-error {:?})",
        page.status,
        page.url,
        page.error_code()
    );
    if page.status != 400 && page.status != 403 {
        return Err(format!(
            "expected an error page with {code}, got {seen}:\n{}",
            truncated(&page.body)
        ));
    }
    if page.error_code() != Some(code) {
        return Err(format!("expected {code}, got {seen}"));
    }
    if page.body.contains("SAMLResponse") {
        return Err(format!("a refusal page carries no SAML response: {seen}"));
    }
    for cookie in page.headers.get_all(reqwest::header::SET_COOKIE) {
        let cookie = cookie.to_str().unwrap_or_default();
        if cookie.starts_with(&format!("{SSO_COOKIE}=")) && !cookie.contains("Max-Age=0") {
            return Err(format!("a refusal sets no SSO cookie: {seen}: {cookie}"));
        }
    }
    Ok(())
}

fn truncated(text: &str) -> &str {
    let mut end = text.len().min(2000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The status codes (top level first) of a SAML response or logout response that
/// pysaml2 read.
pub fn status_codes(result: &Value) -> Vec<String> {
    result["status_codes"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
