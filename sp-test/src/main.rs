//! `sp-test`: the test service provider and relying party.
//!
//! `sp-test phone` plays the reference phone app (see [`sp_test::phone`]); the
//! SAML SP, the OIDC RP and the `verify` command arrive with their issues (see
//! docs/ARCHITECTURE.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{ArgGroup, Parser, Subcommand};
use reqwest::Url;
use serde::Serialize;
use sp_test::phone::{Phone, PhoneCredential, PhoneError, Shown, Start};

#[derive(Parser)]
#[command(
    name = "sp-test",
    version,
    about = "Test service provider for the regional IdP"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Play the phone app: claim a login order, show it, then approve (sign) or decline.
    Phone(PhoneArgs),
    /// Serve the test applications (SAML SPs) of config/sp-test.toml.
    Serve(ServeArgs),
    /// Write each test SAML SP's metadata to <out-dir>/<id>.xml (the IdP's tenant files
    /// point there).
    Metadata(MetadataArgs),
    /// Drive one login flow against a running IdP for a time and print one JSON line:
    /// flows/s, latency percentiles, errors by kind, the server's CPU per flow.
    Load(Box<LoadArgs>),
    /// Write the directory import file of the load driver's own staff of the region
    /// (`sp-test load --mobile-staff`), for `idp directory import --tenant region`.
    LoadStaff(LoadStaffArgs),
    /// Write a generated platform of many organisations (the development tenants and
    /// generated municipalities with SAML and OIDC applications) for benchmarks.
    Platform(PlatformArgs),
    /// Write a federation's signed metadata aggregate (Sambi style): generated member
    /// SPs and the test SAML SPs of config/sp-test.toml, for the IdP's
    /// `[[saml.federation]]`.
    Federation(FederationArgs),
    /// Verify one application registration end to end: login with the mobile app (the
    /// reference phone and a development certificate), the response checks, the
    /// attributes, logout. Needs `idp serve` and `sp-test serve` running.
    Verify(VerifyArgs),
    /// Simulate an external national mobile eID service (BankID RP API v6 shape, mutual
    /// TLS) and its phone app; prints its addresses as one JSON line.
    NationalEid(NationalEidArgs),
}

#[derive(clap::Args)]
struct NationalEidArgs {
    /// Where the service's PKI is (written once when absent): service-ca.pem,
    /// server.pem, rp-client.pem and their keys, and a foreign CA.
    #[arg(long)]
    pki_dir: PathBuf,
    /// The RP API's address (HTTPS, mutual TLS); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The user side's address (`/sim/v1/`, plain HTTP); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    control_listen: std::net::SocketAddr,
    /// The development users whose keys sign (`<user>.chain.pem`, `<user>.key.pem`).
    #[arg(long, default_value = "certs-dev/users")]
    users_dir: PathBuf,
    #[arg(long, default_value_t = 180)]
    order_lifetime_seconds: u64,
    /// An order no app took within this time fails with startFailed.
    #[arg(long, default_value_t = 30)]
    start_timeout_seconds: u64,
    /// The oldest QR time accepted, behind the order's age.
    #[arg(long, default_value_t = 5)]
    qr_max_age_seconds: u64,
    /// Every RP API answer waits this long (a slow service).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Answer every RP API call with 503 maintenance.
    #[arg(long)]
    down: bool,
    /// Serve a server certificate of a CA the IdP does not pin (bad TLS).
    #[arg(long)]
    serve_foreign_certificate: bool,
}

#[derive(clap::Args)]
struct LoadArgs {
    /// The flow: oidc-code (authorization code flow from an SSO session), saml-sso (a
    /// SAML AuthnRequest answered from an SSO session), saml-certificate (a full
    /// certificate login to a SAML application, new browser and TLS handshake), mobile
    /// (a full mobile login with the reference phone, one mobile user per browser),
    /// mobile-order (the mobile order alone, from login pages opened before the
    /// measurement; needs --flows),
    /// transport (one small static file: the floor every request pays), handshake (the
    /// same from the mTLS listener over a new connection with the certificate: the
    /// floor a certificate login's handshake adds), admin-list (the
    /// admin API's list of tenants and one tenant's applications, with the operator
    /// token in SP_TEST_ADMIN_TOKEN).
    #[arg(long, default_value = "oidc-code")]
    flow: sp_test::load::Flow,
    #[arg(long, default_value = "https://localhost:8443")]
    idp: Url,
    /// The IdP's certificate-login (mTLS) listener.
    #[arg(long, default_value = "https://localhost:8444")]
    mtls: Url,
    /// Concurrent browsers, each with its own SSO session.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds of load before the measurement.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// The IdP's process id: its CPU time per flow and its memory are read from /proc.
    #[arg(long)]
    pid: Option<u32>,
    /// Flows started per second over all browsers, at fixed times (for a soak at a
    /// fraction of capacity; latency then counts from each flow's planned start).
    /// Without it each browser starts its next flow as soon as its last ends.
    #[arg(long)]
    rate: Option<f64>,
    /// Measure exactly this many flows instead of --duration seconds (for instruction
    /// counts under callgrind, which must cover the same work in every run).
    #[arg(long)]
    flows: Option<u64>,
    /// A process of the IdP's stores (Redis, PostgreSQL's postmaster; repeatable): its
    /// CPU per flow, with its children's, is reported as store_cpu_ms_per_flow.
    #[arg(long)]
    store_pid: Vec<u32>,
    /// A certs-dev user whose certificate logs the browsers in.
    #[arg(long, default_value = "david")]
    user: String,
    #[arg(long, default_value = "storstad-personal")]
    client_id: String,
    /// The client's secret (the development tenant's, published in docs/oidc.md).
    #[arg(long, default_value = "dev-secret-storstad-personal")]
    client_secret: String,
    #[arg(
        long,
        default_value = "https://localhost:9443/rp/storstad-personal/callback"
    )]
    redirect_uri: Url,
    #[arg(long, default_value = "certs-dev/tls/tls-ca.pem")]
    ca_cert: PathBuf,
    /// The SAML application of the SAML flows (signs its requests with the
    /// development key of certs-dev/signing).
    #[arg(long, default_value = "https://localhost:9443/sp/region-journal")]
    sp_entity_id: String,
    /// The mobile flow's users (certs-dev users with a mobile certificate), one per
    /// browser.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "anna-mobile,bertil,david,eva"
    )]
    mobile_users: Vec<String>,
    /// Instead of --mobile-users: this many of the driver's own staff of the region,
    /// with mobile certificates issued now by the development mobile CA (the IdP must
    /// know them: `sp-test load-staff` writes their directory import file).
    #[arg(long)]
    mobile_staff: Option<usize>,
}

#[derive(clap::Args)]
struct LoadStaffArgs {
    /// How many (the concurrency of the mobile load to come).
    #[arg(long, default_value_t = 16)]
    count: usize,
    /// The region's directory import file to write (CSV).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The sp-test application (config/sp-test.toml): region-journal, storstad-omsorg,
    /// lillby-hemtjanst, storstad-personal.
    #[arg(long)]
    app: String,
    /// A certs-dev mobile user: certs-dev/users/<USER>.chain.pem and .key.pem.
    #[arg(long, default_value = "anna-mobile")]
    user: String,
    #[arg(long, default_value = "config/sp-test.toml")]
    config: PathBuf,
    /// The IdP's tenant files: the application's registration says which attributes
    /// may be released.
    #[arg(long, default_value = "config/tenants")]
    tenants_dir: PathBuf,
    #[arg(long, default_value = "certs-dev/tls/tls-ca.pem")]
    ca_cert: PathBuf,
    /// The LoA URI the application must receive.
    #[arg(long)]
    expect_loa: Option<String>,
    /// An attribute (full name) that must be released; repeatable. Default: the
    /// profile's employeeHsaId.
    #[arg(long = "require-attribute")]
    require_attributes: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long, default_value = "config/sp-test.toml")]
    config: PathBuf,
}

#[derive(clap::Args)]
struct PlatformArgs {
    /// Where tenants/ (the IdP's IDP_TENANTS_DIR) and metadata/ are written.
    #[arg(long)]
    out: PathBuf,
    /// Tenants in all, the three development tenants included.
    #[arg(long, default_value_t = 50)]
    tenants: usize,
    /// Applications of each generated tenant (half SAML, half OIDC).
    #[arg(long, default_value_t = 20)]
    applications: usize,
    /// Directory persons in all (import files under directory/, one per generated
    /// tenant, for `idp directory import`).
    #[arg(long, default_value_t = 0)]
    persons: usize,
    /// The test applications' base URL.
    #[arg(long, default_value = "https://localhost:9443")]
    applications_url: String,
    /// The IdP's base URL.
    #[arg(long, default_value = "https://localhost:8443")]
    idp: String,
}

#[derive(clap::Args)]
struct FederationArgs {
    /// The aggregate's file.
    #[arg(long)]
    out: PathBuf,
    /// The federation's signing key and certificate (PEM).
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    cert: PathBuf,
    /// Generated member SPs besides the test SPs.
    #[arg(long, default_value_t = 1000)]
    members: usize,
    /// The test SPs' configuration (its SAML SPs are members too).
    #[arg(long, default_value = "config/sp-test.toml")]
    config: PathBuf,
    /// The members' registration authority.
    #[arg(long, default_value = "https://federation.example.se")]
    authority: String,
    /// Hours until validUntil.
    #[arg(long, default_value_t = 48)]
    valid_hours: u64,
    /// cacheDuration (xs:duration).
    #[arg(long, default_value = "PT1H")]
    cache_duration: String,
}

#[derive(clap::Args)]
struct MetadataArgs {
    #[arg(long, default_value = "config/sp-test.toml")]
    config: PathBuf,
    #[arg(long, default_value = "config/sp-test")]
    out_dir: PathBuf,
}

#[derive(clap::Args)]
#[command(
    group(ArgGroup::new("start").required(true).args(["qr", "autostart_token"])),
    group(ArgGroup::new("credential").args(["user", "cert", "p12"])),
)]
struct PhoneArgs {
    /// The IdP's base URL.
    #[arg(long, default_value = "https://localhost:8443")]
    idp: String,
    /// The scanned QR code content (app on another device).
    #[arg(long)]
    qr: Option<String>,
    /// The autostart token from the link that opened the app (app on this device).
    #[arg(long)]
    autostart_token: Option<String>,
    /// A certs-dev user: certs-dev/users/<USER>.chain.pem and <USER>.key.pem.
    #[arg(long)]
    user: Option<String>,
    /// Certificate chain PEM, leaf first.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key PEM (PKCS#8, SEC1 or PKCS#1).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// PKCS#12 file holding key and chain.
    #[arg(long, requires = "password")]
    p12: Option<PathBuf>,
    /// Password of the PKCS#12 file.
    #[arg(long, requires = "p12")]
    password: Option<String>,
    /// Decline instead of approving (the user pressed cancel); needs no credential.
    #[arg(long)]
    decline: bool,
    /// CA certificate(s) to trust for the IdP's TLS [default: certs-dev/tls/tls-ca.pem if present].
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Print a machine-readable result on stdout.
    #[arg(long)]
    json: bool,
}

/// The machine-readable result of `sp-test phone --json`.
#[derive(Serialize, Default)]
struct Report {
    /// "complete", "declined" or "failed".
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<Shown>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_algorithm: Option<&'static str>,
    /// The step that failed: "setup", "claim", "complete" or "decline".
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorReport>,
}

#[derive(Serialize)]
struct ErrorReport {
    /// "http", "refused", "protocol" or "local".
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    message: String,
}

impl ErrorReport {
    fn from_phone(error: &PhoneError) -> Self {
        match error {
            PhoneError::Http(message) => Self::other("http", message.clone()),
            PhoneError::Refused {
                status,
                code,
                message,
            } => Self {
                kind: "refused",
                status: Some(*status),
                code: Some(code.clone()),
                message: message.clone(),
            },
            PhoneError::Protocol(message) => Self::other("protocol", message.clone()),
        }
    }

    fn other(kind: &'static str, message: String) -> Self {
        Self {
            kind,
            status: None,
            code: None,
            message,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => {
            println!("sp-test: see `sp-test --help` (phone, serve, metadata, national-eid)");
            ExitCode::SUCCESS
        }
        Some(Command::Phone(args)) => run_phone_command(&args),
        Some(Command::Serve(args)) => report_failure(run_serve(&args)),
        Some(Command::Metadata(args)) => report_failure(write_metadata(&args)),
        Some(Command::Verify(args)) => run_verify(&args),
        Some(Command::Load(args)) => report_failure(run_load(&args)),
        Some(Command::LoadStaff(args)) => report_failure(
            std::fs::write(&args.out, sp_test::load_staff::directory_csv(args.count))
                .with_context(|| format!("cannot write {}", args.out.display())),
        ),
        Some(Command::Platform(args)) => report_failure(write_platform(&args)),
        Some(Command::Federation(args)) => report_failure(write_federation(&args)),
        Some(Command::NationalEid(args)) => report_failure(run_national_eid(&args)),
    }
}

fn run_national_eid(args: &NationalEidArgs) -> anyhow::Result<()> {
    let options = sp_test::national_eid::Options {
        pki_dir: args.pki_dir.clone(),
        listen: args.listen,
        control_listen: args.control_listen,
        users_dir: args.users_dir.clone(),
        order_lifetime: std::time::Duration::from_secs(args.order_lifetime_seconds),
        start_timeout: std::time::Duration::from_secs(args.start_timeout_seconds),
        qr_max_age: std::time::Duration::from_secs(args.qr_max_age_seconds),
        delay: std::time::Duration::from_millis(args.delay_ms),
        down: args.down,
        serve_foreign_certificate: args.serve_foreign_certificate,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(sp_test::national_eid::run(options))
}

/// The load driver's TLS offers its cipher suites in the order browsers do (Chrome and
/// Firefox put TLS_AES_128_GCM_SHA256 first; rustls puts TLS_AES_256_GCM_SHA384 first),
/// so that the IdP, which takes the client's first choice, does the handshake a
/// browser's login costs: a key schedule in SHA-256, which the CPU has instructions
/// for, not SHA-384 in software (3 % of a certificate login's CPU, docs/benchmarks.md).
fn install_browser_tls() {
    use rustls::CipherSuite;
    let rank = |suite: CipherSuite| match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => 2,
        _ => 3,
    };
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| rank(suite.suite()));
    // Ignored when a provider is already installed.
    let _ = provider.install_default();
}

fn run_load(args: &LoadArgs) -> anyhow::Result<()> {
    let ca = std::fs::read(&args.ca_cert)
        .with_context(|| format!("cannot read {}", args.ca_cert.display()))?;
    let users = PathBuf::from("certs-dev/users");
    let mut identity = std::fs::read(users.join(format!("{}.key.pem", args.user)))
        .with_context(|| format!("certs-dev/users/{}.key.pem", args.user))?;
    identity.extend(
        std::fs::read(users.join(format!("{}.chain.pem", args.user)))
            .with_context(|| format!("certs-dev/users/{}.chain.pem", args.user))?,
    );
    install_browser_tls();
    let builder = || -> anyhow::Result<reqwest::ClientBuilder> {
        Ok(reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
            .identity(reqwest::Identity::from_pem(&identity)?))
    };
    let client = builder()?.build()?;
    let handshake_client = builder()?.pool_max_idle_per_host(0).build()?;
    let saml_sp = sp_test::saml_sp::SamlSp::with_dev_keys(
        std::path::Path::new("."),
        &args.sp_entity_id,
        args.idp.as_str(),
        args.idp.as_str(),
        false,
    )
    .map_err(anyhow::Error::msg)?;
    let mobile_users = if let (true, Some(count)) = (args.flow.is_mobile(), args.mobile_staff) {
        let now = idp::clock::Clock::now(&idp::clock::SystemClock);
        sp_test::load_staff::credentials(std::path::Path::new("certs-dev"), count, now)?
            .into_iter()
            .map(std::sync::Arc::new)
            .collect()
    } else if args.flow.is_mobile() {
        args.mobile_users
            .iter()
            .map(|user| {
                sp_test::phone::PhoneCredential::from_pem_files(
                    &users.join(format!("{user}.chain.pem")),
                    &users.join(format!("{user}.key.pem")),
                )
                .map(std::sync::Arc::new)
            })
            .collect::<anyhow::Result<_>>()?
    } else {
        Vec::new()
    };
    let request = sp_test::load::LoadRequest {
        idp_url: args.idp.clone(),
        mtls_url: args.mtls.clone(),
        flow: args.flow,
        concurrency: args.concurrency,
        duration: std::time::Duration::from_secs(args.duration.max(1)),
        warmup: std::time::Duration::from_secs(args.warmup),
        client,
        handshake_client,
        saml_sp: Some(std::sync::Arc::new(saml_sp)),
        mobile_users,
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        redirect_uri: args.redirect_uri.clone(),
        server_pid: args.pid,
        rate: args.rate.filter(|rate| *rate > 0.0),
        flows: args.flows,
        store_pids: args.store_pid.clone(),
        admin_token: std::env::var("SP_TEST_ADMIN_TOKEN").ok(),
    };
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(sp_test::load::run(request))
        .map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn report_failure(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sp-test: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_verify(args: &VerifyArgs) -> ExitCode {
    let request = match verify_request(args) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("sp-test verify: {e:#}");
            return ExitCode::from(2);
        }
    };
    let report = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(sp_test::verify::verify(&request)),
        Err(e) => {
            eprintln!("sp-test verify: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.text());
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Claims every ID token carries, whatever the client may see.
const PROTOCOL_CLAIMS: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "sid",
    "azp",
    "jti",
];

/// The application's page, what may be released to it, and what must be.
fn expectations(
    args: &VerifyArgs,
    config: &sp_test::serve::ServeConfig,
    tenants: &idp::tenants::Tenants,
) -> anyhow::Result<(String, Vec<String>, Vec<String>)> {
    let base = config.public_url.trim_end_matches('/');
    if let Some(app) = config.saml.iter().find(|a| a.id == args.app) {
        let entity_id = format!("{base}/sp/{}", app.id);
        let (_, registration) = tenants.find_saml_sp(&entity_id).ok_or_else(|| {
            anyhow!(
                "{entity_id} is not registered in {}",
                args.tenants_dir.display()
            )
        })?;
        let profile = registration.profile;
        let release = registration
            .release
            .clone()
            .unwrap_or_else(|| idp::saml::attributes::default_release(profile).to_vec());
        let allowed = release
            .iter()
            .filter_map(|a| a.uri(profile).map(str::to_owned))
            .collect();
        let required = idp::saml::attributes::AttributeName::EmployeeHsaId
            .uri(profile)
            .map(str::to_owned)
            .into_iter()
            .collect();
        return Ok((format!("{entity_id}/"), allowed, required));
    }
    if let Some(app) = config.oidc.iter().find(|a| a.id == args.app) {
        let (_, client) = tenants.find_oidc_client(&app.client_id).ok_or_else(|| {
            anyhow!(
                "client {} is not registered in {}",
                app.client_id,
                args.tenants_dir.display()
            )
        })?;
        let mut scopes = app.scopes.clone();
        scopes.push("openid".into());
        let allowed = PROTOCOL_CLAIMS
            .iter()
            .copied()
            .chain(idp::oidc::claims::released(&scopes, &client.claims))
            .map(str::to_owned)
            .collect();
        return Ok((
            format!("{base}/rp/{}/", app.id),
            allowed,
            vec!["sub".to_owned()],
        ));
    }
    bail!("no application {:?} in {}", args.app, args.config.display())
}

fn verify_request(args: &VerifyArgs) -> anyhow::Result<sp_test::verify::VerifyRequest> {
    let config = sp_test::serve::ServeConfig::load(&args.config).map_err(|e| anyhow!(e))?;
    let mut problems = idp::config::Problems::default();
    let tenants = idp::tenants::load_dir(
        &args.tenants_dir,
        &idp::tenants::validate::Context::default(),
        &mut problems,
    );
    if !problems.is_empty() {
        bail!("{problems}");
    }
    let (app_url, allowed, default_required) = expectations(args, &config, &tenants)?;
    let users = Path::new("certs-dev/users");
    let credential = PhoneCredential::from_pem_files(
        &users.join(format!("{}.chain.pem", args.user)),
        &users.join(format!("{}.key.pem", args.user)),
    )?;
    let ca = std::fs::read(&args.ca_cert).with_context(|| args.ca_cert.display().to_string())?;
    Ok(sp_test::verify::VerifyRequest {
        app_url: reqwest::Url::parse(&app_url)?,
        idp_url: reqwest::Url::parse(&config.idp_url)?,
        credential,
        expected_loa: args.expect_loa.clone(),
        required_attributes: if args.require_attributes.is_empty() {
            default_required
        } else {
            args.require_attributes.clone()
        },
        allowed_attributes: allowed,
        client: sp_test::verify::client(Some(&ca)).map_err(|e| anyhow!(e))?,
    })
}

fn write_metadata(args: &MetadataArgs) -> anyhow::Result<()> {
    let config = sp_test::serve::ServeConfig::load(&args.config).map_err(|e| anyhow!(e))?;
    std::fs::create_dir_all(&args.out_dir)?;
    for (app, sp) in config.saml_sps(Path::new(".")).map_err(|e| anyhow!(e))? {
        let path = args.out_dir.join(format!("{}.xml", app.id));
        std::fs::write(&path, sp.metadata()).with_context(|| path.display().to_string())?;
        println!("{}", path.display());
    }
    Ok(())
}

fn write_federation(args: &FederationArgs) -> anyhow::Result<()> {
    let config = sp_test::serve::ServeConfig::load(&args.config).map_err(|e| anyhow!(e))?;
    let sps = config.saml_sps(Path::new(".")).map_err(|e| anyhow!(e))?;
    let key = idp::keys::SigningKey::from_pem_files(&args.key, &args.cert)?;
    let xml = sp_test::federation::aggregate(&sp_test::federation::AggregateRequest {
        name: "urn:sp-test:federation",
        members: sps
            .iter()
            .map(|(_, sp)| (sp.entity_descriptor(), args.authority.as_str()))
            .collect(),
        generated: args.members,
        generated_domain: "federation.example.se",
        authority: &args.authority,
        valid_for: std::time::Duration::from_secs(args.valid_hours * 3600),
        cache_duration: Some(&args.cache_duration),
        key: &key,
        now: idp::clock::Clock::now(&idp::clock::SystemClock),
    })
    .map_err(anyhow::Error::msg)?;
    std::fs::write(&args.out, xml).with_context(|| args.out.display().to_string())?;
    println!("{}", args.out.display());
    Ok(())
}

fn write_platform(args: &PlatformArgs) -> anyhow::Result<()> {
    let root = std::env::current_dir()?;
    let report = sp_test::platform::write(&sp_test::platform::PlatformRequest {
        root,
        out: args.out.clone(),
        tenants: args.tenants,
        applications: args.applications,
        persons: args.persons,
        applications_url: args.applications_url.clone(),
        idp_url: args.idp.clone(),
    })
    .map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn run_serve(args: &ServeArgs) -> anyhow::Result<()> {
    idp::server::install_crypto_provider();
    let config = sp_test::serve::ServeConfig::load(&args.config).map_err(|e| anyhow!(e))?;
    let apps = config.saml_sps(Path::new(".")).map_err(|e| anyhow!(e))?;
    let tls = idp::server::load_server_config(&config.tls_certificate, &config.tls_private_key)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listen on {}", config.listen))?;
        println!("sp-test serving on {}", config.public_url);
        let ca = std::fs::read(&config.idp_ca_file)
            .with_context(|| config.idp_ca_file.display().to_string())?;
        let http = sp_test::verify::client(Some(&ca)).map_err(|e| anyhow!(e))?;
        let oidc = sp_test::serve_oidc::OidcServed::new(
            &config.public_url,
            &config.idp_url,
            config.oidc.clone(),
            http,
        );
        let router = sp_test::serve::router(
            std::sync::Arc::new(sp_test::serve::Served::new(apps)),
            std::sync::Arc::new(oidc),
        );
        idp::server::serve(
            listener,
            router,
            idp::server::ServeOptions {
                tls: Some(std::sync::Arc::new(arc_swap::ArcSwap::new(tls))),
                handshake_timeout: std::time::Duration::from_secs(10),
                shutdown_grace: std::time::Duration::from_secs(5),
                connections: Default::default(),
                metrics: None,
            },
            idp::server::shutdown_signal(),
        )
        .await;
        Ok(())
    })
}

fn run_phone_command(args: &PhoneArgs) -> ExitCode {
    let report = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run_phone(args)),
        Err(e) => failed(
            "setup",
            ErrorReport::other("local", format!("starting tokio: {e}")),
        ),
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("sp-test phone: cannot print the result: {e}"),
        }
    } else if let (Some(step), Some(error)) = (report.step, &report.error) {
        let detail = match (&error.status, &error.code) {
            (Some(status), Some(code)) => {
                format!("the IdP refused ({status} {code}): {}", error.message)
            }
            _ => format!("{} error: {}", error.kind, error.message),
        };
        eprintln!("sp-test phone: {step} failed: {detail}");
    }
    if report.outcome == "failed" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn failed(step: &'static str, error: ErrorReport) -> Report {
    Report {
        outcome: "failed",
        step: Some(step),
        error: Some(error),
        ..Report::default()
    }
}

async fn run_phone(args: &PhoneArgs) -> Report {
    let setup = (|| -> anyhow::Result<_> {
        let Some(credential) = load_credential(args)? else {
            bail!("the phone needs its certificate (it names it when it claims the order, also to decline): --user, --cert/--key or --p12/--password");
        };
        let phone = build_phone(args)?;
        let start = match (&args.qr, &args.autostart_token) {
            (Some(qr), _) => Start::Qr(qr.clone()),
            (None, Some(token)) => Start::AutostartToken(token.clone()),
            (None, None) => bail!("give --qr or --autostart-token"),
        };
        Ok((credential, phone, start))
    })();
    let (credential, phone, start) = match setup {
        Ok(setup) => setup,
        Err(e) => return failed("setup", ErrorReport::other("local", format!("{e:#}"))),
    };
    let say = |line: String| {
        if !args.json {
            println!("{line}");
        }
    };

    let (shown, claim) = match phone.claim(&start, &credential).await {
        Ok(claimed) => claimed,
        Err(e) => return failed("claim", ErrorReport::from_phone(&e)),
    };
    say(format!(
        "Order {} claimed. The phone shows:",
        shown.order_ref
    ));
    say(format!("  {}", shown.text_sv));
    say(format!("  {}", shown.text_en));
    let mut report = Report {
        order_ref: Some(shown.order_ref.clone()),
        display: Some(shown),
        ..Report::default()
    };

    match credential {
        credential if !args.decline => {
            let algorithm = credential.algorithm();
            say(format!(
                "Approving: signing the challenge ({algorithm}), sending a chain of {} certificate(s)",
                credential.chain_der.len()
            ));
            report.signature_algorithm = Some(algorithm);
            match phone.approve(&claim, &credential).await {
                Ok(()) => {
                    say("The IdP accepted the signature: login complete.".to_owned());
                    report.outcome = "complete";
                }
                Err(e) => {
                    report.outcome = "failed";
                    report.step = Some("complete");
                    report.error = Some(ErrorReport::from_phone(&e));
                }
            }
        }
        _ => {
            say("Declining (the user pressed cancel)".to_owned());
            match phone.decline(&claim).await {
                Ok(()) => {
                    say("The IdP recorded the decline: order failed with userCancel.".to_owned());
                    report.outcome = "declined";
                }
                Err(e) => {
                    report.outcome = "failed";
                    report.step = Some("decline");
                    report.error = Some(ErrorReport::from_phone(&e));
                }
            }
        }
    }
    report
}

fn load_credential(args: &PhoneArgs) -> anyhow::Result<Option<PhoneCredential>> {
    if let Some(user) = &args.user {
        if user.is_empty()
            || !user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("--user {user:?}: expected a certs-dev user slug such as anna or anna-mobile");
        }
        let users = certs_dev_dir()
            .ok_or_else(|| {
                anyhow!("--user {user}: no certs-dev directory here or in the repository")
            })?
            .join("users");
        let chain = users.join(format!("{user}.chain.pem"));
        let key = users.join(format!("{user}.key.pem"));
        return PhoneCredential::from_pem_files(&chain, &key)
            .map(Some)
            .with_context(|| format!("--user {user}"));
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        return PhoneCredential::from_pem_files(cert, key).map(Some);
    }
    if let (Some(p12), Some(password)) = (&args.p12, &args.password) {
        return PhoneCredential::from_pkcs12(p12, password).map(Some);
    }
    Ok(None)
}

fn build_phone(args: &PhoneArgs) -> anyhow::Result<Phone> {
    let ca_path = match &args.ca_cert {
        Some(path) => Some(path.clone()),
        None => certs_dev_dir()
            .map(|dir| dir.join("tls").join("tls-ca.pem"))
            .filter(|path| path.is_file()),
    };
    let ca_pem = match &ca_path {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("reading CA certificate {}", path.display()))?,
        ),
        None => None,
    };
    Phone::new(&args.idp, ca_pem.as_deref())
}

/// certs-dev in the working directory, else the repository's.
fn certs_dev_dir() -> Option<PathBuf> {
    let here = Path::new("certs-dev");
    if here.is_dir() {
        return Some(here.to_path_buf());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("certs-dev");
    repo.is_dir().then_some(repo)
}
