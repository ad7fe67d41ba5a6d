//! Reading `config/tenants/*.toml` (the registry as files, for `idp tenants import` and
//! the development defaults): every file is parsed, then the set is validated as a
//! whole with the registry's rules, and every problem is reported with its file and
//! key, so an admin sees them all at once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::model::Tenant;
use super::validate::{validate, Context};
use crate::config::{parse_toml, Problems};

/// One tenant file as read: the parsed tenant and the text it came from.
#[derive(Debug, Clone)]
pub struct TenantFile {
    pub path: PathBuf,
    pub tenant: Tenant,
    pub source: String,
}

/// Reads every `*.toml` in `dir` (sorted by name) and validates the set as a whole, as
/// if every tenant were new. Problems are pushed to `problems`; the files that parsed
/// are returned either way.
pub fn read_dir(dir: &Path, context: &Context, problems: &mut Problems) -> Vec<TenantFile> {
    let loaded = parse_dir(dir, problems);
    let tenants: Vec<Tenant> = loaded.iter().map(|f| f.tenant.clone()).collect();
    let changed: BTreeSet<_> = tenants.iter().map(|t| t.id.clone()).collect();
    report(
        dir,
        &loaded,
        validate(&tenants, &changed, context),
        problems,
    );
    loaded
}

/// Pushes registry problems as file problems: each under its tenant's file in `dir`.
pub fn report(
    dir: &Path,
    files: &[TenantFile],
    found: Vec<super::validate::Problem>,
    problems: &mut Problems,
) {
    for problem in found {
        let file = files
            .iter()
            .find(|f| f.tenant.id == problem.tenant)
            .map(|f| f.path.clone())
            .unwrap_or_else(|| dir.join(format!("{}.toml", problem.tenant)));
        let key = (!problem.field.is_empty()).then_some(problem.field);
        problems.push(&file, key, problem.message);
    }
}

/// Parses every `*.toml` in `dir` (sorted by name), each on its own: the file's syntax
/// and keys, and that its id matches its name.
pub fn parse_dir(dir: &Path, problems: &mut Problems) -> Vec<TenantFile> {
    let files = match toml_files(dir) {
        Ok(files) => files,
        Err(e) => {
            problems.push(dir, None, format!("cannot read tenant directory: {e}"));
            return Vec::new();
        }
    };
    if files.is_empty() {
        problems.push(dir, None, "no tenant files (*.toml) found");
    }
    let mut loaded = Vec::new();
    for path in files {
        let source = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(&path, None, format!("cannot read: {e}"));
                continue;
            }
        };
        match parse_toml::<Tenant>(&path, &source) {
            Ok(tenant) => {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                if tenant.id.as_str() != stem {
                    problems.push(
                        &path,
                        "id".to_owned(),
                        format!(
                            "is {:?} but the file is named {stem}.toml; they must match",
                            tenant.id.as_str()
                        ),
                    );
                }
                loaded.push(TenantFile {
                    path,
                    tenant,
                    source,
                });
            }
            Err(problem) => problems.0.push(problem),
        }
    }
    loaded
}

/// Reads and validates `dir` like [`read_dir`] and returns the tenants, indexed.
pub fn load_dir(dir: &Path, context: &Context, problems: &mut Problems) -> super::Tenants {
    super::Tenants::new(
        read_dir(dir, context, problems)
            .into_iter()
            .map(|f| f.tenant),
    )
}

fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
