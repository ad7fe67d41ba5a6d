//! OIDC errors: each variant has a stable code (logs, error pages, the `x-idp-error`
//! header) and the RFC 6749 / OpenID Connect `error` value a client receives. `web/`
//! turns them into JSON, redirects or pages.

use crate::directory::DirectoryError;
use crate::keys::KeyError;
use crate::session::StoreError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    // The request cannot be answered at the redirect URI (error page).
    #[error("a request parameter is repeated: {0}")]
    RepeatedParameter(String),
    #[error("the parameter {0} is too long")]
    ParameterTooLong(String),
    #[error("client_id is missing or names no registered client")]
    UnknownClient,
    #[error("redirect_uri is missing or not registered for this client")]
    RedirectUriMismatch,
    #[error("the login expired or was started in another browser")]
    LoginExpired,
    #[error("the user's organisation may not use this application")]
    UserNotAllowed,
    #[error("the client requires a commission and the user has none")]
    NoCommission,

    // Answered at the redirect URI (RFC 6749 section 4.1.2.1).
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("only response_type=code is supported")]
    UnsupportedResponseType,
    #[error("{0}")]
    InvalidScope(String),
    #[error("PKCE (code_challenge with S256) is required")]
    PkceRequired,
    #[error("only the S256 code challenge method is supported")]
    PkcePlainNotSupported,
    #[error("the user is not logged in and prompt=none was requested")]
    LoginRequired,
    #[error("the login does not reach a level of assurance the client asked for")]
    UnmetAuthenticationRequirements,
    #[error("the user went back to the application without logging in")]
    Cancelled,

    // Token endpoint.
    #[error("client authentication failed")]
    InvalidClient,
    #[error("the client may not use this grant type")]
    UnauthorizedClient,
    #[error("unsupported grant_type")]
    UnsupportedGrantType,
    #[error("the authorization code is invalid or expired")]
    CodeInvalid,
    #[error("the authorization code was already used; its tokens are revoked")]
    CodeReused,
    #[error("the authorization code was issued to another client")]
    CodeClientMismatch,
    #[error("redirect_uri differs from the authorization request")]
    CodeRedirectUriMismatch,
    #[error("code_verifier does not match the code challenge")]
    PkceVerifierMismatch,
    #[error("the refresh token is invalid, expired or revoked")]
    RefreshInvalid,
    #[error("the refresh token was already used; the grant is revoked")]
    RefreshReused,
    #[error("the user's login session has ended (logout or its lifetime)")]
    SessionEnded,

    // UserInfo.
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,

    // Logout.
    #[error("id_token_hint is not a valid ID token of this provider")]
    InvalidIdTokenHint,
    #[error("id_token_hint was issued to another client")]
    IdTokenHintClientMismatch,
    #[error("post_logout_redirect_uri is not registered for this client")]
    PostLogoutRedirectUriMismatch,

    // Server faults.
    #[error("no signing key for {0} is valid now")]
    NoSigningKey(&'static str),
    #[error(transparent)]
    Signing(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl OidcError {
    /// Stable code for logs, pages and the `x-idp-error` header.
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::RepeatedParameter(_) => "OIDC_REPEATED_PARAMETER",
            OidcError::ParameterTooLong(_) => "OIDC_PARAMETER_TOO_LONG",
            OidcError::UnknownClient => "OIDC_UNKNOWN_CLIENT",
            OidcError::RedirectUriMismatch => "OIDC_REDIRECT_URI_MISMATCH",
            OidcError::LoginExpired => "LOGIN_EXPIRED",
            OidcError::UserNotAllowed => "USER_NOT_ALLOWED",
            OidcError::NoCommission => crate::login::commission::MISSING_CODE,
            OidcError::Cancelled => "OIDC_USER_CANCELLED",
            OidcError::InvalidRequest(_) => "OIDC_INVALID_REQUEST",
            OidcError::UnsupportedResponseType => "OIDC_UNSUPPORTED_RESPONSE_TYPE",
            OidcError::InvalidScope(_) => "OIDC_INVALID_SCOPE",
            OidcError::PkceRequired => "OIDC_PKCE_REQUIRED",
            OidcError::PkcePlainNotSupported => "OIDC_PKCE_METHOD_UNSUPPORTED",
            OidcError::LoginRequired => "OIDC_LOGIN_REQUIRED",
            OidcError::UnmetAuthenticationRequirements => "OIDC_UNMET_AUTHENTICATION_REQUIREMENTS",
            OidcError::InvalidClient => "OIDC_INVALID_CLIENT",
            OidcError::UnauthorizedClient => "OIDC_UNAUTHORIZED_CLIENT",
            OidcError::UnsupportedGrantType => "OIDC_UNSUPPORTED_GRANT_TYPE",
            OidcError::CodeInvalid => "OIDC_CODE_INVALID",
            OidcError::CodeReused => "OIDC_CODE_REUSED",
            OidcError::CodeClientMismatch => "OIDC_CODE_CLIENT_MISMATCH",
            OidcError::CodeRedirectUriMismatch => "OIDC_CODE_REDIRECT_URI_MISMATCH",
            OidcError::PkceVerifierMismatch => "OIDC_PKCE_VERIFIER_MISMATCH",
            OidcError::RefreshInvalid => "OIDC_REFRESH_INVALID",
            OidcError::RefreshReused => "OIDC_REFRESH_REUSED",
            OidcError::SessionEnded => "OIDC_SESSION_ENDED",
            OidcError::InvalidToken => "OIDC_INVALID_TOKEN",
            OidcError::InvalidIdTokenHint => "OIDC_INVALID_ID_TOKEN_HINT",
            OidcError::IdTokenHintClientMismatch => "OIDC_ID_TOKEN_HINT_CLIENT_MISMATCH",
            OidcError::PostLogoutRedirectUriMismatch => "OIDC_POST_LOGOUT_REDIRECT_URI_MISMATCH",
            OidcError::NoSigningKey(_) => "OIDC_NO_SIGNING_KEY",
            OidcError::Signing(_) => "OIDC_SIGNING_FAILED",
            OidcError::Store(e) => e.code(),
            OidcError::Directory(e) => e.code(),
            OidcError::Storage(e) => e.code(),
        }
    }

    /// The `error` value of RFC 6749 / OpenID Connect Core / RFC 6750.
    pub fn rfc6749(&self) -> &'static str {
        match self {
            OidcError::RepeatedParameter(_)
            | OidcError::ParameterTooLong(_)
            | OidcError::RedirectUriMismatch
            | OidcError::LoginExpired
            | OidcError::InvalidRequest(_)
            | OidcError::PkceRequired
            | OidcError::PkcePlainNotSupported
            | OidcError::InvalidIdTokenHint
            | OidcError::IdTokenHintClientMismatch
            | OidcError::PostLogoutRedirectUriMismatch => "invalid_request",
            OidcError::UnknownClient | OidcError::InvalidClient => "invalid_client",
            OidcError::UserNotAllowed | OidcError::NoCommission | OidcError::Cancelled => {
                "access_denied"
            }
            OidcError::UnsupportedResponseType => "unsupported_response_type",
            OidcError::InvalidScope(_) => "invalid_scope",
            OidcError::LoginRequired => "login_required",
            OidcError::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            OidcError::UnauthorizedClient => "unauthorized_client",
            OidcError::UnsupportedGrantType => "unsupported_grant_type",
            OidcError::CodeInvalid
            | OidcError::CodeReused
            | OidcError::CodeClientMismatch
            | OidcError::CodeRedirectUriMismatch
            | OidcError::PkceVerifierMismatch
            | OidcError::RefreshInvalid
            | OidcError::RefreshReused
            | OidcError::SessionEnded => "invalid_grant",
            OidcError::InvalidToken => "invalid_token",
            OidcError::NoSigningKey(_)
            | OidcError::Signing(_)
            | OidcError::Store(_)
            | OidcError::Directory(_)
            | OidcError::Storage(_) => "server_error",
        }
    }

    /// A fault of the IdP (or what it depends on), not of the request.
    pub fn is_server_fault(&self) -> bool {
        self.rfc6749() == "server_error"
    }
}

/// Why one back-channel logout did not reach a client.
#[derive(Debug, thiserror::Error)]
pub enum OidcLogoutError {
    #[error("the client is no longer configured")]
    UnknownClient,
    #[error("the logout token could not be signed: {0}")]
    Signing(String),
    #[error("the client's back-channel logout endpoint failed: {0}")]
    Delivery(String),
}

impl OidcLogoutError {
    pub fn code(&self) -> &'static str {
        match self {
            OidcLogoutError::UnknownClient => "OIDC_LOGOUT_UNKNOWN_CLIENT",
            OidcLogoutError::Signing(_) => "OIDC_LOGOUT_SIGNING_FAILED",
            OidcLogoutError::Delivery(_) => "OIDC_LOGOUT_DELIVERY_FAILED",
        }
    }
}
