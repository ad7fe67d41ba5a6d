//! A login answered where it completes. The request that authenticates a pending login
//! (the certificate login's hop to the main host, a commission's choice, the mobile
//! login's waiting page) answers the protocol request parked for it in its own
//! response, instead of redirecting the browser to the login's resume path to have it
//! answered there: one round trip fewer for a phone on a mobile network, and one
//! request and one read of the pending login fewer for the IdP.
//!
//! The answer is the one the resume path gives, from the same functions, with the same
//! checks: the login bound to this browser (the caller checked it), authenticated by the
//! SSO session the browser holds or is just given. A resume path of any other form is
//! still a redirect.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::{oidc, saml, AppState, ClientAddress};
use crate::login::PendingLogin;

/// Which protocol engine a pending login resumes at.
#[derive(Debug, PartialEq, Eq)]
enum Engine {
    Saml,
    Oidc,
}

/// The engine whose resume path `login` names, with the login's own id as its
/// parameter; `None` for anything else.
fn engine(login: &PendingLogin) -> Option<Engine> {
    let (path, query) = login.resume_path.split_once('?')?;
    let (engine, parameter) = match path {
        crate::saml::sso::RESUME_PATH => (Engine::Saml, crate::saml::sso::RESUME_PARAMETER),
        crate::oidc::authorize::RESUME_PATH => {
            (Engine::Oidc, crate::oidc::authorize::RESUME_PARAMETER)
        }
        _ => return None,
    };
    let named = query.strip_prefix(parameter)?.strip_prefix('=')?;
    (named == login.id).then_some(engine)
}

/// What completing `login` (bound to the browser of `headers`) answers, now that the
/// SSO session `sso` authenticated it: the protocol's answer, or a redirect to the
/// login's resume path.
pub(super) async fn answer(
    state: &AppState,
    client: ClientAddress,
    request_id: &str,
    headers: &HeaderMap,
    login: &PendingLogin,
    sso: &str,
) -> Response {
    let language = super::pages::negotiate_language(None, headers);
    match engine(login) {
        Some(Engine::Saml) => {
            saml::resume_response(state, client, request_id, language, login, Some(sso)).await
        }
        Some(Engine::Oidc) => {
            oidc::resume_response(state, request_id, language, login, Some(sso)).await
        }
        None => Redirect::to(&login.resume_path).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(id: &str, resume_path: &str) -> PendingLogin {
        PendingLogin {
            id: id.to_owned(),
            tenant_id: "region".parse().unwrap(),
            application_id: "journal".parse().unwrap(),
            resume_path: resume_path.to_owned(),
            binding_hash: String::new(),
            authenticated_session: None,
            expected_person_id: None,
            opened_at_ms: 0,
        }
    }

    #[test]
    fn a_login_resumes_in_place_at_its_own_engines_resume_path_only() {
        assert_eq!(
            engine(&login("abc", "/saml/resume?login=abc")),
            Some(Engine::Saml)
        );
        assert_eq!(
            engine(&login("abc", "/oidc/resume?request=abc")),
            Some(Engine::Oidc)
        );
        // Another login's id, another parameter, more parameters, another path: the
        // browser is sent there instead.
        assert_eq!(engine(&login("abc", "/saml/resume?login=abd")), None);
        assert_eq!(engine(&login("abc", "/saml/resume?request=abc")), None);
        assert_eq!(engine(&login("abc", "/oidc/resume?request=abc&x=1")), None);
        assert_eq!(engine(&login("abc", "/saml/resumed?login=abc")), None);
        assert_eq!(engine(&login("abc", "/saml/resume")), None);
    }
}
