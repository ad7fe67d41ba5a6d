//! Checks on untrusted XML bytes before any parser sees them.
//!
//! SAML messages and metadata never need a DTD, entities or processing instructions, and
//! every one of them is an attack surface: entity expansion ("billion laughs"), external
//! entities (XXE: file reads and server-side requests), DTD-declared ID attributes that
//! change what a signature reference points at, and processing instructions that some
//! tools act on. Refusing them on the raw text keeps the parser's own behaviour out of
//! the question. The size limit bounds memory and CPU before parsing starts.

use super::XmlError;

/// The markup declarations that only occur in a DTD. Their presence anywhere (even in a
/// comment or CDATA section, where they are harmless) refuses the document: a SAML
/// message has no reason to carry them and the simple rule leaves no parser corner case.
const DECLARATIONS: [&str; 5] = [
    "<!DOCTYPE",
    "<!ENTITY",
    "<!ELEMENT",
    "<!ATTLIST",
    "<!NOTATION",
];

/// Checks untrusted XML bytes and returns them as text (without a leading UTF-8 byte
/// order mark).
///
/// Refuses: more than `max_len` bytes ([`XmlError::TooLarge`]); bytes that are not UTF-8
/// or an XML declaration that names another encoding ([`XmlError::Malformed`]); any
/// markup declaration, i.e. any `<!` that does not open a comment or a CDATA section
/// ([`XmlError::Dtd`]); any processing instruction other than the leading
/// `<?xml ...?>` declaration ([`XmlError::Malformed`]).
pub fn check_untrusted_xml(bytes: &[u8], max_len: usize) -> Result<&str, XmlError> {
    if bytes.len() > max_len {
        return Err(XmlError::TooLarge { max: max_len });
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| XmlError::Malformed("the message is not UTF-8".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_text(text)?;
    Ok(text)
}

/// The checks of [`check_untrusted_xml`] other than size and UTF-8.
pub(crate) fn check_text(text: &str) -> Result<(), XmlError> {
    if DECLARATIONS.iter().any(|d| text.contains(d)) {
        return Err(XmlError::Dtd);
    }
    for (at, _) in text.match_indices("<!") {
        let rest = text.get(at + 2..).unwrap_or("");
        if !rest.starts_with("--") && !rest.starts_with("[CDATA[") {
            return Err(XmlError::Dtd);
        }
    }
    let body = strip_xml_declaration(text)?;
    if body.contains("<?") {
        return Err(XmlError::Malformed(
            "processing instructions are forbidden".into(),
        ));
    }
    Ok(())
}

/// Removes a leading `<?xml ...?>` declaration, checking that it declares no encoding
/// other than UTF-8 (the bytes were read as UTF-8; a differing declaration means that
/// the sender and this reader may see different characters).
fn strip_xml_declaration(text: &str) -> Result<&str, XmlError> {
    let Some(rest) = text.strip_prefix("<?xml") else {
        return Ok(text);
    };
    if !rest.starts_with([' ', '\t', '\r', '\n']) {
        return Ok(text); // `<?xml-stylesheet` and the like: a processing instruction
    }
    let Some(end) = rest.find("?>") else {
        return Err(XmlError::Malformed("unterminated XML declaration".into()));
    };
    let declaration = rest.get(..end).unwrap_or("");
    if let Some(encoding) = declared_encoding(declaration) {
        if !encoding.eq_ignore_ascii_case("UTF-8") && !encoding.eq_ignore_ascii_case("UTF8") {
            return Err(XmlError::Malformed(
                "the XML declaration names an encoding other than UTF-8".into(),
            ));
        }
    }
    Ok(rest.get(end + 2..).unwrap_or(""))
}

fn declared_encoding(declaration: &str) -> Option<&str> {
    let after = declaration.split_once("encoding")?.1.trim_start();
    let after = after.strip_prefix('=')?.trim_start();
    let quote = after.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = after.get(1..)?;
    value.split(quote).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(xml: &str) -> Result<&str, XmlError> {
        check_untrusted_xml(xml.as_bytes(), 256 * 1024)
    }

    #[test]
    fn accepts_plain_saml_with_declaration_comments_and_cdata() {
        let xml =
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<a><!-- c --><![CDATA[x]]></a>";
        assert_eq!(check(xml).unwrap(), &xml[3..]);
    }

    #[test]
    fn refuses_doctype_entities_and_other_declarations() {
        for xml in [
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a><!-- <!ENTITY x SYSTEM \"file:///etc/passwd\"> --></a>",
            "<!doctype a><a/>",
            "<a><!ATTLIST a ID ID #IMPLIED></a>",
        ] {
            let err = check(xml).unwrap_err();
            assert_eq!(err.code(), "XML_DTD_FORBIDDEN", "{xml}");
        }
    }

    #[test]
    fn refuses_processing_instructions() {
        for xml in [
            "<?xml-stylesheet href=\"x\"?><a/>",
            "<?xml version=\"1.0\"?><?evil?><a/>",
            "<a><?php ?></a>",
            " <?xml version=\"1.0\"?><a/>",
        ] {
            assert_eq!(check(xml).unwrap_err().code(), "XML_MALFORMED", "{xml}");
        }
    }

    #[test]
    fn refuses_other_encodings_and_non_utf8() {
        let xml = "<?xml version=\"1.0\" encoding='ISO-8859-1'?><a/>";
        assert_eq!(check(xml).unwrap_err().code(), "XML_MALFORMED");
        let bytes = b"<a>\xff</a>";
        let err = check_untrusted_xml(bytes, 100).unwrap_err();
        assert_eq!(err.code(), "XML_MALFORMED");
    }

    #[test]
    fn refuses_one_megabyte_with_a_256_kib_limit() {
        let xml = format!("<a>{}</a>", "x".repeat(1024 * 1024));
        let err = check_untrusted_xml(xml.as_bytes(), 256 * 1024).unwrap_err();
        assert_eq!(err.code(), "XML_TOO_LARGE");
    }
}
