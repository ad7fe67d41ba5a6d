//! Server-rendered pages: the error page, the session page and the common frame of the
//! login pages (`login_pages.rs`), in Swedish (default) and English. Mobile first, one
//! stylesheet (no inline styles or scripts: the CSP forbids them), language set on
//! <html>, every control labelled.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

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

fn layout(language: &str, title: &str, body: &str) -> String {
    let switch_href = format!("?lang={}", other_language(language));
    page(language, title, body, &switch_href, None)
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
    let (code_label, ref_label) = if language == "en" {
        ("Error code", "Reference")
    } else {
        ("Felkod", "Referens")
    };
    let reference = request_id
        .map(|id| format!("<br>{ref_label}: {}", escape(id)))
        .unwrap_or_default();
    let body = format!(
        "<div class=\"card error\" role=\"alert\">\n<h1>{title}</h1>\n<p>{detail}</p>\n\
         <p class=\"code\">{code_label}: {code}{reference}</p>\n</div>",
        title = escape(explanation.title),
        detail = escape(explanation.detail),
        code = escape(code),
    );
    let mut response = (status, Html(layout(language, explanation.title, &body))).into_response();
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
    let body = match (session, language) {
        (Some(s), "en") => format!(
            "<div class=\"card\">\n<h1>You are logged in</h1>\n<dl>\n<dt>Name</dt><dd>{}</dd>\n\
             <dt>HSA-id</dt><dd>{}</dd>\n<dt>Organisation</dt><dd>{}</dd>\n<dt>Level of assurance</dt><dd>{}</dd>\n\
             <dt>Method</dt><dd>{}</dd>\n</dl>\n<p>You can now open your applications without logging in again.</p>\n</div>",
            escape(s.display_name), escape(s.employee_hsa_id), escape(s.organisation), s.loa, escape(s.method)
        ),
        (Some(s), _) => format!(
            "<div class=\"card\">\n<h1>Du är inloggad</h1>\n<dl>\n<dt>Namn</dt><dd>{}</dd>\n\
             <dt>HSA-id</dt><dd>{}</dd>\n<dt>Organisation</dt><dd>{}</dd>\n<dt>Tillitsnivå</dt><dd>{}</dd>\n\
             <dt>Metod</dt><dd>{}</dd>\n</dl>\n<p>Du kan nu öppna dina tjänster utan att logga in igen.</p>\n</div>",
            escape(s.display_name), escape(s.employee_hsa_id), escape(s.organisation), s.loa, escape(s.method)
        ),
        (None, "en") => "<div class=\"card\">\n<h1>You are not logged in</h1>\n<p>Open the service you want to use; it will send you here to log in.</p>\n</div>".to_owned(),
        (None, _) => "<div class=\"card\">\n<h1>Du är inte inloggad</h1>\n<p>Öppna tjänsten du vill använda; den skickar dig hit för att logga in.</p>\n</div>".to_owned(),
    };
    let title = if language == "en" {
        "Your login"
    } else {
        "Din inloggning"
    };
    Html(layout(language, title, &body)).into_response()
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
