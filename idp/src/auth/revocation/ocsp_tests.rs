use super::*;
use crate::auth::revocation::certs::{parse_pair, tests::dev_der};
use der::asn1::{BitString, GeneralizedTime};
use time::macros::datetime;
use x509_cert::ext::Extension;
use x509_ocsp::{ResponderId, ResponseData, Version};

const NOW: OffsetDateTime = datetime!(2026-11-22 08:00 UTC);

fn hsaid3() -> (Vec<u8>, IssuerInfo) {
    let (leaf, issuer) = parse_pair(&dev_der("users/anna.pem"), &dev_der("ca/hsaid3.pem")).unwrap();
    (leaf.serial, issuer)
}

#[test]
fn cert_id_hashes_issuer_name_and_key_like_openssl() {
    let (serial, issuer) = hsaid3();
    let id = cert_id(ID_SHA1, &issuer, &serial).unwrap();
    // `openssl ocsp -issuer ca/hsaid3.pem -cert users/anna.pem -req_text` prints these.
    assert_eq!(
        hex::encode_upper(id.issuer_name_hash.as_bytes()),
        "5F3B4719E6BEBF5A83D61B2CB7505F891044E7CB"
    );
    assert_eq!(
        hex::encode_upper(id.issuer_key_hash.as_bytes()),
        "CCE058F9E6A86808F2CBBAC52824D49E300C6593"
    );
    assert_eq!(
        hex::encode_upper(id.serial_number.as_bytes()),
        "509D5C82F88C3D8C3AFA5BDBEEF26C8C"
    );
    assert_eq!(id.hash_algorithm.oid, ID_SHA1);
}

#[test]
fn cert_ids_match_whatever_their_hash_but_not_another_serial() {
    let (serial, issuer) = hsaid3();
    let sha256 = cert_id(ID_SHA256, &issuer, &serial).unwrap();
    assert!(cert_id_matches(&sha256, &issuer, &serial));
    assert!(cert_id_matches(
        &cert_id(ID_SHA1, &issuer, &serial).unwrap(),
        &issuer,
        &serial
    ));
    assert!(!cert_id_matches(&sha256, &issuer, &[0x01, 0x02]));
    // A serial with a sign-padding zero names the same certificate.
    let padded = cert_id(ID_SHA1, &issuer, &[0x00, 0x9d]).unwrap();
    assert!(cert_id_matches(&padded, &issuer, &[0x9d]));
}

#[test]
fn the_request_carries_one_cert_id_and_our_nonce() {
    let (serial, issuer) = hsaid3();
    let nonce = new_nonce();
    assert_eq!(nonce.len(), 32);
    let der = build_request(&issuer, &serial, &nonce).unwrap();
    let request = x509_ocsp::OcspRequest::from_der(&der).unwrap();
    assert_eq!(request.tbs_request.request_list.len(), 1);
    let id = &request.tbs_request.request_list[0].req_cert;
    assert!(cert_id_matches(id, &issuer, &serial));
    let sent = request.nonce().unwrap();
    assert_eq!(sent.0.as_bytes(), nonce.as_slice());
}

fn response_with_nonce_value(value: Option<Vec<u8>>) -> BasicOcspResponse {
    let extensions = value.map(|v| {
        vec![Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(v).unwrap(),
        }]
    });
    BasicOcspResponse {
        tbs_response_data: ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(OctetString::new(vec![1; 20]).unwrap()),
            produced_at: OcspGeneralizedTime(
                GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(0)).unwrap(),
            ),
            responses: Vec::new(),
            response_extensions: extensions,
        },
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(&[0]).unwrap(),
        certs: None,
    }
}

#[test]
fn nonce_must_match_when_echoed() {
    let ours = vec![0xab; 32];
    let wrapped = OctetString::new(ours.clone()).unwrap().to_der().unwrap();
    let echoed = response_with_nonce_value(Some(wrapped));
    assert_eq!(check_nonce(&echoed, &ours), Ok(true));
    let bare = response_with_nonce_value(Some(ours.clone()));
    assert_eq!(check_nonce(&bare, &ours), Ok(true));
    let other = OctetString::new(vec![0xcd; 32]).unwrap().to_der().unwrap();
    let other = response_with_nonce_value(Some(other));
    assert_eq!(check_nonce(&other, &ours), Err(OcspError::NonceMismatch));
    let none = response_with_nonce_value(None);
    assert_eq!(check_nonce(&none, &ours), Ok(false));
}

#[test]
fn times_allow_five_minutes_of_skew_and_no_expired_answer() {
    let minutes = Duration::minutes;
    assert_eq!(
        check_times(NOW + minutes(4), Some(NOW + minutes(9)), true, NOW),
        Ok(())
    );
    assert_eq!(
        check_times(NOW + minutes(6), Some(NOW + minutes(9)), true, NOW),
        Err(OcspError::NotYetValid)
    );
    assert_eq!(
        check_times(NOW - minutes(10), Some(NOW - minutes(1)), true, NOW),
        Err(OcspError::Expired)
    );
}

#[test]
fn an_old_answer_without_next_update_needs_our_nonce() {
    let old = NOW - Duration::minutes(30);
    assert_eq!(check_times(old, None, true, NOW), Ok(()));
    assert_eq!(check_times(old, None, false, NOW), Err(OcspError::Stale));
    assert_eq!(
        check_times(NOW - Duration::minutes(1), None, false, NOW),
        Ok(())
    );
}

#[test]
fn garbage_and_error_statuses_are_not_answers() {
    let (serial, issuer) = hsaid3();
    let garbage = read_response(b"<html>", &issuer, &serial, &[1; 32], NOW);
    assert!(matches!(garbage, Err(OcspError::Malformed(_))));
    let try_later = OcspResponse::try_later().to_der().unwrap();
    assert_eq!(
        read_response(&try_later, &issuer, &serial, &[1; 32], NOW),
        Err(OcspError::Status(OcspResponseStatus::TryLater))
    );
}
