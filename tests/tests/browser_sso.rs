//! Cross-organisation single sign-on through the real pages in headless Chromium
//! (tests/browser/sso.mjs): the region's application, a login with the phone app (the
//! reference phone approves the QR code the page shows), then a municipality's
//! application without a second login. Screenshots of each application's result page
//! go to tests/output/screenshots/ for a person to look at.

use sp_test::phone::{Phone, Start};

const SCREENSHOTS: [&str; 3] = ["sso-login.png", "sso-journal.png", "sso-omsorg.png"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_browser_signs_on_once_for_the_region_and_a_municipality() {
    let s = crate::cross_org_sso::scenario(1).await;
    let anna = e2e::mobile_credential("anna");
    let phone = Phone::with_client(&s.idp_url, e2e::https_client());
    e2e::browser_script::run_with_qr("sso.mjs", &s.apps.base_url, &SCREENSHOTS, |qr| async {
        let (shown, claim) = phone.claim(&Start::Qr(qr), &anna).await.unwrap();
        assert_eq!(shown.text_sv, "Logga in i Journalen hos Region Exempelland");
        phone.approve(&claim, &anna).await.unwrap();
    })
    .await;
}
