//! The registry as files, so that a platform can be run from Git: `idp tenants import`
//! applies a directory of tenant files as the whole registry (validated as a whole,
//! atomically; a dry run only shows the diff), `idp tenants export` writes the current
//! state. A tenant imported from a file and unchanged since is exported as that file's
//! text, comments included; others as canonical TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

use super::commit::{commit, diff, Change, CommitError, Diff};
use super::Registry;
use crate::storage::Database;
use crate::tenants::validate::{validate, Context};
use crate::tenants::TenantFile;

#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub diffs: Vec<Diff>,
    /// The registry version holding the import; `None` on a dry run.
    pub version: Option<i64>,
}

/// Applies `files` as the complete registry (tenants without a file are removed).
pub async fn import_files(
    db: &Database,
    context: &Context,
    base: &Registry,
    files: &[TenantFile],
    actor: &str,
    is_dry_run: bool,
    now: OffsetDateTime,
) -> Result<ImportOutcome, CommitError> {
    let tenants: Vec<_> = files.iter().map(|f| f.tenant.clone()).collect();
    if is_dry_run {
        let diffs = diff(base, &tenants)?;
        let changed = diffs.iter().map(|d| d.tenant.clone()).collect();
        let problems = validate(&tenants, &changed, context);
        if !problems.is_empty() {
            return Err(CommitError::Invalid(problems));
        }
        return Ok(ImportOutcome {
            diffs,
            version: None,
        });
    }
    let sources: BTreeMap<String, String> = files
        .iter()
        .map(|f| (f.tenant.id.to_string(), f.source.clone()))
        .collect();
    let change = Change {
        actor: actor.to_owned(),
        action: "tenants.import".to_owned(),
        object: None,
        tenants,
        sources,
    };
    let (version, diffs) = commit(db, context, base, change, now).await?;
    Ok(ImportOutcome {
        diffs,
        version: Some(version),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tenant {tenant}: {message}")]
    Encode { tenant: String, message: String },
}

/// Writes one `<tenant>.toml` per tenant into `dir` and removes the `*.toml` files of
/// tenants that no longer exist. Returns the files written and removed.
pub fn export_dir(
    registry: &Registry,
    dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), ExportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for tenant in registry.tenants.iter() {
        let text = match registry.sources.get(tenant.id.as_str()) {
            Some(source) => source.clone(),
            None => toml::to_string_pretty(tenant.as_ref()).map_err(|e| ExportError::Encode {
                tenant: tenant.id.to_string(),
                message: e.to_string(),
            })?,
        };
        let path = dir.join(format!("{}.toml", tenant.id));
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let is_stale = path.extension().is_some_and(|e| e == "toml") && !written.contains(&path);
        if is_stale {
            std::fs::remove_file(&path).map_err(io(&path))?;
            removed.push(path);
        }
    }
    Ok((written, removed))
}
