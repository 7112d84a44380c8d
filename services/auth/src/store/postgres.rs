//! PostgreSQL backend (production).

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::sql::impl_user_store;

/// Its own migrations table, so several services can share one database.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations_auth";

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Well under the acquire timeout, so one acquire can pass over a silent idle connection.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// `Ok(true)` when the connection answers a ping within [`PING_TIMEOUT`]; an error closes it
/// without the goodbye a silent server would never read.
async fn answers_in_time(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    match tokio::time::timeout(PING_TIMEOUT, conn.ping()).await {
        Ok(answered) => answered.map(|()| true),
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no answer to a ping within 2 s",
        ))),
    }
}

pub struct PostgresUserStore {
    pool: PgPool,
}

impl PostgresUserStore {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx's own liveness pings wait without bound: on a connection whose server went
            // silent (a dropped NAT entry, a dead peer) a ping before use would spend the
            // whole acquire timeout, and the ping after an abandoned query would hold the
            // pool slot until TCP gives up (~15 min). These bounded pings drop it instead.
            .test_before_acquire(false)
            .before_acquire(|conn, _| Box::pin(answers_in_time(conn)))
            .after_release(|conn, _| Box::pin(answers_in_time(conn)))
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
