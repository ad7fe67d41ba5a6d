//! The simulated service's PKI, written once into a directory (so that the IdP's
//! configuration can point at it) and read on every later start: the service CA, the
//! service's TLS server certificate, the one RP client certificate the service issued,
//! and a foreign CA with a server certificate of its own (served with
//! `--serve-foreign-certificate`: the IdP, which pins the service CA, must refuse it).
//! Every certificate names the development PKI's organisation, so a production IdP
//! refuses them as development material.

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

pub const SERVICE_CA: &str = "service-ca.pem";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key.pem";
pub const RP_CERT: &str = "rp-client.pem";
pub const RP_KEY: &str = "rp-client.key.pem";
pub const FOREIGN_CA: &str = "foreign-ca.pem";
pub const FOREIGN_SERVER_CERT: &str = "foreign-server.pem";
pub const FOREIGN_SERVER_KEY: &str = "foreign-server.key.pem";

/// Where the files are.
#[derive(Debug, Clone)]
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "SE");
    dn.push(DnType::OrganizationName, idp::devpki::DEV_ORGANISATION);
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ca(common_name: &str) -> Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    Ok(CertifiedIssuer::self_signed(params, key)?)
}

fn leaf(
    common_name: &str,
    server: bool,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Result<(String, String)> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if server {
        params.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into()?),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.signed_by(&key, issuer)?;
    // The chain: leaf, then its CA.
    Ok((cert.pem() + &issuer.as_ref().pem(), key.serialize_pem()))
}

fn write(dir: &Path, file: &str, text: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, text).with_context(|| path.display().to_string())
}

/// The PKI in `dir`: read when there, written (all of it) when not.
pub fn ensure(dir: &Path) -> Result<Pki> {
    let pki = Pki {
        dir: dir.to_path_buf(),
    };
    let files = [
        SERVICE_CA,
        SERVER_CERT,
        SERVER_KEY,
        RP_CERT,
        RP_KEY,
        FOREIGN_CA,
        FOREIGN_SERVER_CERT,
        FOREIGN_SERVER_KEY,
    ];
    if files.iter().all(|f| pki.path(f).is_file()) {
        return Ok(pki);
    }
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let service = ca("TEST National eID Service CA")?;
    let (server, server_key) = leaf("localhost", true, &service)?;
    let (rp, rp_key) = leaf("TEST Regional IdP relying party", false, &service)?;
    let foreign = ca("TEST Foreign CA")?;
    let (foreign_server, foreign_key) = leaf("localhost", true, &foreign)?;
    // Keys first, the CA last: a directory with the CA is complete.
    write(dir, SERVER_KEY, &server_key)?;
    write(dir, SERVER_CERT, &server)?;
    write(dir, RP_KEY, &rp_key)?;
    write(dir, RP_CERT, &rp)?;
    write(dir, FOREIGN_SERVER_KEY, &foreign_key)?;
    write(dir, FOREIGN_SERVER_CERT, &foreign_server)?;
    write(dir, FOREIGN_CA, &foreign.as_ref().pem())?;
    write(dir, SERVICE_CA, &service.as_ref().pem())?;
    Ok(pki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pki_is_written_once_and_names_the_development_organisation() {
        let dir = std::env::temp_dir().join(format!("national-eid-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pki = ensure(&dir).unwrap();
        let first = std::fs::read(pki.path(RP_CERT)).unwrap();
        ensure(&dir).unwrap();
        assert_eq!(std::fs::read(pki.path(RP_CERT)).unwrap(), first, "kept");
        let pem = std::fs::read(pki.path(SERVICE_CA)).unwrap();
        let (_, block) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let ca = block.parse_x509().unwrap();
        assert!(ca
            .subject()
            .iter_organization()
            .any(|o| o.as_str() == Ok(idp::devpki::DEV_ORGANISATION)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
