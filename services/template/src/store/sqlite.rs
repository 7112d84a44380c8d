//! SQLite backend (the embedded default): JSON documents in the file the auth service uses,
//! with the columns that filters and sorts need. What is not in this table's own words (get,
//! delete, the `q` and `tag` filters) is core's `SqliteDocuments`.

use std::path::Path;

use async_trait::async_trait;
use plangen_core::sqlite_documents::{
    SqliteDocuments, insert_error, parse_rows, push_any_word, push_has_tag, to_json,
};
use sqlx::migrate::Migrator;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{CategoryCount, ListQuery, SortField, StoreError, TemplateStore};
use crate::http::sortable;
use crate::model::Template;

/// Its own migrations table: the file is shared with the auth and plan services.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations_template";

pub struct SqliteTemplateStore {
    docs: SqliteDocuments,
}

impl SqliteTemplateStore {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            docs: SqliteDocuments::open(path, "templates").await?,
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

#[async_trait]
impl TemplateStore for SqliteTemplateStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        Self::migrator().run(self.docs.pool()).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.docs.ping().await
    }

    async fn insert(&self, t: &Template) -> Result<(), StoreError> {
        let doc = to_json(t)?;
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
        .execute(self.docs.pool())
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Template>, StoreError> {
        self.docs.get(id).await
    }

    async fn replace(&self, t: &Template, expected_version: i64) -> Result<bool, StoreError> {
        let doc = to_json(t)?;
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
        .execute(self.docs.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, id: &str, expected_version: i64) -> Result<bool, StoreError> {
        self.docs.delete(id, expected_version).await
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
            push_any_word(&mut b, text);
        }
        if let Some(c) = &q.category {
            b.push(" AND category = ").push_bind(c);
        }
        if let Some(v) = q.visibility {
            b.push(" AND visibility = ").push_bind(v.as_str());
        }
        if let Some(tag) = &q.tag {
            push_has_tag(&mut b, tag);
        }
        plangen_core::sqlite::push_keyset_page(
            &mut b,
            column(q.sort),
            q.direction,
            q.after.as_ref(),
            q.limit,
        );
        let rows = b.build().fetch_all(self.docs.pool()).await?;
        parse_rows(&rows)
    }

    async fn categories(&self, viewer: &str) -> Result<Vec<CategoryCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT category, COUNT(*) AS n FROM templates
             WHERE owner_id = $1 OR visibility = 'public'
             GROUP BY category ORDER BY category",
        )
        .bind(viewer)
        .fetch_all(self.docs.pool())
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
