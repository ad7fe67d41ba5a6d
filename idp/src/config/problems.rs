//! Configuration problems: each names the file and the key it is about, so that
//! `idp check-config` can print a list an operator can act on.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// Dotted path of the key (`saml_sp[1].entity_id`), when the problem is about one.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: {}: {}", self.file.display(), key, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// The problems found while loading; loading fails when there is at least one.
#[derive(Debug, Default, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        writeln!(
            f,
            "{count} configuration problem{}:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl Problems {
    pub fn push(
        &mut self,
        file: &Path,
        key: impl Into<Option<String>>,
        message: impl Into<String>,
    ) {
        self.0.push(Problem {
            file: file.to_path_buf(),
            key: key.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Deserialises TOML text into `T`, reporting the failing key's dotted path.
pub fn parse_toml<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T, Problem> {
    let value: toml::Value = toml::from_str(text).map_err(|e| Problem {
        file: file.to_path_buf(),
        key: None,
        message: one_line(&e.to_string()),
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Problem {
            file: file.to_path_buf(),
            key: (path != ".").then_some(path),
            message: one_line(&e.into_inner().to_string()),
        }
    })
}

/// toml's messages span several lines (a source excerpt); keep the essential ones.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^'))
        .collect::<Vec<_>>()
        .join(" ")
}
