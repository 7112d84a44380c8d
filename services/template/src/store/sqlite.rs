//! SQLite backend (the embedded default): JSON documents in the file the auth service uses,
//! with the columns that filters and sorts need.

use std::path::Path;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::{CategoryCount, ListQuery, SortField, StoreError, TemplateStore};
use crate::http::sortable;
use crate::model::Template;

/// Its own migrations table: the file is shared with the auth and plan services.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations_template";

pub struct SqliteTemplateStore {
    pool: SqlitePool,
}

impl SqliteTemplateStore {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            pool: plangen_core::sqlite::open_sqlite(path).await?,
        })
    }

    fn migrator() -> Migrator {
        let mut m = sqlx::migrate!("./migrations/sqlite");
        m.dangerous_set_table_name(MIGRATIONS_TABLE);
        m
    }
}

fn search_text(t: &Template) -> String {
    format!("{} {} {}", t.name, t.description, t.tags.join(" ")).to_lowercase()
}

fn column(field: SortField) -> &'static str {
    match field {
        SortField::Name => "name",
        SortField::CreatedAt => "created_at",
        SortField::UpdatedAt => "updated_at",
    }
}

/// `LIKE` pattern for a literal substring (`\` escapes).
pub(crate) fn like_pattern(word: &str) -> String {
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

fn parse(doc: &str) -> Result<Template, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Sqlite(e),
    }
}

#[async_trait]
impl TemplateStore for SqliteTemplateStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        Self::migrator().run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert(&self, t: &Template) -> Result<(), StoreError> {
        let doc = serde_json::to_string(t).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO templates (id, owner_id, name, category, visibility, search, version, created_at, updated_at, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&t.id)
        .bind(&t.owner_id)
        .bind(&t.name)
        .bind(&t.category)
        .bind(t.visibility.as_str())
        .bind(search_text(t))
        .bind(t.version)
        .bind(sortable(&t.created_at))
        .bind(sortable(&t.updated_at))
        .bind(doc)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Template>, StoreError> {
        let row = sqlx::query("SELECT doc FROM templates WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| parse(r.get("doc"))).transpose()
    }

    async fn replace(&self, t: &Template, expected_version: i64) -> Result<bool, StoreError> {
        let doc = serde_json::to_string(t).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE templates SET name = $3, category = $4, visibility = $5, search = $6,
                 version = $7, updated_at = $8, doc = $9
             WHERE id = $1 AND version = $2",
        )
        .bind(&t.id)
        .bind(expected_version)
        .bind(&t.name)
        .bind(&t.category)
        .bind(t.visibility.as_str())
        .bind(search_text(t))
        .bind(t.version)
        .bind(sortable(&t.updated_at))
        .bind(doc)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, id: &str, expected_version: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM templates WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(expected_version)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list(&self, q: &ListQuery) -> Result<Vec<Template>, StoreError> {
        let mut b: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT doc FROM templates WHERE ");
        if q.owner_me {
            b.push("owner_id = ").push_bind(&q.viewer);
        } else {
            b.push("(owner_id = ")
                .push_bind(&q.viewer)
                .push(" OR visibility = 'public')");
        }
        if let Some(text) = &q.q {
            // Any word, as MongoDB's $text does.
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
        if let Some(c) = &q.category {
            b.push(" AND category = ").push_bind(c);
        }
        if let Some(v) = q.visibility {
            b.push(" AND visibility = ").push_bind(v.as_str());
        }
        if let Some(tag) = &q.tag {
            b.push(" AND EXISTS (SELECT 1 FROM json_each(doc, '$.tags') WHERE value = ")
                .push_bind(tag)
                .push(")");
        }
        plangen_core::sqlite::push_keyset_page(
            &mut b,
            column(q.sort),
            q.direction,
            q.after.as_ref(),
            q.limit,
        );
        let rows = b.build().fetch_all(&self.pool).await?;
        rows.iter().map(|r| parse(r.get("doc"))).collect()
    }

    async fn categories(&self, viewer: &str) -> Result<Vec<CategoryCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT category, COUNT(*) AS n FROM templates
             WHERE owner_id = $1 OR visibility = 'public'
             GROUP BY category ORDER BY category",
        )
        .bind(viewer)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| CategoryCount {
                name: r.get("category"),
                count: r.get::<i64, _>("n") as u64,
            })
            .collect())
    }
}
