//! Running a headless-Chromium script of `tests/browser/` (playwright-core, Debian's
//! chromium) whose login the reference phone approves: the script prints `QR <content>`
//! when the page shows a QR code, the test approves it, and the script must then finish
//! successfully and leave its screenshots in `tests/output/screenshots/`.

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

use crate::repo_root;

/// Where the scripts save screenshots.
pub fn screenshot_dir() -> PathBuf {
    repo_root().join("tests/output/screenshots")
}

/// Runs `node tests/browser/<script> <first_arg> <screenshot dir>`; `approve` gets the QR
/// content the page showed. Panics, with the script's error output, unless the script
/// succeeds and every one of `screenshots` exists and is not empty.
pub async fn run_with_qr<F, Fut>(
    script: &str,
    first_arg: &str,
    screenshots: &[&str],
    approve: F,
) -> Vec<String>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut approve = Some(approve);
    run_with_qrs(script, &[first_arg], screenshots, move |qr| {
        let approve = approve
            .take()
            .unwrap_or_else(|| panic!("{script} showed a second QR code"));
        approve(qr)
    })
    .await
}

/// Runs `node tests/browser/<script> <args...> <screenshot dir>`; `approve` gets the
/// content of every QR code the pages show, in order. Panics, with the script's error
/// output, unless the script showed at least one, succeeds, and every one of
/// `screenshots` exists and is not empty. Returns the other lines the script printed.
pub async fn run_with_qrs<F, Fut>(
    script: &str,
    args: &[&str],
    screenshots: &[&str],
    mut approve: F,
) -> Vec<String>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let browser_dir = repo_root().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run the suite with tests/run, which installs \
         chromium, node and npm and runs `npm ci --prefix tests/browser`"
    );
    let output = screenshot_dir();
    for name in screenshots {
        let _ = std::fs::remove_file(output.join(name));
    }
    let mut node = Command::new("node")
        .arg(browser_dir.join(script))
        .args(args)
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
    let mut shown = 0;
    let mut printed = Vec::new();
    let finished = timeout(Duration::from_secs(150), async {
        while let Ok(Some(line)) = stdout.next_line().await {
            if let Some(qr) = line.strip_prefix("QR ") {
                shown += 1;
                approve(qr.to_owned()).await;
            } else {
                printed.push(line);
            }
        }
        node.wait().await
    })
    .await;
    let status = match finished {
        Ok(status) => status.unwrap(),
        Err(_) => {
            let _ = node.kill().await;
            panic!(
                "{script} did not finish within 150 s:\n{}",
                stderr.await.unwrap()
            );
        }
    };
    let stderr = stderr.await.unwrap();
    assert!(shown > 0, "the browser never showed a QR code:\n{stderr}");
    assert!(status.success(), "{script} failed ({status}):\n{stderr}");
    for name in screenshots {
        let size = std::fs::metadata(output.join(name)).map_or(0, |m| m.len());
        assert!(size > 0, "screenshot {name} is missing or empty");
    }
    printed
}
