//! The phone against a tiny fake IdP speaking the mobile app API over plain HTTP.

use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::*;

type Handler = Arc<dyn Fn(&str, &Value) -> (u16, String) + Send + Sync>;
type Requests = Arc<Mutex<Vec<(String, Value)>>>;

/// Serves one request per connection until the test ends; records (path, JSON body).
async fn fake_idp(handler: Handler) -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests: Requests = Arc::default();
    let recorded = requests.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let header_end = loop {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed mid-request");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break pos + 4;
                }
            };
            let head = String::from_utf8(buf[..header_end].to_vec()).unwrap();
            let path = head.split(' ').nth(1).unwrap().to_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while buf.len() < header_end + length {
                let n = stream.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let body: Value =
                serde_json::from_slice(&buf[header_end..header_end + length]).unwrap();
            let (status, response) = handler(&path, &body);
            recorded.lock().unwrap().push((path, body));
            let reply = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{response}",
                response.len()
            );
            stream.write_all(reply.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
        }
    });
    (base, requests)
}

/// An IdP that hands out `challenge` (bytes 0..=40) and accepts everything.
fn happy_idp() -> Handler {
    Arc::new(|path, _body| {
        match path {
        "/mobile/v1/claim" => (
            200,
            json!({
                "order_ref": "ord-1",
                "claim_token": "claim-1",
                "challenge": BASE64URL_ANY_PADDING.encode((0u8..=40).collect::<Vec<_>>()).trim_end_matches('='),
                "display": {
                    "text_sv": "Logga in i Journalen hos Region Exempelland",
                    "text_en": "Log in to Journalen at Region Exempelland",
                    "application": "Journalen",
                    "organisation": "Region Exempelland",
                    "future_field": true
                }
            })
            .to_string(),
        ),
        "/mobile/v1/complete" => (200, json!({"status": "complete"}).to_string()),
        "/mobile/v1/decline" => (200, json!({"status": "failed", "hint": "userCancel"}).to_string()),
        _ => (404, json!({"error": "NOT_FOUND", "message": "no such path"}).to_string()),
    }
    })
}

fn credential(user: &str) -> PhoneCredential {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev/users");
    PhoneCredential::from_pem_files(
        &dir.join(format!("{user}.chain.pem")),
        &dir.join(format!("{user}.key.pem")),
    )
    .unwrap()
}

fn phone(base: &str) -> Phone {
    Phone::new(base, None).unwrap()
}

/// Checks the complete request the way the IdP would: signature over `message`
/// with the key of the first certificate in the chain.
fn signature_verifies(complete: &Value, message: &[u8]) -> bool {
    let chain: Vec<Vec<u8>> = complete["certificate_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| STANDARD.decode(c.as_str().unwrap()).unwrap())
        .collect();
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    let public_key = leaf.public_key().subject_public_key.data.to_vec();
    let signature = STANDARD
        .decode(complete["signature"].as_str().unwrap())
        .unwrap();
    let algorithm: &'static dyn aws_lc_rs::signature::VerificationAlgorithm =
        match complete["signature_algorithm"].as_str().unwrap() {
            ALGORITHM_ECDSA_P256_SHA256 => &ECDSA_P256_SHA256_ASN1,
            ALGORITHM_RSA_PKCS1_SHA256 => &RSA_PKCS1_2048_8192_SHA256,
            other => panic!("unexpected algorithm {other}"),
        };
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(message, &signature)
        .is_ok()
}

#[tokio::test]
async fn qr_claim_then_approve_sends_signature_over_challenge_and_chain() {
    let (base, requests) = fake_idp(happy_idp()).await;
    let phone = phone(&format!("{base}/"));
    let (shown, claim) = phone
        .claim(
            &Start::Qr("bankid.abc.3.def".into()),
            &credential("anna-mobile"),
        )
        .await
        .unwrap();
    assert_eq!(shown.order_ref, "ord-1");
    assert_eq!(shown.text_sv, "Logga in i Journalen hos Region Exempelland");
    assert_eq!(shown.text_en, "Log in to Journalen at Region Exempelland");
    assert_eq!(shown.application, "Journalen");
    assert_eq!(shown.organisation, "Region Exempelland");
    assert_eq!(claim.order_ref, "ord-1");
    assert_eq!(claim.claim_token, "claim-1");
    assert_eq!(claim.challenge, (0u8..=40).collect::<Vec<_>>());

    let credential = credential("anna-mobile");
    phone.approve(&claim, &credential).await.unwrap();

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 2);
    let leaf = base64::engine::general_purpose::STANDARD.encode(&credential.chain_der[0]);
    assert_eq!(
        requests[0],
        (
            "/mobile/v1/claim".into(),
            json!({"qr": "bankid.abc.3.def", "certificate": leaf})
        )
    );
    let (path, complete) = &requests[1];
    assert_eq!(path, "/mobile/v1/complete");
    assert_eq!(complete["claim_token"], "claim-1");
    assert_eq!(complete["signature_algorithm"], "ecdsa-p256-sha256");
    assert_eq!(complete["certificate_chain"].as_array().unwrap().len(), 2);
    assert_eq!(
        complete.as_object().unwrap().len(),
        4,
        "exactly claim_token, signature, signature_algorithm, certificate_chain"
    );
    assert!(signature_verifies(complete, &claim.challenge));
}

#[tokio::test]
async fn autostart_claim_and_rsa_approve_signing_other_message() {
    let (base, requests) = fake_idp(happy_idp()).await;
    let phone = phone(&base);
    let anna = credential("anna");
    let (_, claim) = phone
        .claim(&Start::AutostartToken("tok-9".into()), &anna)
        .await
        .unwrap();
    phone
        .approve_signing(&claim, &anna, b"not the challenge")
        .await
        .unwrap();

    let requests = requests.lock().unwrap();
    let leaf = base64::engine::general_purpose::STANDARD.encode(&anna.chain_der[0]);
    assert_eq!(
        requests[0].1,
        json!({"autostart_token": "tok-9", "certificate": leaf})
    );
    let complete = &requests[1].1;
    assert_eq!(complete["signature_algorithm"], "rsa-pkcs1-sha256");
    assert!(signature_verifies(complete, b"not the challenge"));
    assert!(!signature_verifies(complete, &claim.challenge));
}

#[tokio::test]
async fn decline_sends_claim_token() {
    let (base, requests) = fake_idp(happy_idp()).await;
    let phone = phone(&base);
    let (_, claim) = phone
        .claim(&Start::Qr("q".into()), &credential("anna-mobile"))
        .await
        .unwrap();
    phone.decline(&claim).await.unwrap();
    let requests = requests.lock().unwrap();
    assert_eq!(
        requests[1],
        (
            "/mobile/v1/decline".into(),
            json!({"claim_token": "claim-1"})
        )
    );
}

#[tokio::test]
async fn idp_error_body_becomes_refused() {
    let (base, _) = fake_idp(Arc::new(|_, _| {
        (
            409,
            json!({"error": "ORDER_ALREADY_CLAIMED", "message": "another phone claimed it"})
                .to_string(),
        )
    }))
    .await;
    let err = phone(&base)
        .claim(&Start::Qr("q".into()), &credential("anna-mobile"))
        .await
        .unwrap_err();
    match err {
        PhoneError::Refused {
            status,
            code,
            message,
        } => {
            assert_eq!(status, 409);
            assert_eq!(code, "ORDER_ALREADY_CLAIMED");
            assert_eq!(message, "another phone claimed it");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn unexpected_answers_are_protocol_errors() {
    let (base, _) = fake_idp(Arc::new(|path, _| match path {
        "/mobile/v1/claim" => (502, "<html>bad gateway</html>".into()),
        "/mobile/v1/complete" => (200, json!({"status": "pending"}).to_string()),
        _ => (
            200,
            json!({"status": "failed", "hint": "expiredTransaction"}).to_string(),
        ),
    }))
    .await;
    let phone = phone(&base);
    let err = phone
        .claim(&Start::Qr("q".into()), &credential("anna-mobile"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PhoneError::Protocol(m) if m.contains("502")),
        "{err}"
    );

    let claim = Claim {
        order_ref: "o".into(),
        claim_token: "c".into(),
        challenge: vec![1, 2, 3],
    };
    let err = phone
        .approve(&claim, &credential("anna-mobile"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PhoneError::Protocol(m) if m.contains("pending")),
        "{err}"
    );
    let err = phone.decline(&claim).await.unwrap_err();
    assert!(
        matches!(&err, PhoneError::Protocol(m) if m.contains("expiredTransaction")),
        "{err}"
    );
}

#[tokio::test]
async fn bad_challenge_is_a_protocol_error() {
    let (base, _) = fake_idp(Arc::new(|_, _| {
        (
            200,
            json!({
                "order_ref": "o", "claim_token": "c", "challenge": "not base64!",
                "display": {"text_sv": "", "text_en": "", "application": "", "organisation": ""}
            })
            .to_string(),
        )
    }))
    .await;
    let err = phone(&base)
        .claim(&Start::Qr("q".into()), &credential("anna-mobile"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PhoneError::Protocol(m) if m.contains("challenge")),
        "{err}"
    );
}

#[tokio::test]
async fn nobody_listening_is_an_http_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = phone(&base)
        .claim(&Start::Qr("q".into()), &credential("anna-mobile"))
        .await
        .unwrap_err();
    assert!(matches!(err, PhoneError::Http(_)), "{err:?}");
}

#[test]
fn new_rejects_bad_inputs() {
    assert!(Phone::new("not a url", None).is_err());
    assert!(Phone::new("ftp://localhost", None).is_err());
    assert!(Phone::new("https://localhost:8443", Some(b"no pem here")).is_err());
    let ca =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev/tls/tls-ca.pem"))
            .unwrap();
    assert!(Phone::new("https://localhost:8443", Some(&ca)).is_ok());
}
