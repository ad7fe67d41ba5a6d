//! Pages rendered from `templates/` (askama: checked at compile time, HTML-escaped by
//! default) with texts from `locales/` (`i18n.rs`). Every page shares `layout.html`.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::pages::other_language;
use crate::i18n::Texts;

/// The common frame of every page: language, title, the language switch.
pub struct Frame<'a> {
    pub language: &'a str,
    pub other_language: &'a str,
    pub title: &'a str,
    /// This page in the other language (so the switch keeps the page's own query).
    pub switch_href: &'a str,
    /// A file under /static/ loaded deferred.
    pub script: Option<&'a str>,
    /// The organisation whose application the page is for (its name and logo in the
    /// header); `None`: the service's own name.
    pub organisation: Option<Organisation>,
    pub t: Texts,
}

/// An organisation in a page's header.
pub struct Organisation {
    pub name: String,
    /// `/branding/<tenant>/logo.png`, when the tenant has a logo.
    pub logo_href: Option<String>,
}

impl Organisation {
    /// `tenant` as its pages show it in `language`.
    pub fn of(tenant: &crate::tenants::Tenant, language: &str) -> Self {
        Organisation {
            name: tenant.display_name.in_language(language).to_owned(),
            logo_href: tenant
                .branding
                .logo_png
                .is_some()
                .then(|| format!("/branding/{}/logo.png", tenant.id)),
        }
    }
}

impl<'a> Frame<'a> {
    pub fn new(language: &'a str, title: &'a str, switch_href: &'a str) -> Self {
        Frame {
            language,
            other_language: other_language(language),
            title,
            switch_href,
            script: None,
            organisation: None,
            t: Texts::of(language),
        }
    }
}

/// The login page: where the user logs in, and the ways to do it (`login_pages.rs`).
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub frame: Frame<'a>,
    /// "Logga in i <application> hos <organisation>".
    pub where_: String,
    pub methods: Vec<LoginMethodLink>,
    /// "Back to the service": the login's resume path with `cancel=1`.
    pub back_href: String,
}

/// One way to log in: a link with a title and a detail (text keys of `locales/`).
pub struct LoginMethodLink {
    pub href: String,
    pub title: &'static str,
    pub detail: &'static str,
}

/// The mobile waiting page: a QR code for the app on another device, or the link that
/// opens the app on this one, and the order's status (`login_pages/waiting.rs`).
#[derive(Template)]
#[template(path = "mobile_waiting.html")]
pub struct MobileWaiting<'a> {
    pub frame: Frame<'a>,
    pub where_: String,
    pub order_ref: &'a str,
    /// The status texts for `login.js` (JSON).
    pub messages: String,
    pub same_device: bool,
    /// `other` or `same`, carried by the cancel form.
    pub device: &'static str,
    pub is_pending: bool,
    pub message: String,
    pub qr: Option<QrImage>,
    pub app_link: String,
    pub chosen_language: Option<&'static str>,
    pub refresh_href: String,
    pub retry_href: String,
    pub choice_href: String,
}

/// The QR code: its image and its content (for `login.js` to draw the next ones).
pub struct QrImage {
    pub src: String,
    pub content: String,
}

/// "Do you want to log out?" (RP-initiated logout without a valid `id_token_hint`).
#[derive(Template)]
#[template(path = "logout_confirm.html")]
pub struct LogoutConfirm<'a> {
    pub frame: Frame<'a>,
    /// The application that asked, when it named itself.
    pub application: Option<&'a str>,
    pub csrf_token: &'a str,
    /// The request's parameters, carried to the confirming POST.
    pub fields: Vec<(&'a str, &'a str)>,
}

/// "Choose your commission": the person's commissions in the employment the login is
/// for, one button each (`web/commission.rs`).
#[derive(Template)]
#[template(path = "commission_choice.html")]
pub struct CommissionChoice<'a> {
    pub frame: Frame<'a>,
    /// "You are logging in to <application> at <organisation>."
    pub where_: String,
    pub login: &'a str,
    pub csrf_token: &'a str,
    /// The language the user chose with `?lang=`, carried to the POST.
    pub chosen_language: Option<&'a str>,
    pub commissions: Vec<CommissionOption<'a>>,
    /// "Back to the service": the login's resume path with `cancel=1`.
    pub back_href: &'a str,
}

/// One commission on the choice page.
pub struct CommissionOption<'a> {
    pub hsa_id: &'a str,
    pub name: &'a str,
    pub purpose: &'a str,
    /// The care unit's HSA-id, when the commission names one.
    pub unit: Option<&'a str>,
}

/// The page that carries a SAML message to a service provider: submitted by
/// `static/autosubmit.js`, or by the user's tap on Continue without scripts.
#[derive(Template)]
#[template(path = "post_form.html")]
pub struct PostFormPage<'a> {
    pub frame: Frame<'a>,
    pub action: &'a str,
    pub fields: &'a [(&'static str, crate::saml::sso::FieldValue)],
}

/// An error page: what went wrong in plain words, what to do, and a code for support.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub frame: Frame<'a>,
    pub detail: &'a str,
    pub code: &'a str,
    /// The request id, for support.
    pub reference: Option<&'a str>,
}

/// Who is logged in in this browser.
#[derive(Template)]
#[template(path = "session.html")]
pub struct SessionPage<'a> {
    pub frame: Frame<'a>,
    pub session: Option<super::pages::SessionView<'a>>,
}

/// The rendered page, or a plain 500 if a template fails (it cannot for these types;
/// askama checks them at compile time, leaving only formatting errors).
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A time as the pages show it: `2026-12-06 08:35:39` (UTC).
pub fn timestamp(at: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use crate::saml::sso::FieldValue;

    /// The SAML message goes out as encoded (its base64 needs no escaping and gets
    /// none); the SP's RelayState, which could hold anything, is escaped.
    #[test]
    fn a_post_form_escapes_the_relay_state_and_writes_the_message_as_encoded() {
        use askama::Template;
        // Bytes whose base64 has every character that is not a letter or digit.
        let message = FieldValue::base64_of(&[0xfb, 0xff, 0xbf, 0x01]);
        assert_eq!(message.as_str(), "+/+/AQ==");
        let fields = [
            ("SAMLResponse", message),
            ("RelayState", FieldValue::text("a\"b<c&d")),
        ];
        let texts = crate::i18n::Texts::of("sv");
        let page = super::PostFormPage {
            frame: super::Frame::new("sv", texts.get("post.title"), "#"),
            action: "https://sp.example.test/acs",
            fields: &fields,
        };
        let html = page.render().unwrap();
        assert!(html.contains("value=\"+/+/AQ==\""), "{html}");
        assert!(!html.contains("a\"b<c&d"), "{html}");
        assert!(html.contains("a&#34;b&#60;c&#38;d"), "{html}");
    }

    /// Every `.rs` file under `dir`, recursively.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// No page is built from strings: HTML lives in `templates/`, where askama escapes
    /// every value. The markup of pages (not XML, which `saml/` writes) never appears
    /// in a Rust string.
    #[test]
    fn no_html_is_written_in_rust() {
        let mut files = Vec::new();
        sources(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
            &mut files,
        );
        assert!(files.len() > 50);
        // The tags written without their "<", so this list is not itself HTML in Rust.
        let tags = [
            "html", "div", "p>", "p ", "form", "input", "li>", "li ", "a href", "h1", "h2",
            "button", "ul", "ol", "span", "noscript", "img",
        ]
        .map(|name| format!("<{name}"));
        // Test data: an OCSP responder answering with a web page.
        let exempt = |f: &std::path::Path| {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with("_tests.rs")
        };
        for file in files.into_iter().filter(|f| !exempt(f)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for tag in &tags {
                let found = text.lines().any(|line| {
                    line.contains(&format!("\"{tag}")) || line.contains(&format!("\\n{tag}"))
                });
                assert!(!found, "{} writes {tag} in Rust", file.display());
            }
        }
    }
}
