//! Server-rendered pages: the error page, the session page (both from `templates/`) and
//! the common frame of the login pages (`login_pages.rs`), in Swedish (default) and
//! English. Mobile first, one stylesheet (no inline styles or scripts: the CSP forbids
//! them), language set on <html>, every control labelled.

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

/// Minimal HTML escaping for text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The language a page's switch link offers.
pub fn other_language(language: &str) -> &'static str {
    if language == "en" {
        "sv"
    } else {
        "en"
    }
}

/// A page in the common frame (`templates/layout.html`) around `body`, which is HTML.
/// `switch_href` is this page in the other language (so the switch keeps the page's own
/// query); `script` a file under /static/ loaded deferred.
pub fn page(
    language: &str,
    title: &str,
    body: &str,
    switch_href: &str,
    script: Option<&str>,
) -> String {
    let mut frame = super::templates::Frame::new(language, title, switch_href);
    frame.script = script;
    super::templates::render_string(&super::templates::Framed { frame, body })
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
    let texts = super::i18n::Texts::of(language);
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

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
