//! SQLite backend (the embedded default): JSON documents in the file the other services use,
//! with the columns that filters, sorts and schedules need. What is not in this table's own
//! words (get, delete, the `q` and `tag` filters) is core's `SqliteDocuments`.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use plangen_core::sqlite_documents::{
    SqliteDocuments, insert_error, parse_rows, push_any_word, push_has_tag, to_json,
};
use sqlx::migrate::Migrator;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{
    CLAIM_TIMEOUT, Claim, ClaimRef, KEY_TTL, ListQuery, PlanStore, SortField, StoreError,
    search_text,
};
use crate::http::sortable;
use crate::model::Plan;

/// Its own migrations table: the file is shared with the auth and template services.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations_plan";

pub struct SqlitePlanStore {
    docs: SqliteDocuments,
}

impl SqlitePlanStore {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            docs: SqliteDocuments::open(path, "plans").await?,
        })
    }

    fn migrator() -> Migrator {
        let mut m = sqlx::migrate!("./migrations/sqlite");
        m.dangerous_set_table_name(MIGRATIONS_TABLE);
        m
    }
}

fn column(field: SortField) -> &'static str {
    match field {
        SortField::Title => "title",
        SortField::StartDate => "start_date",
        SortField::CreatedAt => "created_at",
        SortField::UpdatedAt => "updated_at",
    }
}

async fn insert_one<'e, E: sqlx::Executor<'e, Database = Sqlite>>(
    exec: E,
    p: &Plan,
) -> Result<(), StoreError> {
    let (due_min, due_max) = p.due_bounds();
    sqlx::query(
        "INSERT INTO plans (id, owner_id, title, status, start_date, end_date, recurring, due_min,
             due_max, search, version, created_at, updated_at, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&p.id)
    .bind(&p.owner_id)
    .bind(&p.title)
    .bind(p.status.as_str())
    .bind(p.start_date.format("%Y-%m-%d").to_string())
    .bind(p.end_date.map(|d| d.format("%Y-%m-%d").to_string()))
    .bind(p.recurrence.is_some())
    .bind(due_min)
    .bind(due_max)
    .bind(search_text(p))
    .bind(p.version)
    .bind(sortable(&p.created_at))
    .bind(sortable(&p.updated_at))
    .bind(to_json(p)?)
    .execute(exec)
    .await
    .map_err(insert_error)?;
    Ok(())
}

#[async_trait]
impl PlanStore for SqlitePlanStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        Self::migrator().run(self.docs.pool()).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.docs.ping().await
    }

    async fn insert(&self, p: &Plan) -> Result<(), StoreError> {
        insert_one(self.docs.pool(), p).await
    }

    async fn insert_many(&self, plans: &[Plan]) -> Result<(), StoreError> {
        let mut tx = self.docs.pool().begin().await?;
        for p in plans {
            insert_one(&mut *tx, p).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Plan>, StoreError> {
        self.docs.get(id).await
    }

    async fn replace(&self, p: &Plan, expected_version: i64) -> Result<bool, StoreError> {
        let (due_min, due_max) = p.due_bounds();
        let done = sqlx::query(
            "UPDATE plans SET title = $3, status = $4, start_date = $5, end_date = $6,
                 recurring = $7, due_min = $8, due_max = $9, search = $10, version = $11,
                 updated_at = $12, doc = $13
             WHERE id = $1 AND version = $2",
        )
        .bind(&p.id)
        .bind(expected_version)
        .bind(&p.title)
        .bind(p.status.as_str())
        .bind(p.start_date.format("%Y-%m-%d").to_string())
        .bind(p.end_date.map(|d| d.format("%Y-%m-%d").to_string()))
        .bind(p.recurrence.is_some())
        .bind(due_min)
        .bind(due_max)
        .bind(search_text(p))
        .bind(p.version)
        .bind(sortable(&p.updated_at))
        .bind(to_json(p)?)
        .execute(self.docs.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, id: &str, expected_version: i64) -> Result<bool, StoreError> {
        self.docs.delete(id, expected_version).await
    }

    async fn list(&self, q: &ListQuery) -> Result<Vec<Plan>, StoreError> {
        let mut b: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT doc FROM plans WHERE owner_id = ");
        b.push_bind(&q.owner);
        if let Some(text) = &q.q {
            push_any_word(&mut b, text);
        }
        if let Some(s) = q.status {
            b.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(tag) = &q.tag {
            push_has_tag(&mut b, tag);
        }
        if let Some(to) = &q.to {
            b.push(" AND start_date <= ").push_bind(to);
        }
        if let Some(from) = &q.from {
            b.push(" AND COALESCE(end_date, start_date) >= ")
                .push_bind(from);
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

    async fn schedule_candidates(
        &self,
        owner: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Plan>, StoreError> {
        let rows = sqlx::query(
            "SELECT doc FROM plans WHERE owner_id = $1
               AND (recurring = 1 OR (due_max >= $2 AND due_min < $3))",
        )
        .bind(owner)
        .bind(from)
        .bind(to)
        .fetch_all(self.docs.pool())
        .await?;
        parse_rows(&rows)
    }

    async fn claim_key(
        &self,
        owner: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let mut tx = self.docs.pool().begin().await?;
        // Forget expired records and claims abandoned by a crashed request.
        sqlx::query(
            "DELETE FROM plan_idempotency WHERE owner_id = $1 AND key = $2
               AND (expires_at < $3
                    OR (response IS NULL AND created_at < $4 AND request_hash = $5))",
        )
        .bind(owner)
        .bind(key)
        .bind(sortable(&now))
        .bind(sortable(&(now - CLAIM_TIMEOUT)))
        .bind(request_hash)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO plan_idempotency (owner_id, key, request_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(owner)
        .bind(key)
        .bind(request_hash)
        .bind(sortable(&now))
        .bind(sortable(&(now + KEY_TTL)))
        .execute(&mut *tx)
        .await?;
        let claim = if inserted.rows_affected() == 1 {
            Claim::New
        } else {
            let row = sqlx::query(
                "SELECT request_hash, response FROM plan_idempotency WHERE owner_id = $1 AND key = $2",
            )
            .bind(owner)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            let hash: String = row.get("request_hash");
            match row.get::<Option<String>, _>("response") {
                _ if hash != request_hash => Claim::Mismatch,
                Some(response) => Claim::Done(response),
                None => Claim::InProgress,
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    async fn complete_key(&self, claim: &ClaimRef, response: &str) -> Result<(), StoreError> {
        let sql = "UPDATE plan_idempotency SET response = $4
                   WHERE owner_id = $1 AND key = $2 AND created_at = $3";
        self.on_claim(sql, claim, Some(response.to_owned())).await
    }

    async fn abandon_key(&self, claim: &ClaimRef) -> Result<(), StoreError> {
        let sql = "UPDATE plan_idempotency SET created_at = $4
                   WHERE owner_id = $1 AND key = $2 AND created_at = $3 AND response IS NULL";
        let abandoned_at = sortable(&super::ABANDONED_AT);
        self.on_claim(sql, claim, Some(abandoned_at)).await
    }

    async fn release_key(&self, claim: &ClaimRef) -> Result<(), StoreError> {
        let sql = "DELETE FROM plan_idempotency
                   WHERE owner_id = $1 AND key = $2 AND created_at = $3 AND response IS NULL";
        self.on_claim(sql, claim, None).await
    }
}

impl SqlitePlanStore {
    /// Runs `sql` on `claim`'s idempotency record: `$1`–`$3` are the claim, `$4` is `value`.
    async fn on_claim(
        &self,
        sql: &'static str,
        claim: &ClaimRef,
        value: Option<String>,
    ) -> Result<(), StoreError> {
        let mut query = sqlx::query(sql)
            .bind(&claim.owner)
            .bind(&claim.key)
            .bind(sortable(&claim.claimed_at));
        if let Some(value) = value {
            query = query.bind(value);
        }
        query.execute(self.docs.pool()).await?;
        Ok(())
    }
}
