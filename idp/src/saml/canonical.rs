//! The IdP writes every XML document it signs through this small tree and serialiser,
//! which emits exclusive canonical XML (xml-exc-c14n, without comments) directly: no
//! general canonicaliser is needed to sign, and the bytes digested are the bytes sent.
//!
//! How the output stays canonical:
//! - namespaces are declared on the element that visibly uses them (its own prefix or an
//!   attribute's), unless an ancestor already declared the same prefix; a namespace
//!   listed in [`Element::inclusive`] (used inside attribute values, like `xs` in
//!   `xsi:type="xs:string"`) is declared where asked and named in the signature's
//!   `InclusiveNamespaces PrefixList`;
//! - declarations come first, sorted by prefix, then attributes sorted by namespace URI
//!   and local name; empty elements are written as start and end tag;
//! - text and attribute values are escaped as c14n prescribes.
//!
//! A subtree that gets signed must not rely on declarations of its ancestors; the
//! documents built in `saml/` never do (each signed element declares what it uses), so
//! the canonical form of any signed element is exactly its bytes in the document.

use std::fmt::Write;

/// A namespace: its conventional prefix and URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ns {
    pub prefix: &'static str,
    pub uri: &'static str,
}

pub const SAMLP: Ns = Ns {
    prefix: "samlp",
    uri: "urn:oasis:names:tc:SAML:2.0:protocol",
};
pub const SAML: Ns = Ns {
    prefix: "saml",
    uri: "urn:oasis:names:tc:SAML:2.0:assertion",
};
pub const DS: Ns = Ns {
    prefix: "ds",
    uri: "http://www.w3.org/2000/09/xmldsig#",
};
pub const XENC: Ns = Ns {
    prefix: "xenc",
    uri: "http://www.w3.org/2001/04/xmlenc#",
};
pub const XENC11: Ns = Ns {
    prefix: "xenc11",
    uri: "http://www.w3.org/2009/xmlenc11#",
};
pub const EC: Ns = Ns {
    prefix: "ec",
    uri: "http://www.w3.org/2001/10/xml-exc-c14n#",
};
pub const MD: Ns = Ns {
    prefix: "md",
    uri: "urn:oasis:names:tc:SAML:2.0:metadata",
};
pub const MDUI: Ns = Ns {
    prefix: "mdui",
    uri: "urn:oasis:names:tc:SAML:metadata:ui",
};
pub const MDATTR: Ns = Ns {
    prefix: "mdattr",
    uri: "urn:oasis:names:tc:SAML:metadata:attribute",
};
pub const MDRPI: Ns = Ns {
    prefix: "mdrpi",
    uri: "urn:oasis:names:tc:SAML:metadata:rpi",
};
pub const ALG: Ns = Ns {
    prefix: "alg",
    uri: "urn:oasis:names:tc:SAML:metadata:algsupport",
};
pub const XSI: Ns = Ns {
    prefix: "xsi",
    uri: "http://www.w3.org/2001/XMLSchema-instance",
};
pub const XS: Ns = Ns {
    prefix: "xs",
    uri: "http://www.w3.org/2001/XMLSchema",
};
pub const XML: Ns = Ns {
    prefix: "xml",
    uri: "http://www.w3.org/XML/1998/namespace",
};

/// An attribute: unqualified (`ns: None`) or in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ns: Option<Ns>,
    pub name: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ns: Ns,
    pub name: &'static str,
    pub attributes: Vec<Attribute>,
    /// Namespaces declared here although only used in attribute values (`xs`).
    pub inclusive: Vec<Ns>,
    pub children: Vec<Node>,
}

impl Element {
    pub fn new(ns: Ns, name: &'static str) -> Self {
        Self {
            ns,
            name,
            attributes: Vec::new(),
            inclusive: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Adds an unqualified attribute.
    pub fn attr(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.attributes.push(Attribute {
            ns: None,
            name,
            value: value.into(),
        });
        self
    }

    /// Adds an unqualified attribute when `value` is present.
    pub fn attr_opt(self, name: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.attr(name, v),
            None => self,
        }
    }

    /// Adds a namespaced attribute (`xsi:type`, `xml:lang`).
    pub fn attr_ns(mut self, ns: Ns, name: &'static str, value: impl Into<String>) -> Self {
        self.attributes.push(Attribute {
            ns: Some(ns),
            name,
            value: value.into(),
        });
        self
    }

    pub fn declare(mut self, ns: Ns) -> Self {
        self.inclusive.push(ns);
        self
    }

    pub fn child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    pub fn children(mut self, children: impl IntoIterator<Item = Element>) -> Self {
        self.children
            .extend(children.into_iter().map(Node::Element));
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// The `ID` attribute, if any.
    pub fn id(&self) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.is_none() && a.name == "ID")
            .map(|a| a.value.as_str())
    }

    /// This element in canonical form.
    pub fn to_canonical(&self) -> String {
        let mut out = String::with_capacity(2048);
        write_element(self, &mut out, &mut Vec::new());
        out
    }

    /// A whole document: XML declaration and the canonical root.
    pub fn to_document(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        write_element(self, &mut out, &mut Vec::new());
        out
    }
}

/// Writes `element`, given the prefixes its ancestors declared (`in_scope`).
fn write_element(element: &Element, out: &mut String, in_scope: &mut Vec<Ns>) {
    let mut declare: Vec<Ns> = Vec::new();
    let mut wants = |ns: Ns| {
        if ns.prefix != XML.prefix && !in_scope.contains(&ns) && !declare.contains(&ns) {
            declare.push(ns);
        }
    };
    wants(element.ns);
    for attribute in &element.attributes {
        if let Some(ns) = attribute.ns {
            wants(ns);
        }
    }
    for ns in &element.inclusive {
        wants(*ns);
    }
    declare.sort_by_key(|ns| ns.prefix);

    let mut attributes: Vec<&Attribute> = element.attributes.iter().collect();
    attributes.sort_by(|a, b| {
        let key = |x: &Attribute| (x.ns.map(|n| n.uri).unwrap_or(""), x.name);
        key(a).cmp(&key(b))
    });

    out.push('<');
    qualified(out, element.ns, element.name);
    for ns in &declare {
        let _ = write!(out, " xmlns:{}=\"", ns.prefix);
        escape_attribute(out, ns.uri);
        out.push('"');
    }
    for attribute in attributes {
        out.push(' ');
        match attribute.ns {
            Some(ns) => qualified(out, ns, attribute.name),
            None => out.push_str(attribute.name),
        }
        out.push_str("=\"");
        escape_attribute(out, &attribute.value);
        out.push('"');
    }
    out.push('>');

    let declared = declare.len();
    in_scope.extend(declare);
    for child in &element.children {
        match child {
            Node::Element(e) => write_element(e, out, in_scope),
            Node::Text(t) => escape_text(out, t),
        }
    }
    in_scope.truncate(in_scope.len() - declared);

    out.push_str("</");
    qualified(out, element.ns, element.name);
    out.push('>');
}

fn qualified(out: &mut String, ns: Ns, name: &str) {
    out.push_str(ns.prefix);
    out.push(':');
    out.push_str(name);
}

/// Appends `text` escaped as XML character data.
pub(crate) fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Appends `value` escaped for a double-quoted XML attribute.
pub(crate) fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_sit_where_used_and_attributes_are_sorted() {
        let doc = Element::new(SAMLP, "Response")
            .attr("Version", "2.0")
            .attr("ID", "_1")
            .child(Element::new(SAML, "Issuer").text("a&b<c>"))
            .child(
                Element::new(SAML, "Assertion").declare(XS).child(
                    Element::new(SAML, "AttributeValue")
                        .attr_ns(XSI, "type", "xs:string")
                        .text("x"),
                ),
            );
        assert_eq!(
            doc.to_canonical(),
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_1\" Version=\"2.0\">\
             <saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">a&amp;b&lt;c&gt;</saml:Issuer>\
             <saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\
             <saml:AttributeValue xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">x</saml:AttributeValue>\
             </saml:Assertion></samlp:Response>"
        );
    }

    #[test]
    fn attribute_values_escape_quotes_and_whitespace() {
        let e = Element::new(SAML, "A").attr("V", "\"a\"\t\n&");
        assert_eq!(
            e.to_canonical(),
            "<saml:A xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" V=\"&quot;a&quot;&#x9;&#xA;&amp;\"></saml:A>"
        );
    }
}
