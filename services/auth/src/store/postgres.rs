//! PostgreSQL backend (production).

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use super::sql::impl_user_store;

/// Its own migrations table, so several services can share one database.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations_auth";

pub struct PostgresUserStore {
    pool: PgPool,
}

impl PostgresUserStore {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    fn migrator() -> Migrator {
        let mut m = sqlx::migrate!("./migrations/postgres");
        m.dangerous_set_table_name(MIGRATIONS_TABLE);
        m
    }
}

impl_user_store!(PostgresUserStore);
