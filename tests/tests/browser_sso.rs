//! Cross-organisation single sign-on through the real pages in headless Chromium
//! (tests/browser/sso.mjs): the region's application, a login with the phone app (the
//! reference phone approves the QR code the page shows), then a municipality's
//! application without a second login. Screenshots of each application's result page
//! go to tests/output/screenshots/ for a person to look at.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

use e2e::repo_root;
use sp_test::phone::{Phone, PhoneCredential, Start};

const SCREENSHOTS: [&str; 3] = ["sso-login.png", "sso-journal.png", "sso-omsorg.png"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_browser_signs_on_once_for_the_region_and_a_municipality() {
    let browser_dir = repo_root().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run the suite with tests/run"
    );
    let output = repo_root().join("tests/output/screenshots");
    for name in SCREENSHOTS {
        let _ = std::fs::remove_file(output.join(name));
    }
    let s = crate::cross_org_sso::scenario(1).await;

    let mut node = Command::new("node")
        .arg(browser_dir.join("sso.mjs"))
        .arg(&s.apps.base_url)
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

    let dir = repo_root().join("certs-dev/users");
    let anna = PhoneCredential::from_pem_files(
        &dir.join("anna-mobile.chain.pem"),
        &dir.join("anna-mobile.key.pem"),
    )
    .unwrap();
    let phone = Phone::with_client(&s.idp_url, e2e::https_client());
    let (shown, claim) = phone.claim(&Start::Qr(qr)).await.unwrap();
    assert_eq!(shown.text_sv, "Logga in i Journalen hos Region Exempelland");
    phone.approve(&claim, &anna).await.unwrap();

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
    assert!(status.success(), "sso.mjs failed ({status}):\n{stderr}");
    for name in SCREENSHOTS {
        let size = std::fs::metadata(output.join(name)).map_or(0, |m| m.len());
        assert!(size > 0, "screenshot {name} is missing or empty");
    }
}
