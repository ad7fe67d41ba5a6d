//! Writing the development PKI to disk: a staging directory swapped into place, private
//! keys readable by the owner only, and the PKCS#12 bundles.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use p12_keystore::{
    Certificate as P12Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm,
    PrivateKey, PrivateKeyChain,
};
use time::OffsetDateTime;

use super::issue::{IssuedUser, Pki};
use super::{manifest, DevPkiError, PKCS12_PASSWORD};

/// PBKDF2 and MAC iteration count of the PKCS#12 files (OpenSSL 3's default is 2048).
const PKCS12_ITERATIONS: u32 = 10_000;

/// Writes every file of `pki` into `staging`.
pub(crate) fn write_all(
    staging: &mut Staging,
    pki: &Pki,
    now: OffsetDateTime,
) -> Result<(), DevPkiError> {
    let root_pem = pki.root.pem();
    staging.write("root-ca.pem", &root_pem)?;
    staging.write_secret("root-ca.key.pem", pki.root.key().serialize_pem())?;

    let mut issuing_pems = String::new();
    let mut crl_pems = String::new();
    for ca in &pki.cas {
        let slug = ca.slug.as_str();
        let crl_pem = ca.crl.pem().map_err(|source| DevPkiError::Rcgen {
            what: format!("{slug} CRL PEM"),
            source,
        })?;
        staging.write(&format!("ca/{slug}.pem"), ca.ca.pem())?;
        staging.write_secret(&format!("ca/{slug}.key.pem"), ca.ca.key().serialize_pem())?;
        staging.write(&format!("ca/{slug}.crl.pem"), &crl_pem)?;
        staging.write(&format!("ca/{slug}.crl.der"), ca.crl.der())?;
        staging.write(
            &format!("ca/{slug}.index.txt"),
            manifest::openssl_index(ca.slug, &pki.users),
        )?;
        staging.write(
            &format!("ca/{slug}.index.txt.attr"),
            "unique_subject = no\n",
        )?;
        issuing_pems.push_str(&ca.ca.pem());
        crl_pems.push_str(&crl_pem);
    }
    staging.write("trust/roots.pem", &root_pem)?;
    staging.write("trust/issuing-cas.pem", &issuing_pems)?;
    staging.write("trust/ca-bundle.pem", format!("{root_pem}{issuing_pems}"))?;
    staging.write("trust/crls.pem", &crl_pems)?;

    for user in &pki.users {
        let slug = user.user.slug;
        let leaf_pem = user.cert.pem();
        staging.write(&format!("users/{slug}.pem"), &leaf_pem)?;
        staging.write_secret(&format!("users/{slug}.key.pem"), user.key.serialize_pem())?;
        staging.write(
            &format!("users/{slug}.chain.pem"),
            format!("{leaf_pem}{}", user.ca_cert.pem()),
        )?;
        let p12_path = format!("users/{slug}.p12");
        let chain: [&[u8]; 2] = [user.ca_cert.der(), pki.root.der()];
        let p12 = pkcs12(user, &chain).map_err(|source| DevPkiError::Pkcs12 {
            path: p12_path.clone().into(),
            source,
        })?;
        staging.write_secret(&p12_path, p12)?;
    }

    let tls_ca_pem = pki.tls_ca.pem();
    staging.write("tls/tls-ca.pem", &tls_ca_pem)?;
    staging.write(
        "tls/localhost.pem",
        format!("{}{tls_ca_pem}", pki.tls_server.cert.pem()),
    )?;
    staging.write_secret("tls/localhost.key.pem", pki.tls_server.key.serialize_pem())?;

    for keyed in &pki.protocol_keys {
        staging.write(&format!("signing/{}.pem", keyed.stem), keyed.cert.pem())?;
        staging.write_secret(
            &format!("signing/{}.key.pem", keyed.stem),
            keyed.key.serialize_pem(),
        )?;
    }

    staging.write("users.toml", manifest::users_toml(pki)?)?;
    staging.write("README.md", manifest::readme(pki, now))?;
    Ok(())
}

/// A PKCS#12 file with the user's key, certificate and chain up to the root, under the
/// friendly name "<given> <surname>": PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for both the
/// key and the certificates, and an HMAC-SHA256 MAC, which OpenSSL 3 reads without -legacy.
fn pkcs12(user: &IssuedUser, chain: &[&[u8]]) -> Result<Vec<u8>, p12_keystore::error::Error> {
    let mut certs = vec![P12Certificate::from_der(user.cert.der())?];
    for der in chain {
        certs.push(P12Certificate::from_der(der)?);
    }
    let key = PrivateKey::from_der(user.key.serialized_der())?;
    let mut store = KeyStore::new();
    store.add_entry(
        &user.user.common_name(),
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(user.serial.as_slice(), key, certs)),
    );
    store
        .writer(PKCS12_PASSWORD)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(PKCS12_ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(PKCS12_ITERATIONS)
        .write()
}

/// A directory next to the output directory that receives the new PKI before it replaces
/// the old one.
pub(crate) struct Staging {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl Staging {
    pub(crate) fn create(out_dir: &Path) -> Result<Self, DevPkiError> {
        let dir = sibling(out_dir, "new")?;
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        Ok(Staging {
            dir,
            files: Vec::new(),
        })
    }

    /// Writes a public file (certificate, CRL, text).
    pub(crate) fn write(
        &mut self,
        rel: &str,
        contents: impl AsRef<[u8]>,
    ) -> Result<(), DevPkiError> {
        self.write_file(rel, contents.as_ref(), false)
    }

    /// Writes a file holding a private key, readable by its owner only (mode 0600 on unix).
    pub(crate) fn write_secret(
        &mut self,
        rel: &str,
        contents: impl AsRef<[u8]>,
    ) -> Result<(), DevPkiError> {
        self.write_file(rel, contents.as_ref(), true)
    }

    fn write_file(
        &mut self,
        rel: &str,
        contents: &[u8],
        is_secret: bool,
    ) -> Result<(), DevPkiError> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if is_secret {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = is_secret;
        let mut file = options.open(&path).map_err(io_err("create", &path))?;
        file.write_all(contents).map_err(io_err("write", &path))?;
        self.files.push(PathBuf::from(rel));
        Ok(())
    }

    /// Moves the staged entries into `out_dir`, replacing those of the same names, and
    /// returns the files written. On failure the old entries are put back where possible.
    pub(crate) fn commit(self, out_dir: &Path) -> Result<Vec<PathBuf>, DevPkiError> {
        if fs::symlink_metadata(out_dir).is_err() {
            if let Some(parent) = out_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(io_err("create", parent))?;
            }
            fs::rename(&self.dir, out_dir).map_err(io_err("move into place", out_dir))?;
            return Ok(self.files);
        }

        let mut names: Vec<&std::ffi::OsStr> = Vec::new();
        for file in &self.files {
            if let Some(first) = file.iter().next() {
                if !names.contains(&first) {
                    names.push(first);
                }
            }
        }
        let backup = sibling(out_dir, "old")?;
        fs::create_dir_all(&backup).map_err(io_err("create", &backup))?;
        let mut moved_out = Vec::new();
        let mut moved_in = Vec::new();
        let swap = (|| {
            for name in &names {
                let old = out_dir.join(name);
                if fs::symlink_metadata(&old).is_ok() {
                    fs::rename(&old, backup.join(name)).map_err(io_err("move aside", &old))?;
                    moved_out.push(*name);
                }
            }
            for name in &names {
                let new = out_dir.join(name);
                fs::rename(self.dir.join(name), &new).map_err(io_err("move into place", &new))?;
                moved_in.push(*name);
            }
            Ok::<(), DevPkiError>(())
        })();
        if let Err(e) = swap {
            for name in moved_in {
                let _ = fs::rename(out_dir.join(name), self.dir.join(name));
            }
            for name in moved_out {
                let _ = fs::rename(backup.join(name), out_dir.join(name));
            }
            let _ = fs::remove_dir_all(&backup);
            self.discard();
            return Err(e);
        }
        fs::remove_dir_all(&backup).map_err(io_err("remove the previous PKI in", &backup))?;
        fs::remove_dir_all(&self.dir).map_err(io_err("remove", &self.dir))?;
        Ok(self.files)
    }

    /// Removes the staging directory after a failure (best effort: the error that caused
    /// the failure is the one worth reporting).
    pub(crate) fn discard(self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `<parent>/.<name>.<tag>-<random>`, on the same file system as `out_dir` so that it can
/// be renamed into place.
fn sibling(out_dir: &Path, tag: &str) -> Result<PathBuf, DevPkiError> {
    let Some(name) = out_dir.file_name() else {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "output directory has no name");
        return Err(DevPkiError::Io {
            action: "use as output directory",
            path: out_dir.to_owned(),
            source,
        });
    };
    let parent = out_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let suffix = hex::encode(rand::random::<[u8; 4]>());
    Ok(parent.join(format!(".{}.{tag}-{suffix}", name.to_string_lossy())))
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DevPkiError {
    let path = path.to_owned();
    move |source| DevPkiError::Io {
        action,
        path,
        source,
    }
}
