//! The schema's migrations (`migrations/`), compiled into the binary: what sqlx's
//! `migrate!` macro embeds, without the macro. The macro needs sqlx's compile-time query
//! machinery, which builds the SQLite and PostgreSQL drivers, rustls and tokio a second
//! time for the compiler (about a tenth of a test build's CPU, and of the fuzzing
//! build's; docs/benchmarks.md, "The CI's time").
//!
//! Each file is named `<version>_<description>.sql` and read the way sqlx reads a
//! migration directory, so that a database migrated by an earlier release (whose
//! `_sqlx_migrations` table holds each migration's SHA-384) finds the same checksums; a
//! test holds the list to the directory and to sqlx's own reading of it.

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;

use super::StorageResult;

/// `(file name, its SQL)` of a file in `migrations/`.
macro_rules! embedded {
    ($file:literal) => {
        ($file, include_str!(concat!("../../../migrations/", $file)))
    };
}

/// Every migration file, in version order.
const FILES: &[(&str, &str)] = &[
    embedded!("20261122000001_initial.sql"),
    embedded!("20261205000001_registry.sql"),
    embedded!("20261205000002_api_tokens.sql"),
    embedded!("20261205000003_audit_certificate_type.sql"),
    embedded!("20261206000001_directory_sources.sql"),
];

/// How many migrations the binary carries.
pub fn count() -> usize {
    FILES.len()
}

/// The migrator over the embedded migrations.
pub async fn migrator() -> StorageResult<Migrator> {
    Ok(Migrator::new(Embedded).await?)
}

/// The embedded files as sqlx's migration source.
#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> futures::future::BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            FILES
                .iter()
                .map(|(file, sql)| migration(file, sql))
                .collect()
        })
    }
}

/// One file as sqlx reads it: the version before the first `_`, the rest without
/// `.sql` and with spaces for `_` as its description, no transaction when the SQL
/// starts with `-- no-transaction`.
fn migration(file: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let invalid = || BoxDynError::from(format!("{file}: not <version>_<description>.sql"));
    let (version, rest) = file.split_once('_').ok_or_else(invalid)?;
    let version: i64 = version.parse().map_err(|_| invalid())?;
    let migration_type = MigrationType::from_filename(rest);
    if !rest.ends_with(".sql") || migration_type != MigrationType::Simple {
        return Err(invalid());
    }
    let description = rest
        .trim_end_matches(migration_type.suffix())
        .replace('_', " ");
    Ok(Migration::new(
        version,
        Cow::Owned(description),
        migration_type,
        Cow::Borrowed(sql),
        sql.starts_with("-- no-transaction"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_migrations_are_the_directory_as_sqlx_reads_it() {
        let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let read = sqlx::migrate::resolve_blocking(&directory).unwrap();
        let embedded = migrator().await.unwrap();
        let embedded: Vec<&Migration> = embedded.iter().collect();
        assert_eq!(
            embedded.len(),
            read.len(),
            "a migration file is not in FILES"
        );
        for (ours, (theirs, path)) in embedded.iter().zip(&read) {
            let file = path.file_name().unwrap().to_string_lossy();
            assert_eq!(ours.version, theirs.version, "{file}");
            assert_eq!(ours.description, theirs.description, "{file}");
            assert_eq!(ours.migration_type, theirs.migration_type, "{file}");
            assert_eq!(ours.checksum, theirs.checksum, "{file}");
            assert_eq!(ours.no_tx, theirs.no_tx, "{file}");
        }
    }

    #[test]
    fn a_file_not_named_as_sqlx_names_migrations_is_refused() {
        for file in [
            "initial.sql",
            "x_initial.sql",
            "1_initial.txt",
            "1_initial.up.sql",
        ] {
            assert!(migration(file, "").is_err(), "{file}");
        }
        let m = migration("7_two_words.sql", "-- no-transaction\n").unwrap();
        assert_eq!(
            (m.version, &*m.description, m.no_tx),
            (7, "two words", true)
        );
    }
}
