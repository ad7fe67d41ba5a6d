//! The service providers, as the SAML engine sees them: each tenant's `[[saml_sp]]`
//! settings joined with the SP's metadata (from a file, a URL or a federation's aggregate,
//! refreshed, last good copy kept), or, for an SP registered without metadata, with the endpoints and certificate
//! named in its tenant file.

use std::collections::HashMap;
use std::sync::Arc;

use super::attributes::{default_release, AttributeName};
use super::encryption::ContentAlgorithm;
use super::metadata::{
    Binding, Endpoint, MetadataCache, MetadataSource, SourceLocation, SpMetadata,
};
use crate::registry::Registry;
use crate::tenants::{
    Application, NameIdFormat, SamlProfile, SamlServiceProvider, SignedParts, Tenant,
};

/// One SP, ready for a request.
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    /// The registry version this SP was read from (for admission across tenants).
    pub snapshot: Arc<Registry>,
    pub tenant: Arc<Tenant>,
    pub config: SamlServiceProvider,
    pub entity_id: String,
    pub acs: Vec<Endpoint>,
    pub slo: Vec<Endpoint>,
    pub signing_certificates: Vec<Vec<u8>>,
    pub encryption_certificate: Option<Vec<u8>>,
    pub encryption_methods: Vec<String>,
    pub metadata_wants_signed_requests: bool,
    /// The SP's metadata lists ECDSA-SHA256 as a signing method it supports.
    pub supports_ecdsa: bool,
    /// Metadata is configured but no copy could be loaded yet.
    pub is_metadata_missing: bool,
}

impl ServiceProvider {
    pub fn application(&self) -> Option<Application<'_>> {
        self.tenant.applications().find(|a| a.id == &self.config.id)
    }

    /// `tenant/app`, as SSO sessions and audit records name applications.
    pub fn application_key(&self) -> String {
        format!("{}/{}", self.tenant.id, self.config.id)
    }

    pub fn profile(&self) -> SamlProfile {
        self.config.profile
    }

    pub fn signed_parts(&self) -> SignedParts {
        self.config.sign.unwrap_or(match self.config.profile {
            SamlProfile::Sambi => SignedParts::Assertion,
            SamlProfile::SwedishEid => SignedParts::Both,
        })
    }

    /// Whether requests must be signed: the SP's setting, else its metadata, else the
    /// IdP-wide setting.
    pub fn requires_signed_requests(&self, idp_wide: bool) -> bool {
        idp_wide
            || self
                .config
                .require_signed_requests
                .unwrap_or(self.metadata_wants_signed_requests)
    }

    /// The certificate and cipher to encrypt assertions with, or `None` to send them in
    /// the clear. An SP configured to require encryption without an encryption
    /// certificate gets no assertion at all (`Err`), never a clear one.
    pub fn encryption(
        &self,
    ) -> Result<Option<(&[u8], ContentAlgorithm)>, super::encryption::EncryptionError> {
        let wanted = self.config.encrypt_assertions;
        let by_profile = self.config.profile == SamlProfile::SwedishEid;
        match (&self.encryption_certificate, wanted) {
            (_, Some(false)) => Ok(None),
            (None, Some(true)) => Err(super::encryption::EncryptionError::Certificate),
            (None, None) => Ok(None),
            (Some(certificate), _) if wanted == Some(true) || by_profile => {
                let algorithm = self
                    .config
                    .encryption_algorithm
                    .or_else(|| ContentAlgorithm::from_metadata(&self.encryption_methods))
                    .unwrap_or(ContentAlgorithm::Aes256Gcm);
                Ok(Some((certificate.as_slice(), algorithm)))
            }
            (Some(_), _) => Ok(None),
        }
    }

    pub fn default_name_id_format(&self) -> NameIdFormat {
        self.config
            .name_id_format
            .unwrap_or(NameIdFormat::Persistent)
    }

    pub fn release(&self) -> &[AttributeName] {
        self.config
            .release
            .as_deref()
            .unwrap_or_else(|| default_release(self.config.profile))
    }

    /// The ACS endpoint at `location` (exact string match) with the POST binding.
    pub fn acs_by_location(&self, location: &str) -> Option<&Endpoint> {
        self.acs
            .iter()
            .find(|e| e.binding == Binding::HttpPost && e.location_raw == location)
    }

    pub fn acs_by_index(&self, index: u16) -> Option<&Endpoint> {
        self.acs
            .iter()
            .find(|e| e.binding == Binding::HttpPost && e.index == Some(index))
    }

    /// The default POST ACS (SAML metadata §2.2.3: `isDefault="true"`, else the first
    /// not marked `isDefault="false"`, else the first).
    pub fn default_acs(&self) -> Option<&Endpoint> {
        let post = || self.acs.iter().filter(|e| e.binding == Binding::HttpPost);
        post()
            .find(|e| e.is_default)
            .or_else(|| post().find(|e| !e.is_non_default))
            .or_else(|| post().next())
    }

    /// Where to send this SP a logout message: its Redirect endpoint, else POST.
    pub fn slo_endpoint(&self) -> Option<&Endpoint> {
        self.slo
            .iter()
            .find(|e| e.binding == Binding::HttpRedirect)
            .or_else(|| self.slo.iter().find(|e| e.binding == Binding::HttpPost))
    }
}

struct Registered {
    tenant: Arc<Tenant>,
    config: SamlServiceProvider,
    /// From `signing_certificate` (SPs without metadata).
    signing_certificates: Vec<Vec<u8>>,
    has_metadata: bool,
}

/// The SPs of one registry snapshot, joined with the shared metadata cache.
pub struct SpRegistry {
    pub snapshot: Arc<Registry>,
    registered: HashMap<String, Registered>,
    pub cache: Arc<MetadataCache>,
    pub sources: Vec<MetadataSource>,
}

#[derive(Debug, thiserror::Error)]
#[error("SP {entity_id}: {message}")]
pub struct RegistryError {
    pub entity_id: String,
    pub message: String,
}

fn pem_certificates(
    path: &std::path::Path,
    entity_id: &str,
) -> Result<Vec<Vec<u8>>, RegistryError> {
    crate::server::load_certificates(path)
        .map(|certs| certs.into_iter().map(|c| c.as_ref().to_vec()).collect())
        .map_err(|e| RegistryError {
            entity_id: entity_id.to_owned(),
            message: format!("{}: {e}", path.display()),
        })
}

/// Where `sp`'s metadata comes from, with the certificates that must have signed it
/// (read now); `None` for an SP registered without metadata.
pub fn metadata_source(sp: &SamlServiceProvider) -> Result<Option<MetadataSource>, RegistryError> {
    let entity_id = sp.entity_id.to_string();
    let location = match (&sp.metadata_file, &sp.metadata_url, &sp.federation) {
        (Some(file), _, _) => SourceLocation::File(file.clone()),
        (None, Some(url), _) => SourceLocation::Url(url.clone()),
        (None, None, Some(federation)) => SourceLocation::Federation(federation.clone()),
        (None, None, None) => return Ok(None),
    };
    let signer_certificates = match &sp.metadata_signing_certificate {
        Some(path) => Some(pem_certificates(path, &entity_id)?),
        None => None,
    };
    Ok(Some(MetadataSource {
        entity_id,
        location,
        signer_certificates,
    }))
}

impl SpRegistry {
    /// Every SP of every tenant of `snapshot`; certificates named in registrations are
    /// read now. An SP whose certificate cannot be read is left out (and reported), so
    /// one broken registration never stops the others.
    pub fn new(snapshot: Arc<Registry>, cache: Arc<MetadataCache>) -> (Self, Vec<RegistryError>) {
        let mut registered = HashMap::new();
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for tenant in snapshot.tenants.iter() {
            for sp in &tenant.saml_sp {
                let entity_id = sp.entity_id.to_string();
                let signing_certificates = match &sp.signing_certificate {
                    Some(path) => pem_certificates(path, &entity_id),
                    None => Ok(Vec::new()),
                };
                let (signing_certificates, source) =
                    match (signing_certificates, metadata_source(sp)) {
                        (Ok(signing), Ok(source)) => (signing, source),
                        (Err(e), _) | (_, Err(e)) => {
                            errors.push(e);
                            continue;
                        }
                    };
                sources.extend(source);
                registered.insert(
                    entity_id,
                    Registered {
                        tenant: tenant.clone(),
                        config: sp.clone(),
                        signing_certificates,
                        has_metadata: sp.has_metadata(),
                    },
                );
            }
        }
        let registry = Self {
            snapshot,
            registered,
            cache,
            sources,
        };
        (registry, errors)
    }

    /// The SP `entity_id`, joined with its current metadata.
    pub fn get(&self, entity_id: &str) -> Option<ServiceProvider> {
        let registered = self.registered.get(entity_id)?;
        let config = registered.config.clone();
        let metadata: Option<Arc<SpMetadata>> = if registered.has_metadata {
            self.cache.get(entity_id)
        } else {
            None
        };
        let sp = match metadata {
            Some(m) => ServiceProvider {
                snapshot: Arc::clone(&self.snapshot),
                tenant: registered.tenant.clone(),
                entity_id: entity_id.to_owned(),
                acs: m.assertion_consumer_services.clone(),
                slo: m.single_logout_services.clone(),
                signing_certificates: m.signing_certificates.clone(),
                encryption_certificate: m.encryption_certificates.first().cloned(),
                encryption_methods: m.encryption_methods.clone(),
                metadata_wants_signed_requests: m.authn_requests_signed,
                supports_ecdsa: m.supports_ecdsa,
                is_metadata_missing: false,
                config,
            },
            None => ServiceProvider {
                snapshot: Arc::clone(&self.snapshot),
                tenant: registered.tenant.clone(),
                entity_id: entity_id.to_owned(),
                acs: config
                    .acs_urls
                    .iter()
                    .enumerate()
                    .map(|(i, url)| Endpoint {
                        binding: Binding::HttpPost,
                        location: url.clone(),
                        location_raw: url.to_string(),
                        response_location: None,
                        index: u16::try_from(i).ok(),
                        is_default: i == 0,
                        is_non_default: false,
                    })
                    .collect(),
                slo: config
                    .slo_url
                    .iter()
                    .map(|url| Endpoint {
                        binding: Binding::HttpRedirect,
                        location: url.clone(),
                        location_raw: url.to_string(),
                        response_location: None,
                        index: None,
                        is_default: false,
                        is_non_default: false,
                    })
                    .collect(),
                signing_certificates: registered.signing_certificates.clone(),
                encryption_certificate: None,
                encryption_methods: Vec::new(),
                metadata_wants_signed_requests: false,
                supports_ecdsa: false,
                is_metadata_missing: registered.has_metadata,
                config,
            },
        };
        Some(sp)
    }
}
