//! The login pages in a real browser: headless Chromium (tests/browser/login.mjs, driven
//! by playwright-core) opens a login, picks the QR code and prints its content; the
//! reference phone app approves; the page must continue to /session by itself (its
//! script polls). The script also checks basic accessibility and saves screenshots to
//! tests/output/screenshots/ for a person to look at.

use e2e::idp_server::shipped_config;
use e2e::{SqliteDatabase, TestIdp};
use sp_test::phone::{Phone, PhoneCredential, Start};

const SCREENSHOTS: [&str; 4] = ["method-choice.png", "qr.png", "session.png", "error.png"];

fn anna() -> PhoneCredential {
    e2e::mobile_credential("anna")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_with_the_qr_code() {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    let phone = Phone::with_client(&idp.url(""), e2e::https_client());
    e2e::browser_script::run_with_qr("login.mjs", &idp.url(""), &SCREENSHOTS, |qr| async {
        let (shown, claim) = phone.claim(&Start::Qr(qr), &anna()).await.unwrap();
        assert_eq!(
            shown.text_sv,
            "Logga in i Journalen (test) hos Region Exempelland"
        );
        phone.approve(&claim, &anna()).await.unwrap();
    })
    .await;
}
