//! OIDC errors as HTTP: RFC 6749 JSON at the token endpoint, RFC 6750 at UserInfo,
//! error pages (with the stable code) where the client's redirect URI is not trusted.
//! Every response carries the stable code in `x-idp-error`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::auth::error::Explanation;
use crate::oidc::OidcError;
use crate::web::pages;

fn log(error: &OidcError) {
    if error.is_server_fault() {
        tracing::error!(code = error.code(), error = %error, "OIDC request failed");
    } else {
        tracing::info!(code = error.code(), "OIDC request refused");
    }
}

fn with_code(mut response: Response, error: &OidcError) -> Response {
    if let Ok(value) = HeaderValue::from_str(error.code()) {
        response.headers_mut().insert("x-idp-error", value);
    }
    response
}

/// RFC 6749 section 5.2 (token endpoint).
pub fn json_error(error: &OidcError, used_basic: bool) -> Response {
    log(error);
    let status = match error {
        _ if error.is_server_fault() => StatusCode::SERVICE_UNAVAILABLE,
        OidcError::InvalidClient => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = json!({ "error": error.rfc6749(), "error_description": error.to_string() });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED && used_basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oidc\""),
        );
    }
    with_code(response, error)
}

/// RFC 6750 section 3 (UserInfo).
pub fn bearer_error(error: &OidcError) -> Response {
    log(error);
    if error.is_server_fault() {
        return json_error(error, false);
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_token", "error_description": error.to_string() })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    with_code(response, error)
}

/// An error page for the user.
pub fn error_page(error: &OidcError, language: &str, request_id: &str) -> Response {
    log(error);
    let status = match error {
        _ if error.is_server_fault() => StatusCode::SERVICE_UNAVAILABLE,
        OidcError::UserNotAllowed | OidcError::NoCommission => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    pages::error_page(
        status,
        language,
        explain(error, language),
        error.code(),
        Some(request_id),
    )
}

fn explain(error: &OidcError, language: &str) -> Explanation {
    let en = language == "en";
    match error {
        OidcError::NoCommission => crate::login::commission::missing_explanation(language),
        OidcError::UserNotAllowed if en => Explanation {
            title: "Not open to your organisation",
            detail: "You are logged in, but users of your organisation may not use this application. Contact the application's support if you should have access.",
        },
        OidcError::UserNotAllowed => Explanation {
            title: "Inte öppen för din organisation",
            detail: "Du är inloggad, men användare i din organisation får inte använda den här tjänsten. Kontakta tjänstens support om du ska ha behörighet.",
        },
        OidcError::LoginExpired if en => Explanation {
            title: "The login has expired",
            detail: "Too much time passed, or the login was started in another browser. Go back to the service and start again.",
        },
        OidcError::LoginExpired => Explanation {
            title: "Inloggningen har gått ut",
            detail: "Det gick för lång tid, eller så startades inloggningen i en annan webbläsare. Gå tillbaka till tjänsten och börja om.",
        },
        _ if error.is_server_fault() && en => Explanation {
            title: "The login service is disturbed",
            detail: "Something behind the login service did not answer. Try again in a moment.",
        },
        _ if error.is_server_fault() => Explanation {
            title: "Inloggningstjänsten har en störning",
            detail: "Något bakom inloggningstjänsten svarade inte. Försök igen om en stund.",
        },
        _ if en => Explanation {
            title: "The application sent an invalid request",
            detail: "The application that sent you here asked for a login in a way this service does not accept. Contact the application's support and give them the error code.",
        },
        _ => Explanation {
            title: "Tjänsten skickade en felaktig begäran",
            detail: "Tjänsten som skickade dig hit bad om inloggning på ett sätt som inloggningstjänsten inte godtar. Kontakta tjänstens support och uppge felkoden.",
        },
    }
}
