//! Building the certificates, keys and CRLs of the development PKI in memory.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationList,
    CertificateRevocationListParams, CertifiedIssuer, CrlDistributionPoint, CustomExtension,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, RsaKeySize, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use time::{Duration, OffsetDateTime};

use super::hierarchy::{CaSlug, CertStatus, DevUser, ROOT_CA_NAME, TLS_CA_NAME, USERS};
use super::names::{distinguished_name, oneline, org_subject, user_subject, Attribute};
use super::DevPkiError;
use crate::der;

/// How long CAs (root, issuing, TLS) are valid from `now`.
const CA_YEARS: i32 = 20;
/// How long users, the TLS server and the protocol keys are valid from `now`.
const LEAF_YEARS: i32 = 10;
/// CAs start this long before `now`, so that the expired user's lifetime lies within theirs.
const CA_BACKDATE_YEARS: i32 = 3;

type Issuer = CertifiedIssuer<'static, KeyPair>;

/// The whole development PKI, ready to be written out.
pub(crate) struct Pki {
    pub(crate) root: Issuer,
    pub(crate) cas: Vec<IssuingCa>,
    pub(crate) users: Vec<IssuedUser>,
    pub(crate) tls_ca: Certificate,
    pub(crate) tls_server: KeyedCert,
    pub(crate) protocol_keys: Vec<KeyedCert>,
}

/// An issuing CA with its current CRL.
pub(crate) struct IssuingCa {
    pub(crate) slug: CaSlug,
    pub(crate) ca: Issuer,
    pub(crate) crl: CertificateRevocationList,
}

/// A user's authentication certificate and key.
pub(crate) struct IssuedUser {
    pub(crate) user: &'static DevUser,
    pub(crate) key: KeyPair,
    pub(crate) cert: Certificate,
    /// The issuing CA's certificate.
    pub(crate) ca_cert: Certificate,
    pub(crate) serial: Vec<u8>,
    pub(crate) not_after: OffsetDateTime,
    pub(crate) revoked_at: Option<OffsetDateTime>,
    /// The subject in OpenSSL's one-line `/C=SE/O=.../CN=...` form.
    pub(crate) subject_oneline: String,
}

/// A certificate and its key, written as `<stem>.pem` and `<stem>.key.pem`.
pub(crate) struct KeyedCert {
    pub(crate) stem: &'static str,
    pub(crate) key: KeyPair,
    pub(crate) cert: Certificate,
}

/// Generates every key, certificate and CRL, with all times derived from `now`.
pub(crate) fn build(now: OffsetDateTime) -> Result<Pki, DevPkiError> {
    let ca_not_before = add_years(now, -CA_BACKDATE_YEARS)?;
    let ca_not_after = add_years(now, CA_YEARS)?;

    let mut root_params = ca_params(ROOT_CA_NAME, ca_not_before, ca_not_after, 1)?;
    root_params.use_authority_key_identifier_extension = false;
    let root = Issuer::self_signed(root_params, rsa_key()?).map_err(rcgen_err("root CA"))?;

    let mut cas = Vec::new();
    let mut users = Vec::new();
    for slug in CaSlug::ALL {
        let mut params = ca_params(slug.common_name(), ca_not_before, ca_not_after, 0)?;
        params.custom_extensions.push(policies_extension(slug));
        let what = slug.common_name();
        let ca = Issuer::signed_by(params, rsa_key()?, &root).map_err(rcgen_err(what))?;

        let mut revoked = Vec::new();
        for user in USERS.iter().filter(|u| u.issuer == slug) {
            let issued = issue_user(user, &ca, now)?;
            if let Some(revocation_time) = issued.revoked_at {
                revoked.push(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&issued.serial),
                    revocation_time,
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                });
            }
            users.push(issued);
        }
        let crl = CertificateRevocationListParams {
            this_update: now,
            next_update: add_years(now, LEAF_YEARS)?,
            crl_number: SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca)
        .map_err(rcgen_err(what))?;
        cas.push(IssuingCa { slug, ca, crl });
    }
    // Keep users in table order regardless of the CA loop above.
    users.sort_by_key(|u| USERS.iter().position(|t| t.slug == u.user.slug));

    let (tls_ca, tls_server) = tls(now)?;
    let protocol_keys = protocol_keys(now)?;
    Ok(Pki {
        root,
        cas,
        users,
        tls_ca,
        tls_server,
        protocol_keys,
    })
}

fn issue_user(
    user: &'static DevUser,
    ca: &Issuer,
    now: OffsetDateTime,
) -> Result<IssuedUser, DevPkiError> {
    let slug = user.issuer;
    let (not_before, not_after) = match user.status {
        CertStatus::Valid | CertStatus::Revoked => {
            (before(now, Duration::days(1))?, add_years(now, LEAF_YEARS)?)
        }
        CertStatus::Expired => (add_years(now, -2)?, add_years(now, -1)?),
    };
    let subject = user_subject(user);
    let serial = random_serial();
    let params = user_params(&subject, slug, &serial, not_before, not_after)?;
    let key = if slug.is_ecdsa() {
        ec_key()?
    } else {
        rsa_key()?
    };
    let cert = params.signed_by(&key, ca).map_err(rcgen_err(user.slug))?;
    let revoked_at = match user.status {
        CertStatus::Revoked => Some(before(now, Duration::hours(1))?),
        CertStatus::Valid | CertStatus::Expired => None,
    };
    Ok(IssuedUser {
        user,
        key,
        cert,
        ca_cert: ca.as_ref().clone(),
        serial,
        not_after,
        revoked_at,
        subject_oneline: oneline(&subject),
    })
}

/// An authentication certificate's parameters: `subject`, issued by `slug`'s CA with its
/// policy, CRL distribution point and OCSP responder.
pub(super) fn user_params(
    subject: &[Attribute],
    slug: CaSlug,
    serial: &[u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, DevPkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(subject)?;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![slug.crl_url()],
    }];
    params.custom_extensions = vec![
        policies_extension(slug),
        CustomExtension::from_oid_content(
            der::AUTHORITY_INFO_ACCESS,
            der::authority_info_access_ocsp(&slug.ocsp_url()),
        ),
    ];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn tls(now: OffsetDateTime) -> Result<(Certificate, KeyedCert), DevPkiError> {
    let not_before = before(now, Duration::days(1))?;
    let ca_params = ca_params(TLS_CA_NAME, not_before, add_years(now, CA_YEARS)?, 0)?;
    let ca = Issuer::self_signed(ca_params, ec_key()?).map_err(rcgen_err(TLS_CA_NAME))?;

    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&org_subject("localhost"))?;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
    params.not_before = not_before;
    params.not_after = add_years(now, LEAF_YEARS)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().map_err(rcgen_err("localhost"))?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = ec_key()?;
    let cert = params
        .signed_by(&key, &ca)
        .map_err(rcgen_err("localhost"))?;

    let ca_cert = ca.as_ref().clone();
    Ok((
        ca_cert,
        KeyedCert {
            stem: "localhost",
            key,
            cert,
        },
    ))
}

/// A protocol key of the IdP, with a self-signed certificate (SAML metadata carries
/// certificates; a JWKS can carry `x5c`).
struct ProtocolKeySpec {
    stem: &'static str,
    common_name: &'static str,
    is_ecdsa: bool,
    usages: &'static [KeyUsagePurpose],
}

const PROTOCOL_KEYS: [ProtocolKeySpec; 7] = {
    use KeyUsagePurpose::{DataEncipherment, DigitalSignature, KeyEncipherment};
    [
        ProtocolKeySpec {
            stem: "saml-signing",
            common_name: "Dev IdP SAML signing",
            is_ecdsa: false,
            usages: &[DigitalSignature],
        },
        ProtocolKeySpec {
            stem: "saml-signing-ec",
            common_name: "Dev IdP SAML signing ECDSA",
            is_ecdsa: true,
            usages: &[DigitalSignature],
        },
        ProtocolKeySpec {
            stem: "saml-encryption",
            common_name: "Dev IdP SAML encryption",
            is_ecdsa: false,
            usages: &[KeyEncipherment, DataEncipherment],
        },
        ProtocolKeySpec {
            stem: "oidc-rs256",
            common_name: "Dev IdP OIDC RS256",
            is_ecdsa: false,
            usages: &[DigitalSignature],
        },
        ProtocolKeySpec {
            stem: "oidc-es256",
            common_name: "Dev IdP OIDC ES256",
            is_ecdsa: true,
            usages: &[DigitalSignature],
        },
        // The test service provider's own keys (sp-test): request signing and
        // assertion decryption.
        ProtocolKeySpec {
            stem: "sp-test-signing",
            common_name: "Dev sp-test SAML signing",
            is_ecdsa: false,
            usages: &[DigitalSignature],
        },
        ProtocolKeySpec {
            stem: "sp-test-encryption",
            common_name: "Dev sp-test SAML encryption",
            is_ecdsa: false,
            usages: &[KeyEncipherment, DataEncipherment],
        },
    ]
};

fn protocol_keys(now: OffsetDateTime) -> Result<Vec<KeyedCert>, DevPkiError> {
    let mut out = Vec::new();
    for spec in &PROTOCOL_KEYS {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(&org_subject(spec.common_name))?;
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
        params.not_before = before(now, Duration::days(1))?;
        params.not_after = add_years(now, LEAF_YEARS)?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = spec.usages.to_vec();
        let key = if spec.is_ecdsa { ec_key()? } else { rsa_key()? };
        let cert = params
            .self_signed(&key)
            .map_err(rcgen_err(spec.common_name))?;
        out.push(KeyedCert {
            stem: spec.stem,
            key,
            cert,
        });
    }
    Ok(out)
}

fn ca_params(
    common_name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    path_len: u8,
) -> Result<CertificateParams, DevPkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&org_subject(common_name))?;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn policies_extension(slug: CaSlug) -> CustomExtension {
    CustomExtension::from_oid_content(
        der::CERTIFICATE_POLICIES,
        der::certificate_policies(&[slug.policy_oid()]),
    )
}

/// A random positive 16-byte serial number whose first byte is never zero.
pub(super) fn random_serial() -> Vec<u8> {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    bytes.to_vec()
}

pub(super) fn rsa_key() -> Result<KeyPair, DevPkiError> {
    KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)
        .map_err(rcgen_err("RSA-2048 key"))
}

pub(super) fn ec_key() -> Result<KeyPair, DevPkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rcgen_err("ECDSA P-256 key"))
}

/// The same calendar date `years` away; 29 February falls back to 28 February.
pub(super) fn add_years(t: OffsetDateTime, years: i32) -> Result<OffsetDateTime, DevPkiError> {
    let out_of_range = || DevPkiError::TimeOutOfRange {
        shift: format!("{years:+} years"),
    };
    let year = t.year().checked_add(years).ok_or_else(out_of_range)?;
    match t.replace_year(year) {
        Ok(shifted) => Ok(shifted),
        Err(_) => before(t, Duration::days(1))?
            .replace_year(year)
            .map_err(|_| out_of_range()),
    }
}

/// `t` moved back by `d`.
pub(super) fn before(t: OffsetDateTime, d: Duration) -> Result<OffsetDateTime, DevPkiError> {
    t.checked_sub(d).ok_or_else(|| DevPkiError::TimeOutOfRange {
        shift: format!("-{d}"),
    })
}

pub(super) fn rcgen_err(what: &str) -> impl FnOnce(rcgen::Error) -> DevPkiError + '_ {
    move |source| DevPkiError::Rcgen {
        what: what.to_owned(),
        source,
    }
}
