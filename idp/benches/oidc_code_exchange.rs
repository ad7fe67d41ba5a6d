//! One OpenID Connect authorization answered from an SSO session and its code exchanged
//! for tokens, on the domain functions the endpoints call: the authorize pipeline, code
//! issuance (session participant, audit record), client authentication
//! (client_secret_basic), code redemption, grant, directory lookup for the claims,
//! signed ID and access tokens (RS256 or ES256), refresh token, audit record. In-memory
//! session store, SQLite, the shipped development configuration.
//!
//! Run from anywhere: `cargo bench -p idp --bench oidc_code_exchange`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use idp::directory::Directory as _;
use std::path::Path;
use std::sync::Arc;

use idp::auth::Loa;
use idp::clock::{Clock, SystemClock};
use idp::config::{ConfigSource, EnvOverrides};
use idp::login::{LoginMethod, SsoSession};
use idp::oidc::authorize::{Decision, Params};
use idp::web::AppState;

const CLIENT: &str = "storstad-personal";
const SECRET: &str = "dev-secret-storstad-personal";
const CALLBACK: &str = "https://localhost:9443/rp/storstad-personal/callback";

/// The shipped configuration; with `alg`, the confidential client signs with it.
fn state(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    alg: &str,
) -> (Arc<AppState>, Vec<tempfile::TempDir>) {
    let db_dir = tempfile::tempdir().unwrap();
    let tenants = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root.join("config/tenants")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "client_id = \"storstad-personal\"\n",
            &format!(
                "client_id = \"storstad-personal\"\nid_token_signed_response_alg = \"{alg}\"\n"
            ),
        );
        std::fs::write(tenants.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let env = EnvOverrides {
        database_url: Some(format!(
            "sqlite://{}",
            db_dir.path().join("idp.db").display()
        )),
        tenants_dir: Some(tenants.path().display().to_string()),
        ..EnvOverrides::default()
    };
    let config = idp::config::load(&ConfigSource { file: None, env }).unwrap();
    let state = rt
        .block_on(idp::app::build_state(config, Arc::new(SystemClock)))
        .unwrap();
    (state, vec![db_dir, tenants])
}

async fn session(state: &AppState) -> SsoSession {
    let hsa_id = "SE2120008889-dav04".parse().unwrap();
    let person = state
        .directory
        .find_by_hsa_id(&hsa_id)
        .await
        .unwrap()
        .unwrap();
    state
        .sso_sessions
        .create(SsoSession {
            id: String::new(),
            sid: String::new(),
            person_id: person.id.clone(),
            display_name: person.display_name(),
            employee_hsa_id: hsa_id,
            user_tenant: "storstad".parse().unwrap(),
            loa: Loa::Loa3,
            method: LoginMethod::Mtls,
            authenticated_at: SystemClock.now().unix_timestamp(),
            certificate_serial: "01".into(),
            certificate_issuer: "bench".into(),
            issuer_name: Some("hsaid3".into()),
            certificate_type: None,
            is_employment_bound: true,
            participants: Vec::new(),
            last_used_at: 0,
            idle_timeout_seconds: None,
            commissions: Vec::new(),
        })
        .await
        .unwrap()
}

async fn code_and_tokens(state: &AppState, session_id: &str, basic: &str) {
    let verifier = idp::session::random_key();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()),
    );
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile hsa")
        .append_pair("state", "s")
        .append_pair("nonce", "n")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let params = Params::parse(&query.finish());
    let Decision::ToClient(url) =
        idp::oidc::authorize::authorize(&state.oidc_context(), &params, Some(session_id), None)
            .await
            .unwrap()
    else {
        panic!("no code")
    };
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("code_verifier", &verifier);
    let tokens = idp::oidc::token::token(
        &state.oidc_context(),
        Some(basic),
        &Params::parse(&form.finish()),
    )
    .await
    .unwrap();
    assert!(!tokens.id_token.is_empty());
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::env::set_current_dir(root).unwrap();
    idp::server::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:{SECRET}"))
    );
    let mut group = c.benchmark_group("oidc_code_exchange");
    for alg in ["RS256", "ES256"] {
        let (state, _dirs) = state(&rt, root, alg);
        let session = rt.block_on(session(&state));
        // One round before measuring: the participant is recorded once per session.
        rt.block_on(code_and_tokens(&state, &session.id, &basic));
        group.bench_function(alg, |b| {
            b.to_async(&rt)
                .iter(|| code_and_tokens(&state, &session.id, &basic));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
