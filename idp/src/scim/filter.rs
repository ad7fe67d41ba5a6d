//! SCIM filters (RFC 7644 §3.4.2.2): `eq ne co sw ew gt ge lt le pr`, `and`, `or`, `not`,
//! parentheses and value filters on multi-valued attributes (`emails[type eq "work"]`),
//! evaluated on a User's JSON. String comparisons ignore case (the attributes the
//! server defines are all `caseExact: false`). Filters are bounded in length and depth.

use serde_json::Value;

use super::{get_ci, ScimError, USER_SCHEMA};

const MAX_FILTER_LENGTH: usize = 1024;
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare(AttrPath, Op, Value),
    /// `attr[filter]`: some value of `attr` matches `filter`.
    Has(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// An attribute path: an optional extension schema URN, the attribute, an optional
/// sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub schema: Option<String>,
    pub attribute: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (schema, rest) = if super::has_urn_prefix(text) {
            let at = text.rfind(':').ok_or("a malformed schema URN")?;
            let schema = &text[..at];
            let schema = (!schema.eq_ignore_ascii_case(USER_SCHEMA)).then(|| schema.to_owned());
            (schema, &text[at + 1..])
        } else {
            (None, text)
        };
        let (attribute, sub) = match rest.split_once('.') {
            Some((attribute, sub)) => (attribute, Some(sub)),
            None => (rest, None),
        };
        let valid = |name: &str| {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(attribute) || sub.is_some_and(|s| !valid(s)) {
            return Err(format!("{text:?} is not an attribute path"));
        }
        Ok(Self {
            schema,
            attribute: attribute.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// The attribute's container in `resource`: the resource, or its extension object.
    pub fn container<'a>(&self, resource: &'a Value) -> Option<&'a serde_json::Map<String, Value>> {
        let object = resource.as_object()?;
        match &self.schema {
            None => Some(object),
            Some(schema) => get_ci(object, schema)?.1.as_object(),
        }
    }

    /// Every value at this path (a multi-valued attribute's values one by one).
    pub fn values<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let Some(container) = self.container(resource) else {
            return Vec::new();
        };
        let Some((_, value)) = get_ci(container, &self.attribute) else {
            return Vec::new();
        };
        let top: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        match &self.sub {
            None => top,
            Some(sub) => top
                .into_iter()
                .filter_map(|v| v.as_object().and_then(|o| get_ci(o, sub)).map(|(_, v)| v))
                .flat_map(|v| match v {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                })
                .collect(),
        }
    }
}

pub fn parse(text: &str) -> Result<Filter, ScimError> {
    if text.len() > MAX_FILTER_LENGTH {
        return Err(ScimError::invalid_filter("the filter is too long"));
    }
    let tokens = tokenize(text).map_err(ScimError::invalid_filter)?;
    let mut parser = Parser { tokens, at: 0 };
    let filter = parser.or(0).map_err(ScimError::invalid_filter)?;
    if parser.at != parser.tokens.len() {
        return Err(ScimError::invalid_filter(
            "unexpected text after the filter",
        ));
    }
    Ok(filter)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Value(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            ']' => {
                tokens.push(Token::CloseBracket);
                i += 1;
            }
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                if i >= chars.len() {
                    return Err("an unterminated string".into());
                }
                i += 1;
                let literal: String = chars[start..i].iter().collect();
                let value: Value =
                    serde_json::from_str(&literal).map_err(|_| "a malformed string")?;
                tokens.push(Token::Value(value));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !matches!(chars[i], ' ' | '\t' | '(' | ')' | '[' | ']' | '"')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let literal = match word.to_ascii_lowercase().as_str() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    "null" => Some(Value::Null),
                    _ if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') => Some(
                        serde_json::from_str::<Value>(&word)
                            .ok()
                            .filter(Value::is_number)
                            .ok_or_else(|| format!("{word:?} is not a number"))?,
                    ),
                    _ => None,
                };
                tokens.push(match literal {
                    Some(value) => Token::Value(value),
                    None => Token::Word(word),
                });
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self, depth: usize) -> Result<Filter, String> {
        let mut left = self.and(depth)?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, String> {
        let mut left = self.unary(depth)?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, String> {
        if depth > MAX_DEPTH {
            return Err("the filter is nested too deeply".into());
        }
        if self.peek_word("not") {
            self.at += 1;
            if self.next() != Some(Token::Open) {
                return Err("`not` must be followed by `(`".into());
            }
            let inner = self.or(depth + 1)?;
            return match self.next() {
                Some(Token::Close) => Ok(Filter::Not(Box::new(inner))),
                _ => Err("a `(` is not closed".into()),
            };
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or(depth + 1)?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                _ => Err("a `(` is not closed".into()),
            };
        }
        let Some(Token::Word(path)) = self.next() else {
            return Err("an attribute name is expected".into());
        };
        let path = AttrPath::parse(&path)?;
        if self.tokens.get(self.at) == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Token::CloseBracket) {
                return Err("a `[` is not closed".into());
            }
            return Ok(Filter::Has(path, Box::new(inner)));
        }
        let Some(Token::Word(op)) = self.next() else {
            return Err("an operator is expected".into());
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(format!("{other:?} is not an operator")),
        };
        match self.next() {
            Some(Token::Value(value)) => Ok(Filter::Compare(path, op, value)),
            _ => Err("a value is expected".into()),
        }
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(actual: &Value, op: Op, expected: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering = match (actual, expected) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                Op::Co => return a.contains(&b),
                Op::Sw => return a.starts_with(&b),
                Op::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => return false,
        },
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => return a == b,
            Op::Ne => return a != b,
            _ => return false,
        },
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => return op == Op::Ne,
    };
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

impl Filter {
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(inner) => !inner.matches(resource),
            Filter::Present(path) => path.values(resource).into_iter().any(is_present),
            Filter::Compare(path, op, expected) => {
                let values = path.values(resource);
                if values.is_empty() {
                    // `ne` holds for an absent attribute; nothing else does.
                    return *op == Op::Ne && !expected.is_null();
                }
                match op {
                    Op::Ne => values.into_iter().all(|v| compare(v, Op::Ne, expected)),
                    _ => values.into_iter().any(|v| compare(v, *op, expected)),
                }
            }
            Filter::Has(path, inner) => path.values(resource).into_iter().any(|v| inner.matches(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "1", "userName": "Anna@Lillby.example", "active": true,
            "name": {"givenName": "Anna", "familyName": "Andersson"},
            "emails": [{"value": "a@x.example", "type": "work"}, {"value": "a@home.example", "type": "home"}],
            "urn:se:regional-idp:scim:schemas:extension:hsa:1.0:User": {
                "employments": [{"hsaId": "SE2120007774-a1"}]
            }
        })
    }

    fn matches(filter: &str) -> bool {
        parse(filter).unwrap().matches(&user())
    }

    #[test]
    fn filters_match_as_rfc_7644_says() {
        assert!(matches(r#"userName eq "anna@lillby.example""#));
        assert!(matches(r#"username sw "ANNA""#));
        assert!(!matches(r#"userName eq "bo""#));
        assert!(matches(r#"name.familyName co "ders""#));
        assert!(matches(r#"emails[type eq "home" and value ew ".example"]"#));
        assert!(!matches(r#"emails[type eq "other"]"#));
        assert!(matches(r#"emails.value eq "a@home.example""#));
        assert!(matches("active eq true and not (title pr)"));
        assert!(matches(
            r#"(userName eq "x" or id eq "1") and meta pr or id eq "1""#
        ));
        assert!(matches(
            r#"urn:se:regional-idp:scim:schemas:extension:hsa:1.0:User:employments.hsaId eq "SE2120007774-a1""#
        ));
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "anna""#
        ));
        assert!(matches(r#"title ne "boss""#));
    }

    #[test]
    fn a_bad_filter_is_invalid_filter() {
        for bad in [
            "userName",
            r#"userName zz "a""#,
            r#"userName eq "a"#,
            r#"(userName eq "a""#,
            r#"userName eq "a" junk"#,
            &"(".repeat(40),
            "abcé eq \"x\"",
            "uré:x eq \"x\"",
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.scim_type, Some("invalidFilter"), "{bad}");
        }
    }
}
