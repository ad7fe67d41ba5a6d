//! Server-rendered pages: the error page and the session page (from `templates/`), and
//! the language negotiation every page shares, in Swedish (default) and English. Mobile
//! first, one stylesheet (no inline styles or scripts: the CSP forbids them), the page's
//! language set on its root element, every control labelled.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::error::Explanation;

pub const STYLESHEET: &str = include_str!("static/idp.css");

/// "sv" or "en": `?lang=` wins, then Accept-Language, then Swedish.
pub fn negotiate_language(query_lang: Option<&str>, headers: &HeaderMap) -> &'static str {
    match query_lang {
        Some("en") => return "en",
        Some("sv") => return "sv",
        _ => {}
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag.starts_with("sv") {
            return "sv";
        }
        if tag.starts_with("en") {
            return "en";
        }
    }
    "sv"
}

/// The language a page's switch link offers.
pub fn other_language(language: &str) -> &'static str {
    if language == "en" {
        "sv"
    } else {
        "en"
    }
}

/// An error page: what went wrong in plain words, what to do, and a code for support.
pub fn error_page(
    status: StatusCode,
    language: &str,
    explanation: Explanation,
    code: &str,
    request_id: Option<&str>,
) -> Response {
    let switch_href = format!("?lang={}", other_language(language));
    let page = super::templates::ErrorPage {
        frame: super::templates::Frame::new(language, explanation.title, &switch_href),
        detail: explanation.detail,
        code,
        reference: request_id,
    };
    let mut response = (status, super::templates::render(&page)).into_response();
    if let Ok(value) = code.parse() {
        response.headers_mut().insert("x-idp-error", value);
    }
    response
}

/// Facts shown on the session page.
pub struct SessionView<'a> {
    pub display_name: &'a str,
    pub employee_hsa_id: &'a str,
    pub organisation: &'a str,
    pub loa: u8,
    pub method: &'a str,
}

pub fn session_page(language: &str, session: Option<SessionView<'_>>) -> Response {
    let switch_href = format!("?lang={}", other_language(language));
    let texts = crate::i18n::Texts::of(language);
    super::templates::render(&super::templates::SessionPage {
        frame: super::templates::Frame::new(language, texts.get("session.title"), &switch_href),
        session,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_prefers_the_query_then_the_header_then_swedish() {
        let mut headers = HeaderMap::new();
        assert_eq!(negotiate_language(None, &headers), "sv");
        headers.insert(
            header::ACCEPT_LANGUAGE,
            "de-DE, en-GB;q=0.8".parse().unwrap(),
        );
        assert_eq!(negotiate_language(None, &headers), "en");
        assert_eq!(negotiate_language(Some("sv"), &headers), "sv");
        assert_eq!(negotiate_language(Some("xx"), &headers), "en");
    }
}
