//! The `idp` command as an operator uses it: check-config, migrate, serve, SIGHUP and
//! SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit_durability;
mod deployment;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `idp` in the repository root with a clean IDP_* environment plus `env`.
fn idp(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idp"));
    cmd.current_dir(repo_root()).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("IDP_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_config_accepts_the_shipped_configuration() {
    let out = idp(&["check-config"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "configuration OK: 3 tenants, 6 applications"
    );
}

#[test]
fn production_names_each_piece_of_development_material_and_takes_secrets_from_files() {
    // The shipped configuration as production: every development piece is named.
    let out = idp(&["check-config"], &[("IDP_PROFILE", "production")]);
    assert!(!out.status.success());
    let problems = text(&out.stderr);
    for key in [
        "saml.pseudonym_secret",
        "oidc.subject_salt",
        "server.tls_certificate",
        "saml.signing_certificate",
        "trust.anchors[0]",
        "directory.seed_file",
    ] {
        assert!(problems.contains(key), "{key} not named: {problems}");
    }

    // The secrets from mounted files and the environment: no longer named.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pseudonym-secret");
    std::fs::write(
        &secret,
        "a-production-pseudonym-secret-of-enough-length-0123456789\n",
    )
    .unwrap();
    let secret = secret.display().to_string();
    let out = idp(
        &["check-config"],
        &[
            ("IDP_PROFILE", "production"),
            ("IDP__SAML__PSEUDONYM_SECRET_FILE", &secret),
            (
                "IDP__OIDC__SUBJECT_SALT",
                "a-production-subject-salt-0123456789",
            ),
        ],
    );
    let problems = text(&out.stderr);
    assert!(!problems.contains("saml.pseudonym_secret"), "{problems}");
    assert!(!problems.contains("oidc.subject_salt"), "{problems}");
    assert!(problems.contains("server.tls_certificate"), "{problems}");
    assert!(
        !problems.contains("a-production-"),
        "a secret in the output: {problems}"
    );

    // A secret file that cannot be read is named by its variable.
    let out = idp(
        &["check-config"],
        &[("IDP__SAML__PSEUDONYM_SECRET_FILE", "/nonexistent/secret")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("IDP__SAML__PSEUDONYM_SECRET_FILE"),
        "{}",
        text(&out.stderr)
    );
}

/// A copy of the shipped tenants with `edit` applied to one file.
fn tenants_with(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo_root().join("config/tenants")).unwrap() {
        let path = entry.unwrap().path();
        let mut content = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == file {
            content = edit(content);
        }
        std::fs::write(dir.path().join(path.file_name().unwrap()), content).unwrap();
    }
    dir
}

fn check_config_problems(tenants: &Path) -> (i32, String) {
    let out = idp(
        &["check-config"],
        &[("IDP_TENANTS_DIR", tenants.to_str().unwrap())],
    );
    (out.status.code().unwrap(), text(&out.stderr))
}

#[test]
fn check_config_names_file_and_key_of_an_unknown_key() {
    let dir = tenants_with("storstad.toml", |c| {
        c.replace(
            "profile = \"swedish-eid\"",
            "profile = \"swedish-eid\"\nacs_url = \"https://x\"",
        )
    });
    let (code, stderr) = check_config_problems(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("storstad.toml: saml_sp[0].acs_url: unknown field `acs_url`"),
        "{stderr}"
    );
}

#[test]
fn check_config_names_file_and_key_of_a_duplicate_application_id() {
    let dir = tenants_with("storstad.toml", |c| {
        c.replace("id = \"personal\"", "id = \"omsorg\"")
    });
    let (code, stderr) = check_config_problems(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("storstad.toml: oidc_client[0].id: duplicate application id \"omsorg\" (also saml_sp[0])"),
        "{stderr}"
    );
}

#[test]
fn check_config_names_file_and_key_of_a_malformed_url() {
    let dir = tenants_with("lillby.toml", |c| {
        c.replace(
            "https://localhost:9443/rp/lillby-hemtjanst/callback",
            "https//no-colon",
        )
    });
    let (code, stderr) = check_config_problems(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("lillby.toml: oidc_client[0].redirect_uris[0]:"),
        "{stderr}"
    );
}

#[test]
fn check_config_lists_every_problem_at_once() {
    let dir = tenants_with("storstad.toml", |c| {
        c.replace("id = \"personal\"", "id = \"omsorg\"")
            .replace(
                "https://localhost:9443/rp/storstad-personal/callback",
                "http://example.com/cb",
            )
            .replace("\"storstad\", \"region\"", "\"storstad\", \"atlantis\"")
    });
    let (code, stderr) = check_config_problems(dir.path());
    assert_eq!(code, 1);
    assert!(stderr.starts_with("3 configuration problems:"), "{stderr}");
    assert!(stderr.contains(
        "oidc_client[0].redirect_uris[0]: http://example.com/cb must be an https:// URL"
    ));
    assert!(stderr.contains("saml_sp[0].user_tenants[1]: unknown tenant \"atlantis\""));
}

#[test]
fn check_config_names_file_and_key_of_oidc_client_problems() {
    let dir = tenants_with("storstad.toml", |c| {
        c.replace(
            "client_secret_sha256 = \"f6480100f465ef1eb8749777223eff66c347d8a5a64514fe7d135e84eb4f43b3\"",
            "client_secret_sha256 = \"not-hex\"",
        )
        .replace("\"hsa\"]", "\"hsa\", \"phone\"]")
    });
    let (code, stderr) = check_config_problems(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr
            .contains("storstad.toml: oidc_client[0].client_secret_sha256: must be 64 hex digits"),
        "{stderr}"
    );
    assert!(
        stderr.contains("storstad.toml: oidc_client[0].scopes[6]: unknown scope \"phone\""),
        "{stderr}"
    );
}

#[test]
fn check_config_rejects_a_duplicate_entity_id_across_tenants() {
    let dir = tenants_with("storstad.toml", |c| {
        c.replace("sp/storstad-omsorg\"", "sp/region-journal\"")
    });
    let (code, stderr) = check_config_problems(dir.path());
    assert_eq!(code, 1);
    assert!(stderr.contains("storstad.toml: saml_sp[0].entity_id: \"https://localhost:9443/sp/region-journal\" is already registered by tenant region (application journal)"), "{stderr}");
}

/// A SQLite registry holding the shipped tenants, as `idp tenants import` makes it.
fn registry_with_shipped_tenants() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("idp.db").display());
    let out = tenants_cli(&url, &["import", "config/tenants"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "+ lillby\n+ region\n+ storstad\nimported: 3 tenant(s) changed, registry version 1\n"
    );
    (dir, url)
}

fn tenants_cli(database_url: &str, args: &[&str]) -> Output {
    let mut all = vec!["tenants"];
    all.extend_from_slice(args);
    idp(&all, &[("IDP_DATABASE_URL", database_url)])
}

/// `idp tenants import` of the shipped files with `edit` applied to `file`: the exit
/// code and what it said.
fn import_edited(file: &str, edit: impl Fn(String) -> String) -> (i32, String, String) {
    let (_db, url) = registry_with_shipped_tenants();
    let dir = tenants_with(file, edit);
    let out = tenants_cli(&url, &["import", dir.path().to_str().unwrap()]);
    let unchanged = tenants_cli(&url, &["import", "--dry-run", "config/tenants"]);
    assert_eq!(
        text(&unchanged.stdout),
        "dry run: 0 tenant(s) would change\n",
        "a refused import changes nothing"
    );
    (
        out.status.code().unwrap(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn a_tenant_cannot_claim_another_tenants_staff() {
    let (code, _, stderr) = import_edited("lillby.toml", |c| {
        c.replace(
            "hsa_id_prefixes = [\"SE2120007774-\"]",
            "hsa_id_prefixes = [\"SE2120007774-\", \"SE2321009991-\"]",
        )
        .replace(
            "organisation_numbers = [\"2120007774\"]",
            "organisation_numbers = [\"2120007774\", \"2321009991\"]",
        )
    });
    assert_eq!(code, 1);
    assert!(stderr.contains("nothing imported"), "{stderr}");
    assert!(
        stderr.contains("lillby.toml: users: users.hsa_id_prefixes[1] \"SE2321009991-\" overlaps tenant region's users.hsa_id_prefixes[0] \"SE2321009991-\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("lillby.toml: users: users.organisation_numbers[1] \"2321009991\" overlaps tenant region's users.organisation_numbers[0]"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("region.toml"),
        "the mistake is lillby's: {stderr}"
    );
}

#[test]
fn a_tenant_cannot_borrow_another_tenants_name() {
    let (code, _, stderr) = import_edited("lillby.toml", |c| {
        c.replace(
            "display_name = { sv = \"Lillby kommun\", en = \"Lillby Municipality\" }",
            "display_name = { sv = \"Region Exempelland\", en = \"Lillby Municipality\" }",
        )
        .replace("{ sv = \"Hemtjänstappen\"", "{ sv = \"Storstads kommun\"")
    });
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "lillby.toml: display_name.sv: \"Region Exempelland\" is tenant region's name"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("lillby.toml: oidc_client[0].display_name.sv: \"Storstads kommun\" is tenant storstad's name"),
        "{stderr}"
    );
}

#[test]
fn an_entity_id_or_redirect_host_belongs_to_the_tenant_that_registered_it_first() {
    let (code, _, stderr) = import_edited("lillby.toml", |c| {
        c + "\n[[saml_sp]]\nid = \"kopia\"\ndisplay_name = { sv = \"Kopia\" }\n\
             entity_id = \"https://localhost:9443/sp/region-journal\"\nprofile = \"sambi\"\n\
             acs_urls = [\"https://journal.lillby.example/acs\"]\n"
    });
    assert_eq!(code, 1);
    assert!(
        stderr.contains("lillby.toml: saml_sp[0].entity_id: \"https://localhost:9443/sp/region-journal\" is already registered by tenant region (application journal)"),
        "{stderr}"
    );
    assert!(!stderr.contains("region.toml"), "{stderr}");

    // A redirect URI host (other than loopback) is one tenant's.
    let (_db, url) = registry_with_shipped_tenants();
    let first = tenants_with("region.toml", |c| {
        c.replace(
            "https://localhost:9443/rp/region-appen/callback",
            "https://appen.region.example/callback",
        )
    });
    let out = tenants_cli(&url, &["import", first.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let both = tenants_with("region.toml", |c| {
        c.replace(
            "https://localhost:9443/rp/region-appen/callback",
            "https://appen.region.example/callback",
        )
    });
    let lillby = both.path().join("lillby.toml");
    let text_of = std::fs::read_to_string(&lillby).unwrap().replace(
        "https://localhost:9443/rp/lillby-hemtjanst/callback",
        "https://appen.region.example/lillby",
    );
    std::fs::write(&lillby, text_of).unwrap();
    let out = tenants_cli(&url, &["import", both.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("lillby.toml: oidc_client[0].redirect_uris[0]: the host appen.region.example is registered by tenant region"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn tenants_export_writes_the_imported_files_back_unchanged() {
    let (_db, url) = registry_with_shipped_tenants();
    let out_dir = tempfile::tempdir().unwrap();
    let out = tenants_cli(&url, &["export", out_dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in ["lillby.toml", "region.toml", "storstad.toml"] {
        assert_eq!(
            std::fs::read_to_string(out_dir.path().join(name)).unwrap(),
            std::fs::read_to_string(repo_root().join("config/tenants").join(name)).unwrap(),
            "{name}"
        );
    }
    // And importing the export is no change at all.
    let again = tenants_cli(&url, &["import", out_dir.path().to_str().unwrap()]);
    assert_eq!(
        text(&again.stdout),
        "imported: 0 tenant(s) changed, registry version 1\n"
    );
}

#[test]
fn check_config_reads_every_sps_metadata_and_names_the_cause() {
    let dir = tenants_with("lillby.toml", |c| {
        c + "\n[[saml_sp]]\nid = \"trasig\"\ndisplay_name = { sv = \"Trasig\" }\n\
             entity_id = \"https://trasig.lillby.example/sp\"\nprofile = \"sambi\"\n\
             metadata_file = \"/nonexistent/trasig.xml\"\n"
    });
    let (code, stderr) = check_config_problems(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("lillby.toml: saml_sp[0]:") && stderr.contains("SAML_METADATA_FILE"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("  - ").count(),
        1,
        "only the broken SP: {stderr}"
    );
}

#[test]
fn migrate_creates_and_migrates_a_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db/idp.db").display());
    let out = idp(&["migrate"], &[("IDP_DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("database migrated"));
    assert!(dir.path().join("db/idp.db").is_file());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The serial of the certificate the TLS listener on `port` presents (openssl s_client).
fn served_serial(port: u16) -> Option<String> {
    let script = format!(
        "openssl s_client -connect 127.0.0.1:{port} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial"
    );
    let out = Command::new("sh").args(["-c", &script]).output().ok()?;
    let serial = text(&out.stdout).trim().to_owned();
    serial.starts_with("serial=").then_some(serial)
}

/// `idp serve` as an orchestrator runs it: every listener on a port of its own, the
/// TLS certificate from files that a SIGHUP re-reads, and SIGTERM answered by a drain.
#[test]
fn serve_reloads_certificates_on_sighup_and_drains_on_sigterm() {
    let (port, mtls_port, management_port) = (free_port(), free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let certificate = dir.path().join("tls.pem");
    let key = dir.path().join("tls.key.pem");
    std::fs::copy(
        repo_root().join("certs-dev/tls/localhost.pem"),
        &certificate,
    )
    .unwrap();
    std::fs::copy(repo_root().join("certs-dev/tls/localhost.key.pem"), &key).unwrap();
    let url = format!("sqlite://{}", dir.path().join("idp.db").display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_idp"));
    for (name, _) in std::env::vars() {
        if name.starts_with("IDP_") {
            command.env_remove(name);
        }
    }
    let child = command
        .current_dir(repo_root())
        .arg("serve")
        .env("IDP_DATABASE_URL", &url)
        .env("IDP_LISTEN", format!("127.0.0.1:{port}"))
        .env("IDP__MTLS__LISTEN", format!("127.0.0.1:{mtls_port}"))
        .env(
            "IDP__MANAGEMENT__LISTEN",
            format!("127.0.0.1:{management_port}"),
        )
        .env("IDP__SERVER__DRAIN_SECONDS", "2")
        .env("IDP_TLS_CERTIFICATE", &certificate)
        .env("IDP_TLS_PRIVATE_KEY", &key)
        .env("IDP_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let signal = |name: &str| {
        assert!(Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap()
            .success());
    };
    let management = format!("http://127.0.0.1:{management_port}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcome = rt.block_on(async {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let readiness = |expected: u16| {
            let url = format!("{management}/readyz");
            async move {
                for _ in 0..1000 {
                    if let Ok(r) = reqwest::get(&url).await {
                        let status = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        if status == expected {
                            return Ok(body);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(format!("/readyz never answered {expected}"))
            }
        };
        readiness(200).await?;
        let before = served_serial(port).ok_or("no certificate served")?;

        // A renewed certificate in place of the old one, then SIGHUP.
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "renewed");
        let renewed_key = rcgen::KeyPair::generate().unwrap();
        let renewed = params.self_signed(&renewed_key).unwrap();
        std::fs::write(&key, renewed_key.serialize_pem()).unwrap();
        std::fs::write(&certificate, renewed.pem()).unwrap();
        signal("-HUP");
        let mut after = before.clone();
        for _ in 0..500 {
            after = served_serial(port).unwrap_or_default();
            if after != before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if after == before {
            return Err("SIGHUP did not swap the TLS certificate".to_owned());
        }

        // SIGTERM: readiness turns 503 while the public listener still serves.
        signal("-TERM");
        let draining = readiness(503).await?;
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let page = client
            .get(format!("https://localhost:{port}/accessibility"))
            .send()
            .await
            .map_err(|e| format!("not served while draining: {e}"))?;
        Ok::<_, String>((draining, page.status().as_u16(), before, after))
    });
    let out = child.wait_with_output().unwrap();
    let log = text(&out.stdout) + &text(&out.stderr);
    let (draining, page, before, after) = outcome.unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert!(draining.contains("\"draining\""), "{draining}");
    assert_eq!(page, 200, "served during the drain");
    assert_ne!(before, after);
    assert!(out.status.success(), "exit {:?}:\n{log}", out.status);
    assert!(log.contains("DEVELOPMENT instance"), "{log}");
    assert!(log.contains("trust and TLS certificates reloaded"), "{log}");
    assert!(log.contains("shutdown signal received"), "{log}");
    assert!(log.contains("draining"), "{log}");
    assert!(
        log.contains("\"request_id\""),
        "every request log line carries its request id:\n{log}"
    );
}

/// An HSA export of Lillby (CSV): two of Lillby's staff and one region employee.
const LILLBY_EXPORT: &str = "\
personal_identity_number,given_name,surname,hsa_id,organisation_number,organisation_name,commission_hsa_id,commission_name,commission_purpose,commission_rights
198001012387,Anna,Andersson,SE2120007774-imp1,2120007774,Lillby kommun,SE2120007774-imc1,Hemtjänst,Vård och behandling,Läsa;Skriva
,Bo,Berg,SE2120007774-imp2,2120007774,Lillby kommun,,,,
198504042386,Cecilia,Carlsson,SE2321009991-imp3,2321009991,Region,,,,
";

#[test]
fn directory_import_shows_the_diff_then_writes_only_the_tenants_staff() {
    let (dir, url) = registry_with_shipped_tenants();
    let file = dir.path().join("lillby-export.csv");
    std::fs::write(&file, LILLBY_EXPORT).unwrap();
    let directory = |args: &[&str]| {
        let mut all = vec!["directory"];
        all.extend_from_slice(args);
        let out = idp(&all, &[("IDP_DATABASE_URL", &url)]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let file = file.to_str().unwrap();
    let dry = directory(&["import", "--tenant", "lillby", "--dry-run", file]);
    assert!(
        dry.contains("+ SE2120007774-imp1\n+ SE2120007774-imp2\n"),
        "{dry}"
    );
    assert!(
        dry.contains("! SE2321009991-imp3 OUTSIDE_POPULATION: employment SE2321009991-imp3"),
        "{dry}"
    );
    assert!(dry.ends_with("lillby/import: dry run, would be: 2 created, 0 updated, 0 unchanged, 0 disabled, 0 removed, 1 refused\n"), "{dry}");
    assert!(
        !dry.contains("198001012387"),
        "no personal identity number in the output"
    );
    assert_eq!(
        directory(&["status"]),
        "no directory sources\n",
        "a dry run writes nothing"
    );

    let done = directory(&["import", "--tenant", "lillby", file]);
    assert!(done.ends_with("lillby/import: imported: 2 created, 0 updated, 0 unchanged, 0 disabled, 0 removed, 1 refused\n"), "{done}");
    // Bo left Lillby: the next full export does not list him.
    std::fs::write(
        dir.path().join("lillby-export.csv"),
        LILLBY_EXPORT.replace(
            ",Bo,Berg,SE2120007774-imp2,2120007774,Lillby kommun,,,,\n",
            "",
        ),
    )
    .unwrap();
    let again = directory(&["import", "--tenant", "lillby", file]);
    assert!(again.starts_with("- SE2120007774-imp2\n"), "{again}");
    let status = directory(&["status", "--tenant", "lillby"]);
    assert!(
        status.starts_with("lillby/import (file): 1 active, 1 disabled; last success 20"),
        "{status}"
    );
    assert!(status.contains("last run refused 1"), "{status}");
    assert_eq!(
        directory(&["status", "--tenant", "region"]),
        "no directory sources\n"
    );
}

#[test]
fn check_config_names_each_problem_of_a_national_eid_service() {
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("idp.toml");
    std::fs::write(
        &overlay,
        r#"
[[mobile.national_eid]]
name = "national"
url = "http://rp.eid.example/rp/v6.0/"
client_certificate = "certs-dev/tls/localhost.pem"
client_private_key = "certs-dev/tls/localhost.pem"
service_ca = "/nonexistent/service-ca.pem"
tenants = ["storstad", "Not A Tenant"]
issuers = ["nonesuch"]
"#,
    )
    .unwrap();
    let config = overlay.to_str().unwrap();
    let out = idp(&["--config", config, "check-config"], &[]);
    assert!(!out.status.success());
    let problems = text(&out.stderr);
    for key in [
        "mobile.national_eid[0].url",
        "mobile.national_eid[0].client_private_key",
        "mobile.national_eid[0].service_ca",
        "mobile.national_eid[0].tenants",
        "mobile.national_eid[0].issuers",
    ] {
        assert!(problems.contains(key), "{key} not named: {problems}");
    }
    // A production instance refuses the development PKI's RP certificate.
    let out = idp(
        &["--config", config, "check-config"],
        &[("IDP_PROFILE", "production")],
    );
    let problems = text(&out.stderr);
    assert!(
        problems.contains("mobile.national_eid[0].client_certificate: certs-dev/tls/localhost.pem is development material"),
        "{problems}"
    );
}
