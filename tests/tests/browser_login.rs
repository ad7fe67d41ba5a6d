//! The login pages in a real browser: headless Chromium (tests/browser/login.mjs, driven
//! by playwright-core) opens a login, picks the QR code and prints its content; the
//! reference phone app approves; the page must continue to /session by itself (its
//! script polls). The script also checks basic accessibility and saves screenshots to
//! tests/output/screenshots/ for a person to look at.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

use e2e::idp_server::shipped_config;
use e2e::{repo_root, SqliteDatabase, TestIdp};
use sp_test::phone::{Phone, PhoneCredential, Start};

const SCREENSHOTS: [&str; 4] = ["method-choice.png", "qr.png", "session.png", "error.png"];

fn anna() -> PhoneCredential {
    let dir = repo_root().join("certs-dev/users");
    PhoneCredential::from_pem_files(
        &dir.join("anna-mobile.chain.pem"),
        &dir.join("anna-mobile.key.pem"),
    )
    .unwrap()
}

fn require_browser_tools(browser_dir: &Path) {
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run the suite with tests/run, which installs \
         chromium, node and npm and runs `npm ci --prefix tests/browser`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_with_the_qr_code() {
    let browser_dir = repo_root().join("tests/browser");
    require_browser_tools(&browser_dir);
    let output = repo_root().join("tests/output/screenshots");
    for name in SCREENSHOTS {
        let _ = std::fs::remove_file(output.join(name));
    }
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();

    let mut node = Command::new("node")
        .arg(browser_dir.join("login.mjs"))
        .arg(idp.url(""))
        .arg(&output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (tests/run installs it): {e}"));
    let mut stderr = node.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut stdout = BufReader::new(node.stdout.take().unwrap()).lines();

    let qr = timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = stdout.next_line().await {
            if let Some(qr) = line.strip_prefix("QR ") {
                return Some(qr.to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let Some(qr) = qr else {
        let _ = node.kill().await;
        panic!(
            "the browser never showed a QR code:\n{}",
            stderr.await.unwrap()
        );
    };

    let phone = Phone::with_client(&idp.url(""), e2e::https_client());
    let (shown, claim) = phone.claim(&Start::Qr(qr)).await.unwrap();
    assert_eq!(
        shown.text_sv,
        "Logga in i Journalen (test) hos Region Exempelland"
    );
    phone.approve(&claim, &anna()).await.unwrap();

    let drain = tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    let status = match timeout(Duration::from_secs(90), node.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => {
            let _ = node.kill().await;
            panic!("the browser test did not finish within 90 s");
        }
    };
    let _ = drain.await;
    let stderr = stderr.await.unwrap();
    assert!(status.success(), "login.mjs failed ({status}):\n{stderr}");
    for name in SCREENSHOTS {
        let size = std::fs::metadata(output.join(name)).map_or(0, |m| m.len());
        assert!(size > 0, "screenshot {name} is missing or empty");
    }
}
