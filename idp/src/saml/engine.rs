//! The SAML identity provider as one value in the application state: its identity and
//! key, the service providers, and the stores for requests waiting on a login and for
//! request IDs already seen.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use super::metadata::{MetadataCache, MetadataSource};
use super::registry::SpRegistry;
use crate::auth::Loa;
use crate::config::LoadedConfig;
use crate::keys::{KeyError, SigningKey};
use crate::registry::Registry;
use crate::session::{Namespace, ReplayCache, SharedStore, TypedStore};
use arc_swap::ArcSwap;

/// An AuthnRequest that passed every check and waits for the user to log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingRequest {
    pub sp_entity_id: String,
    pub request_id: String,
    pub acs_url: String,
    pub relay_state: Option<String>,
    /// NameID format URI.
    pub name_id_format: String,
    pub acceptable_loas: Vec<Loa>,
}

pub struct SamlIdp {
    pub config: crate::config::SamlConfig,
    pub entity_id: String,
    pub sso_url: String,
    pub slo_url: String,
    pub key: Arc<SigningKey>,
    /// The ECDSA key, for SPs that support ECDSA-SHA256.
    pub ecdsa_key: Option<Arc<SigningKey>>,
    /// DER certificates of the next signing key(s), published ahead of a rollover.
    pub next_certificates: Vec<Vec<u8>>,
    /// The SPs of the registry snapshot in use, swapped with it.
    registry: ArcSwap<SpRegistry>,
    /// Verified SP metadata, shared by every snapshot.
    pub metadata: Arc<MetadataCache>,
    /// Where the metadata of the SPs in use comes from; the refresh task follows it.
    pub metadata_sources: Arc<ArcSwap<Vec<MetadataSource>>>,
    pub waiting: TypedStore<WaitingRequest>,
    /// Single logouts in progress, by the ID of the LogoutRequest sent last.
    pub logouts: TypedStore<super::slo::LogoutWalk>,
    pub replay: ReplayCache,
    /// LoAs the trust configuration can produce.
    pub deliverable_loas: Vec<Loa>,
}

#[derive(Debug, thiserror::Error)]
pub enum SamlSetupError {
    #[error("SAML signing key: {0}")]
    Key(#[from] KeyError),
    #[error("SAML next signing certificate {path}: {message}")]
    NextCertificate { path: String, message: String },
    #[error("federation {id}: signing certificate {path}: {message}")]
    FederationCertificate {
        id: String,
        path: String,
        message: String,
    },
}

/// The configured federations, their certificates read now.
pub fn federations(
    saml: &crate::config::SamlConfig,
) -> Result<super::metadata::Federations, SamlSetupError> {
    use super::metadata::{AggregateRules, FederationSettings, SourceLocation};
    let mut settings = Vec::new();
    for federation in &saml.federation {
        let path = &federation.signing_certificate;
        let certificates = crate::server::load_certificates(path).map_err(|e| {
            SamlSetupError::FederationCertificate {
                id: federation.id.clone(),
                path: path.display().to_string(),
                message: e.to_string(),
            }
        })?;
        let location = match (&federation.metadata_file, &federation.metadata_url) {
            (Some(file), _) => SourceLocation::File(file.clone()),
            (None, Some(url)) => SourceLocation::Url(url.clone()),
            // Refused by the configuration's validation.
            (None, None) => continue,
        };
        settings.push(FederationSettings {
            id: federation.id.clone(),
            location,
            rules: AggregateRules {
                signer_certificates: certificates.iter().map(|c| c.as_ref().to_vec()).collect(),
                max_bytes: federation.max_bytes,
                require_valid_until: federation.require_valid_until,
                registration_authorities: federation.registration_authorities.clone(),
                entity_categories: federation.entity_categories.clone(),
            },
            refresh: Duration::from_secs(
                federation
                    .refresh_seconds
                    .unwrap_or(saml.metadata_refresh_seconds),
            ),
        });
    }
    Ok(super::metadata::Federations::new(settings))
}

impl SamlIdp {
    pub fn new(
        config: &LoadedConfig,
        store: SharedStore,
        http: reqwest::Client,
    ) -> Result<Self, SamlSetupError> {
        let saml = &config.idp.saml;
        let key = SigningKey::from_pem_files(&saml.signing_key, &saml.signing_certificate)?;
        let ecdsa_key = match (&saml.ecdsa_signing_key, &saml.ecdsa_signing_certificate) {
            (Some(key), Some(certificate)) => {
                Some(Arc::new(SigningKey::from_pem_files(key, certificate)?))
            }
            _ => None,
        };
        let next_certificates = match &saml.next_signing_certificate {
            Some(path) => crate::server::load_certificates(path)
                .map_err(|e| SamlSetupError::NextCertificate {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?
                .into_iter()
                .map(|c| c.as_ref().to_vec())
                .collect(),
            None => Vec::new(),
        };
        let endpoint = |path: &str| {
            let mut url = config.idp.public_url.clone();
            url.set_path(path);
            url.to_string()
        };
        let mut deliverable_loas: Vec<Loa> = config
            .idp
            .trust
            .policies
            .iter()
            .filter_map(|p| Loa::from_level(p.loa))
            .collect();
        deliverable_loas.sort();
        deliverable_loas.dedup();
        let metadata = Arc::new(MetadataCache::new(http).with_federations(federations(saml)?));
        let (registry, _) = SpRegistry::new(Arc::default(), Arc::clone(&metadata));
        let pending_ttl = Duration::from_secs(config.idp.session.pending_login_ttl_seconds);
        Ok(Self {
            entity_id: saml.entity_id(&config.idp.public_url),
            sso_url: endpoint("/saml/sso"),
            slo_url: endpoint("/saml/slo"),
            key: Arc::new(key),
            ecdsa_key,
            next_certificates,
            registry: ArcSwap::from_pointee(registry),
            metadata,
            metadata_sources: Arc::default(),
            waiting: TypedStore::new(store.clone(), Namespace::SamlRequest, pending_ttl),
            logouts: TypedStore::new(store.clone(), Namespace::SamlLogout, pending_ttl),
            replay: ReplayCache::new(store),
            deliverable_loas,
            config: saml.clone(),
        })
    }

    /// The SPs of the registry snapshot in use.
    pub fn registry(&self) -> Arc<SpRegistry> {
        self.registry.load_full()
    }

    /// Takes the SPs of a new registry snapshot into use. Returns the metadata sources
    /// that have no verified copy yet (new registrations), to be loaded now.
    pub fn apply(&self, snapshot: &Arc<Registry>) -> Vec<MetadataSource> {
        let (registry, errors) = SpRegistry::new(Arc::clone(snapshot), Arc::clone(&self.metadata));
        for error in errors {
            tracing::warn!(sp = %error.entity_id, error = %error.message, "SAML SP left out of this registry version");
        }
        let unloaded = registry
            .sources
            .iter()
            .filter(|source| self.metadata.get(&source.entity_id).is_none())
            .cloned()
            .collect();
        self.metadata_sources
            .store(Arc::new(registry.sources.clone()));
        self.registry.store(Arc::new(registry));
        unloaded
    }

    /// Loads the metadata of `sources`; failures are logged, and those SPs answer
    /// `SAML_METADATA_UNAVAILABLE` until a refresh succeeds.
    pub async fn load_metadata(&self, sources: &[MetadataSource], now: OffsetDateTime) {
        for (entity_id, result) in self.metadata.load_all(sources, now).await {
            if let Err(e) = result {
                tracing::warn!(sp = %entity_id, code = e.code(), error = %e, "SP metadata could not be loaded");
            }
        }
    }

    /// The key that signs for `sp`: ECDSA when the SP lists it and the IdP has one.
    pub fn key_for(&self, sp: &super::registry::ServiceProvider) -> &SigningKey {
        match &self.ecdsa_key {
            Some(ecdsa) if sp.supports_ecdsa => ecdsa,
            _ => &self.key,
        }
    }

    /// `true` the first time `message_id` of `kind` (`authn`, `logout`) from the SP
    /// `entity_id` is seen within the replay window, `false` on a replay.
    pub async fn is_first_use(
        &self,
        kind: &str,
        entity_id: &str,
        message_id: &str,
    ) -> crate::session::StoreResult<bool> {
        self.replay
            .is_first_use(
                &format!("{kind}:{entity_id}"),
                message_id,
                self.replay_window(),
            )
            .await
    }

    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.config.assertion_lifetime_seconds)
    }

    /// How long a request ID is remembered: as long as the request would be accepted.
    pub fn replay_window(&self) -> Duration {
        Duration::from_secs(
            self.config.request_max_age_seconds + 2 * self.config.clock_skew_seconds,
        )
    }
}
