//! Reading a parsed SAML document the safe way: elements by namespace and local name,
//! attributes only when unqualified (a namespaced `x:ID` never stands in for `ID`), and
//! text as all of an element's text nodes (never just the first).

use uppsala::{Document, NodeId};

use super::text_without_comments;

/// A view of a document parsed with [`super::parse`].
pub struct Tree<'d, 'x> {
    pub doc: &'d Document<'x>,
}

impl<'d, 'x> Tree<'d, 'x> {
    pub fn new(doc: &'d Document<'x>) -> Self {
        Self { doc }
    }

    pub fn root(&self) -> Option<NodeId> {
        self.doc.document_element()
    }

    pub fn is(&self, node: NodeId, ns: &str, name: &str) -> bool {
        self.doc
            .element(node)
            .is_some_and(|e| e.name.matches(Some(ns), name))
    }

    pub fn child(&self, node: NodeId, ns: &str, name: &str) -> Option<NodeId> {
        self.doc.children_iter(node).find(|&c| self.is(c, ns, name))
    }

    pub fn children<'a>(
        &'a self,
        node: NodeId,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = NodeId> + 'a {
        self.doc
            .children_iter(node)
            .filter(move |&c| self.is(c, ns, name))
    }

    /// All of the element's text, trimmed.
    pub fn text(&self, node: NodeId) -> String {
        text_without_comments(self.doc, node).trim().to_owned()
    }

    /// An unqualified attribute.
    pub fn attribute(&self, node: NodeId, name: &str) -> Option<&'d str> {
        self.doc.element(node).and_then(|e| {
            e.attributes
                .iter()
                .find(|a| a.name.namespace_uri.is_none() && *a.name.local_name == *name)
                .map(|a| &*a.value)
        })
    }
}
