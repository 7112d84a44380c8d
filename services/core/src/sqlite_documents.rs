//! What the SQLite stores of the plan and template services do alike with their table of JSON
//! documents (columns `id`, `version` and `doc`, beside the columns each service filters and
//! sorts on): get one, delete it only at the version read, the `q` and `tag` filters of a
//! list, and the mapping of JSON and errors. The `INSERT` and `UPDATE` statements name each
//! service's own columns and stay in the service.
//!
//! Behind the `mongo` feature with the rest of the document services' plumbing: its errors are
//! `DocumentStoreError`, which both backends share.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, QueryBuilder, Row as _, Sqlite, SqlitePool};

use crate::mongo::DocumentStoreError;

/// One service's table of versioned JSON documents in the shared SQLite file.
pub struct SqliteDocuments {
    pool: SqlitePool,
    /// A name the service chose (a constant), never input: it is written into the SQL.
    table: &'static str,
}

impl SqliteDocuments {
    /// Opens (creating if needed) the SQLite file; the table is the service's migrations' job.
    pub async fn open(path: &Path, table: &'static str) -> Result<Self, DocumentStoreError> {
        Ok(Self {
            pool: crate::sqlite::open_sqlite(path).await?,
            table,
        })
    }

    /// The pool, for the statements in the service's own words (migrations, writes, lists).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), DocumentStoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<Option<T>, DocumentStoreError> {
        let sql = format!("SELECT doc FROM {} WHERE id = $1", self.table);
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| parse(r.get("doc"))).transpose()
    }

    /// Deletes document `id` if it is still at `expected_version`; `false` if not (changed or
    /// deleted meanwhile).
    pub async fn delete(
        &self,
        id: &str,
        expected_version: i64,
    ) -> Result<bool, DocumentStoreError> {
        let sql = format!("DELETE FROM {} WHERE id = $1 AND version = $2", self.table);
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(expected_version)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A document from its `doc` column.
pub fn parse<T: DeserializeOwned>(doc: &str) -> Result<T, DocumentStoreError> {
    serde_json::from_str(doc).map_err(|e| DocumentStoreError::Corrupt(e.to_string()))
}

/// The documents of rows selected as `doc`.
pub fn parse_rows<T: DeserializeOwned>(rows: &[SqliteRow]) -> Result<Vec<T>, DocumentStoreError> {
    rows.iter().map(|r| parse(r.get("doc"))).collect()
}

/// A document for its `doc` column.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, DocumentStoreError> {
    serde_json::to_string(value).map_err(|e| DocumentStoreError::Corrupt(e.to_string()))
}

/// The error of an `INSERT`: an id already taken is a [`DocumentStoreError::Conflict`].
pub fn insert_error(e: sqlx::Error) -> DocumentStoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => DocumentStoreError::Conflict,
        _ => DocumentStoreError::Sqlite(e),
    }
}

/// `LIKE` pattern for a literal substring (`\` escapes).
pub fn like_pattern(word: &str) -> String {
    let mut p = String::from("%");
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// ` AND` the lower-cased `search` column holds any of the words of `text`, as MongoDB's
/// `$text` finds any word.
pub fn push_any_word(b: &mut QueryBuilder<Sqlite>, text: &str) {
    b.push(" AND (");
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            b.push(" OR ");
        }
        b.push("search LIKE ")
            .push_bind(like_pattern(&word.to_lowercase()))
            .push(" ESCAPE '\\'");
    }
    b.push(")");
}

/// ` AND` the document's `tags` hold `tag`.
pub fn push_has_tag(b: &mut QueryBuilder<Sqlite>, tag: &str) {
    b.push(" AND EXISTS (SELECT 1 FROM json_each(doc, '$.tags') WHERE value = ")
        .push_bind(tag)
        .push(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_the_word_literally() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    #[test]
    fn any_word_and_tag_filters() {
        let mut b: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT doc FROM t WHERE owner_id = ");
        b.push_bind("u1");
        push_any_word(&mut b, "Run  fast");
        push_has_tag(&mut b, "fit");
        assert_eq!(
            b.sql().as_str(),
            "SELECT doc FROM t WHERE owner_id = ? AND (search LIKE ? ESCAPE '\\' OR search LIKE ? \
             ESCAPE '\\') AND EXISTS (SELECT 1 FROM json_each(doc, '$.tags') WHERE value = ?)"
        );
    }
}
