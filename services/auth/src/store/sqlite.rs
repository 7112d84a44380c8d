//! SQLite backend (the embedded default), sharing one file with the other services.

use std::path::Path;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;

use super::sql::impl_user_store;

/// Its own migrations table: the file is shared with the plan and template services.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations_auth";

pub struct SqliteUserStore {
    pool: SqlitePool,
}

impl SqliteUserStore {
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
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

impl_user_store!(SqliteUserStore);
