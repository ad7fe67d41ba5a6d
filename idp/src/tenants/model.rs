//! The typed shape of a tenant file.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use url::Url;

use crate::ids::{ApplicationId, HsaId, OrganisationNumber, TenantId};

/// A name in Swedish (required) and English (falls back to Swedish).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizedText {
    pub sv: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl LocalizedText {
    pub fn in_language(&self, language: &str) -> &str {
        match (language, &self.en) {
            ("en", Some(en)) => en,
            _ => &self.sv,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TenantKind {
    Region,
    Municipality,
    Other,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: TenantId,
    pub kind: TenantKind,
    pub display_name: LocalizedText,
    pub organisation_number: OrganisationNumber,
    /// Which users belong to this tenant.
    pub users: UserRules,
    /// HSA-ids of the people who may administer this tenant's applications.
    pub admins: Vec<HsaId>,
    /// Names of `[[trust.issuer]]` entries this tenant's users may log in with; empty
    /// means every issuer the IdP trusts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_issuers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub saml_sp: Vec<SamlServiceProvider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oidc_client: Vec<OidcClient>,
    /// This tenant's consent that another tenant's application admits its staff.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant: Vec<Grant>,
    /// How long its staff's SSO sessions may go unused.
    #[serde(default, skip_serializing_if = "SessionPolicy::is_default")]
    pub session: SessionPolicy,
    /// How the login pages show the organisation (set by the platform operator with the
    /// name: a tenant must not wear another's logo).
    #[serde(default, skip_serializing_if = "Branding::is_default")]
    pub branding: Branding,
}

/// The organisation's look on the login pages of its applications.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// The logo: a PNG image, base64 (at most [`Branding::MAX_LOGO_BYTES`] decoded),
    /// served at `/branding/<tenant>/logo.png` and shown in the login pages' header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_png: Option<String>,
}

impl Branding {
    pub const MAX_LOGO_BYTES: usize = 32 * 1024;

    pub fn is_default(&self) -> bool {
        self.logo_png.is_none()
    }

    /// The logo's bytes, when it is a PNG image of at most `MAX_LOGO_BYTES`.
    pub fn logo(&self) -> Result<Option<Vec<u8>>, &'static str> {
        use base64::Engine as _;
        let Some(text) = &self.logo_png else {
            return Ok(None);
        };
        if text.len() > Self::MAX_LOGO_BYTES.div_ceil(3) * 4 + 4 {
            return Err("is larger than 32 KiB");
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64")?;
        if bytes.len() > Self::MAX_LOGO_BYTES {
            return Err("is larger than 32 KiB");
        }
        if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Err("is not a PNG image");
        }
        Ok(Some(bytes))
    }
}

/// A tenant's rules for its staff's SSO sessions (the absolute lifetime is the IdP's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPolicy {
    /// Minutes an SSO session may go unused before the next application asks for a new
    /// login (1-720); default `[session] sso_idle_timeout_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_minutes: Option<u32>,
    /// Staff share workstations (ward computers): the idle timeout is at most
    /// `[session] shared_workstation_idle_timeout_seconds`, so that the next person at the
    /// computer is not logged in as the last one.
    #[serde(default)]
    pub shared_workstations: bool,
}

impl SessionPolicy {
    pub fn is_default(&self) -> bool {
        *self == SessionPolicy::default()
    }
}

/// One side of crossing organisations: the application's tenant asks (the application's
/// `user_tenants` names this tenant), this tenant approves with a grant that says which
/// attributes of its staff the application may receive. Without both, this tenant's
/// staff are not admitted; the personal identity number only when `attributes` names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// `tenant/application` of another tenant.
    pub application: String,
    /// What may be released about this tenant's staff (short names, docs/saml.md).
    pub attributes: Vec<super::attributes::AttributeName>,
}

impl Grant {
    /// The application's tenant and id, if `application` is well formed.
    pub fn target(&self) -> Option<(TenantId, ApplicationId)> {
        let (tenant, application) = self.application.split_once('/')?;
        Some((tenant.parse().ok()?, application.parse().ok()?))
    }
}

/// A user belongs to the tenant when an employee HSA-id starts with one of the
/// prefixes, or the employing organisation is one of the organisation numbers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hsa_id_prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organisation_numbers: Vec<OrganisationNumber>,
}

impl UserRules {
    pub fn admits(
        &self,
        hsa_id: Option<&HsaId>,
        organisation: Option<&OrganisationNumber>,
    ) -> bool {
        let by_hsa_id = hsa_id.is_some_and(|id| {
            self.hsa_id_prefixes
                .iter()
                .any(|prefix| id.as_str().starts_with(prefix.as_str()))
        });
        let by_organisation =
            organisation.is_some_and(|org| self.organisation_numbers.contains(org));
        by_hsa_id || by_organisation
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamlProfile {
    /// Swedish eID Framework (swedenconnect technical framework).
    SwedishEid,
    /// Sambi, the healthcare federation (Inera IdP style).
    Sambi,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SamlServiceProvider {
    pub id: ApplicationId,
    pub display_name: LocalizedText,
    pub entity_id: Url,
    pub profile: SamlProfile,
    /// SP metadata from a file ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_file: Option<PathBuf>,
    /// ... or fetched from a URL ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<Url>,
    /// ... or read from the aggregate of the federation the operator configured with
    /// this id (`[[saml.federation]]`): the SP is registered by its `entity_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<String>,
    /// Assertion consumer service URLs, until metadata supplies them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acs_urls: Vec<Url>,
    /// Tenants whose users may log in here; empty means this tenant's users only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_tenants: Vec<crate::ids::TenantId>,
    /// Certificate (PEM) that must have signed the SP's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_signing_certificate: Option<PathBuf>,
    /// Without metadata: the certificate (PEM) the SP signs its requests with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate: Option<PathBuf>,
    /// Without metadata: the SP's single logout URL (HTTP-Redirect binding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_url: Option<Url>,
    /// What is signed; default by profile (Sambi: the assertion; Swedish eID: both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<SignedParts>,
    /// Encrypt the assertion; default by profile (Swedish eID: yes, Sambi: no).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt_assertions: Option<bool>,
    /// Block cipher; default: the first of ours in the SP's metadata, else AES-256-GCM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<ContentAlgorithm>,
    /// NameID format when the request does not ask for one (default persistent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<NameIdFormat>,
    /// Refuse unsigned AuthnRequests; default: the metadata's AuthnRequestsSigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_signed_requests: Option<bool>,
    /// Lowest LoA (2, 3 or 4) this SP accepts, whatever it requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_loa: Option<u8>,
    /// Attributes released (short names, see docs/saml.md); default by profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Vec<super::attributes::AttributeName>>,
    /// Which commission (medarbetaruppdrag) the SP gets (default `auto`).
    #[serde(default, skip_serializing_if = "CommissionPolicy::is_default")]
    pub commission: CommissionPolicy,
}

impl SamlServiceProvider {
    /// Its endpoints and keys come from metadata (a file, a URL or a federation), not
    /// from `acs_urls` and `signing_certificate`.
    pub fn has_metadata(&self) -> bool {
        self.metadata_file.is_some() || self.metadata_url.is_some() || self.federation.is_some()
    }
}

/// Which of the person's commissions (medarbetaruppdrag) an application receives, when
/// it receives commission attributes or claims at all (docs/directory.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommissionPolicy {
    /// The commission when the employment has exactly one; never asks (with several,
    /// none is released).
    #[default]
    Auto,
    /// With several, the person chooses one on a page after login (remembered for the
    /// SSO session and this application); with none, nothing is released.
    Choose,
    /// As `choose`, and a person without any commission may not log in here (a page
    /// says why).
    Required,
}

impl CommissionPolicy {
    pub fn is_default(&self) -> bool {
        *self == CommissionPolicy::Auto
    }
}

/// The block cipher for an SP's encrypted assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ContentAlgorithm {
    #[serde(rename = "aes256-gcm")]
    Aes256Gcm,
    #[serde(rename = "aes256-cbc")]
    Aes256Cbc,
}

/// Which parts of a SAML response carry a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignedParts {
    Response,
    Assertion,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NameIdFormat {
    /// A stable pseudonym per user and SP.
    Persistent,
    /// A new random identifier on every login.
    Transient,
}

impl NameIdFormat {
    pub const PERSISTENT_URI: &'static str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    pub const TRANSIENT_URI: &'static str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

    pub fn uri(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => Self::PERSISTENT_URI,
            NameIdFormat::Transient => Self::TRANSIENT_URI,
        }
    }

    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            Self::PERSISTENT_URI => Some(NameIdFormat::Persistent),
            Self::TRANSIENT_URI => Some(NameIdFormat::Transient),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcClient {
    pub id: ApplicationId,
    pub display_name: LocalizedText,
    pub client_id: String,
    /// How the client authenticates at the token endpoint; `none` is a public client
    /// (phone and browser apps), which must use PKCE.
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// SHA-256 (hex) of the client secret, for `client_secret_basic` / `client_secret_post`.
    /// The secret itself is never stored; it must be at least 32 random characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_sha256: Option<String>,
    /// Secrets the IdP generated (admin API), by their SHA-256; a rotated secret stays
    /// valid until its `expires_at`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_secrets: Vec<ClientSecret>,
    /// The client's public keys for `private_key_jwt`, inline (a JWK Set) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// ... or fetched from a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<Url>,
    /// Exact redirect URIs (compared as strings, no patterns).
    pub redirect_uris: Vec<Url>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<Url>,
    /// Where back-channel logout tokens are POSTed (OpenID Connect Back-Channel Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<Url>,
    /// Scopes the client may request (`openid` is always allowed).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Claims the client may receive; empty means every claim of its allowed scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<String>,
    #[serde(default)]
    pub subject_type: SubjectType,
    /// The algorithm of its ID tokens (RS256 or ES256).
    #[serde(default)]
    pub id_token_signed_response_alg: SigningAlg,
    /// The form of its access tokens (default: a JWT signed with ES256).
    #[serde(default, skip_serializing_if = "AccessTokenFormat::is_default")]
    pub access_token_format: AccessTokenFormat,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_tenants: Vec<crate::ids::TenantId>,
    /// A legacy confidential client that cannot send PKCE may leave it out (off by
    /// default; OAuth 2.1 requires PKCE of every client, and the admin API warns).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_without_pkce: bool,
    /// Which commission (medarbetaruppdrag) the client's claims name (default `auto`).
    #[serde(default, skip_serializing_if = "CommissionPolicy::is_default")]
    pub commission: CommissionPolicy,
}

/// A client secret the IdP made: 256 random bits, shown once, stored as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSecret {
    pub sha256: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; set when the secret was rotated out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".to_owned()]
}

impl OidcClient {
    /// A public client (no secret, PKCE required).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == ClientAuthMethod::None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::None => "none",
        }
    }
}

/// `pairwise`: one `sub` per person and tenant (clients of one tenant agree, other
/// tenants' clients cannot correlate); `public`: one `sub` per person everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    #[default]
    Pairwise,
    Public,
}

/// The form of a client's access tokens. A JWT (RFC 9068, `at+jwt`) is checked by a
/// resource server on its own with the IdP's published keys: ES256 by default (a
/// P-256 signature costs a tenth of an RSA-2048 one), RS256 for resource servers that
/// know no other (RFC 9068 requires its support). An opaque token is a random
/// reference that says nothing to its holder: resource servers ask the introspection
/// endpoint (RFC 7662) what it stands for, and revoking its grant ends it at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenFormat {
    #[default]
    JwtEs256,
    JwtRs256,
    Opaque,
}

impl AccessTokenFormat {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessTokenFormat::JwtEs256 => "jwt_es256",
            AccessTokenFormat::JwtRs256 => "jwt_rs256",
            AccessTokenFormat::Opaque => "opaque",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum SigningAlg {
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Saml,
    Oidc,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Saml => "saml",
            Protocol::Oidc => "oidc",
        }
    }
}

/// A view of one application, whichever its protocol.
#[derive(Debug, Clone, Copy)]
pub struct Application<'a> {
    pub id: &'a ApplicationId,
    pub display_name: &'a LocalizedText,
    pub protocol: Protocol,
    /// The entityID or client_id.
    pub protocol_id: &'a str,
    pub user_tenants: &'a [TenantId],
    pub commission: CommissionPolicy,
}

impl Tenant {
    pub fn applications(&self) -> impl Iterator<Item = Application<'_>> {
        let saml = self.saml_sp.iter().map(|sp| Application {
            id: &sp.id,
            display_name: &sp.display_name,
            protocol: Protocol::Saml,
            protocol_id: sp.entity_id.as_str(),
            user_tenants: &sp.user_tenants,
            commission: sp.commission,
        });
        let oidc = self.oidc_client.iter().map(|c| Application {
            id: &c.id,
            display_name: &c.display_name,
            protocol: Protocol::Oidc,
            protocol_id: &c.client_id,
            user_tenants: &c.user_tenants,
            commission: c.commission,
        });
        saml.chain(oidc)
    }
}
