//! The directory on the SQL database (SQLite or PostgreSQL).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Commission, Directory, DirectoryError, DirectorySeed, Employment, Person};
use crate::clock::SharedClock;
use crate::ids::{HsaId, PersonalIdentityNumber};
use crate::storage::{Database, StorageError};

pub struct SqlDirectory {
    db: Database,
    clock: SharedClock,
}

impl SqlDirectory {
    pub fn new(db: Database, clock: SharedClock) -> Self {
        Self { db, clock }
    }

    async fn find_person(&self, person_id: &str) -> Result<Option<Person>, DirectoryError> {
        let pool = self.db.pool();
        let Some(row) = sqlx::query(
            "SELECT id, personal_identity_number, given_name, surname, mail FROM persons WHERE id = $1",
        )
        .bind(person_id)
        .fetch_optional(pool)
        .await
        .map_err(StorageError::from)?
        else {
            return Ok(None);
        };
        let employment_rows = sqlx::query(
            "SELECT hsa_id, organisation_number, organisation_name, title FROM employments \
             WHERE person_id = $1 ORDER BY hsa_id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await
        .map_err(StorageError::from)?;
        let commission_rows = sqlx::query(
            "SELECT c.hsa_id, c.employment_hsa_id, c.name, c.purpose, \
             c.health_care_provider_hsa_id, c.health_care_unit_hsa_id, c.rights \
             FROM commissions c JOIN employments e ON e.hsa_id = c.employment_hsa_id \
             WHERE e.person_id = $1 ORDER BY c.hsa_id",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await
        .map_err(StorageError::from)?;

        let mut employments = employment_rows
            .iter()
            .map(decode_employment)
            .collect::<Result<Vec<_>, _>>()?;
        for row in &commission_rows {
            let (employment_hsa_id, commission) = decode_commission(row)?;
            if let Some(e) = employments
                .iter_mut()
                .find(|e| e.hsa_id == employment_hsa_id)
            {
                e.commissions.push(commission);
            }
        }
        let pnr: Option<String> = row.try_get("personal_identity_number").map_err(db_err)?;
        Ok(Some(Person {
            id: row.try_get("id").map_err(db_err)?,
            personal_identity_number: pnr.map(|p| parse(&p)).transpose()?,
            given_name: row.try_get("given_name").map_err(db_err)?,
            surname: row.try_get("surname").map_err(db_err)?,
            mail: row.try_get("mail").map_err(db_err)?,
            employments,
        }))
    }
}

fn db_err(e: sqlx::Error) -> DirectoryError {
    DirectoryError::Storage(StorageError::Database(e))
}

fn parse<T: std::str::FromStr>(value: &str) -> Result<T, DirectoryError> {
    value
        .parse()
        .map_err(|_| DirectoryError::Invalid(format!("stored identifier {value:?} is malformed")))
}

fn decode_employment(row: &AnyRow) -> Result<Employment, DirectoryError> {
    let hsa_id: String = row.try_get("hsa_id").map_err(db_err)?;
    let org: String = row.try_get("organisation_number").map_err(db_err)?;
    Ok(Employment {
        hsa_id: parse(&hsa_id)?,
        organisation_number: parse(&org)?,
        organisation_name: row.try_get("organisation_name").map_err(db_err)?,
        title: row.try_get("title").map_err(db_err)?,
        commissions: Vec::new(),
    })
}

fn decode_commission(row: &AnyRow) -> Result<(HsaId, Commission), DirectoryError> {
    let optional_hsa_id = |column: &str| -> Result<Option<HsaId>, DirectoryError> {
        let value: Option<String> = row.try_get(column).map_err(db_err)?;
        value.map(|v| parse(&v)).transpose()
    };
    let hsa_id: String = row.try_get("hsa_id").map_err(db_err)?;
    let employment: String = row.try_get("employment_hsa_id").map_err(db_err)?;
    let rights: String = row.try_get("rights").map_err(db_err)?;
    let commission = Commission {
        hsa_id: parse(&hsa_id)?,
        name: row.try_get("name").map_err(db_err)?,
        purpose: row.try_get("purpose").map_err(db_err)?,
        health_care_provider_hsa_id: optional_hsa_id("health_care_provider_hsa_id")?,
        health_care_unit_hsa_id: optional_hsa_id("health_care_unit_hsa_id")?,
        rights: serde_json::from_str(&rights)
            .map_err(|e| DirectoryError::Invalid(format!("commission rights: {e}")))?,
    };
    Ok((parse(&employment)?, commission))
}

#[async_trait]
impl Directory for SqlDirectory {
    async fn find_by_hsa_id(&self, hsa_id: &HsaId) -> Result<Option<Person>, DirectoryError> {
        let person_id: Option<String> =
            sqlx::query_scalar("SELECT person_id FROM employments WHERE hsa_id = $1")
                .bind(hsa_id.as_str())
                .fetch_optional(self.db.pool())
                .await
                .map_err(db_err)?;
        match person_id {
            Some(id) => self.find_person(&id).await,
            None => Ok(None),
        }
    }

    async fn find_by_personal_identity_number(
        &self,
        pnr: &PersonalIdentityNumber,
    ) -> Result<Option<Person>, DirectoryError> {
        let person_id: Option<String> =
            sqlx::query_scalar("SELECT id FROM persons WHERE personal_identity_number = $1")
                .bind(pnr.as_str())
                .fetch_optional(self.db.pool())
                .await
                .map_err(db_err)?;
        match person_id {
            Some(id) => self.find_person(&id).await,
            None => Ok(None),
        }
    }

    async fn replace_all(&self, seed: &DirectorySeed) -> Result<(), DirectoryError> {
        let at = crate::storage::to_millis(self.clock.now());
        let mut tx = self.db.pool().begin().await.map_err(db_err)?;
        for table in ["commissions", "employments", "persons"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        for person in &seed.people {
            insert_person(&mut tx, person, at).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }
}

async fn insert_person(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person: &Person,
    at_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO persons (id, personal_identity_number, given_name, surname, mail, \
         updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(person.id.as_str())
    .bind(
        person
            .personal_identity_number
            .as_ref()
            .map(|p| p.as_str().to_owned()),
    )
    .bind(person.given_name.as_str())
    .bind(person.surname.as_str())
    .bind(person.mail.as_deref())
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    for e in &person.employments {
        sqlx::query(
            "INSERT INTO employments (hsa_id, person_id, organisation_number, \
             organisation_name, title) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.hsa_id.as_str())
        .bind(person.id.as_str())
        .bind(e.organisation_number.as_str())
        .bind(e.organisation_name.as_str())
        .bind(e.title.as_deref())
        .execute(&mut **tx)
        .await?;
        for c in &e.commissions {
            let rights = serde_json::to_string(&c.rights).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT INTO commissions (hsa_id, employment_hsa_id, name, purpose, \
                 health_care_provider_hsa_id, health_care_unit_hsa_id, rights) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(c.hsa_id.as_str())
            .bind(e.hsa_id.as_str())
            .bind(c.name.as_str())
            .bind(c.purpose.as_str())
            .bind(
                c.health_care_provider_hsa_id
                    .as_ref()
                    .map(|h| h.as_str().to_owned()),
            )
            .bind(
                c.health_care_unit_hsa_id
                    .as_ref()
                    .map(|h| h.as_str().to_owned()),
            )
            .bind(rights)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
