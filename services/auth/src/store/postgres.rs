//! PostgreSQL backend (production).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::sql::impl_user_store;

/// Its own migrations table, so several services can share one database.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations_auth";

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Well under the acquire timeout, so one acquire can pass over a silent idle connection.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// A transaction whose client went silent mid-way is ended by the server after this, with its
/// row locks (a refresh cut off mid-rotation locks that session's rows), instead of when the
/// server's TCP keepalive gives up (~2 h). Well above any transaction of ours.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "30s";

/// When a ping last went unanswered (when that ping started). A silence usually strikes
/// every connection at once (it is the network path, not one socket), so connections made
/// before it are dropped at once instead of each costing a [`PING_TIMEOUT`].
#[derive(Default)]
struct SilenceMemory(Mutex<Option<Instant>>);

impl SilenceMemory {
    fn made_before_a_silence(&self, made: Instant) -> bool {
        let last = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        last.is_some_and(|silence| made <= silence)
    }

    fn noticed(&self, ping_started: Instant) {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some(last.map_or(ping_started, |at| at.max(ping_started)));
    }
}

/// `Ok(true)` when the connection answers a ping within [`PING_TIMEOUT`]; an error closes it
/// without the goodbye a silent server would never read.
async fn answers_in_time(
    conn: &mut PgConnection,
    meta: PoolConnectionMetadata,
    silence: &SilenceMemory,
) -> Result<bool, sqlx::Error> {
    let now = Instant::now();
    if silence.made_before_a_silence(now.checked_sub(meta.age).unwrap_or(now)) {
        return Err(timed_out("made before a connection went silent"));
    }
    match tokio::time::timeout(PING_TIMEOUT, conn.ping()).await {
        Ok(answered) => answered.map(|()| true),
        Err(_) => {
            silence.noticed(now);
            Err(timed_out("no answer to a ping within 2 s"))
        }
    }
}

fn timed_out(why: &'static str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, why))
}

pub struct PostgresUserStore {
    pool: PgPool,
}

impl PostgresUserStore {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let silence = Arc::new(SilenceMemory::default());
        let (before, after) = (silence.clone(), silence);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A SET rather than a startup option: PgBouncer refuses unknown startup options.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'"
                    )))
                    .execute(conn)
                    .await
                    .map(|_| ())
                })
            })
            // sqlx's own liveness pings wait without bound: on a connection whose server went
            // silent (a dropped NAT entry, a dead peer) a ping before use would spend the
            // whole acquire timeout, and the ping after an abandoned query would hold the
            // pool slot until TCP gives up (~15 min). These bounded pings drop it instead.
            // (sqlx still pings once more after `after_release` passes, without a bound; a
            // connection that goes silent in that instant keeps its slot until TCP gives up.)
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                let silence = before.clone();
                Box::pin(async move { answers_in_time(conn, meta, &silence).await })
            })
            .after_release(move |conn, meta| {
                let silence = after.clone();
                Box::pin(async move { answers_in_time(conn, meta, &silence).await })
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_connection_has_the_server_end_abandoned_transactions() {
        let Some(url) = plangen_core::testing::fresh_postgres_database().await else {
            return;
        };
        let store = PostgresUserStore::connect(&url).await.unwrap();
        // More than one connection: each is set up when it is made.
        let (a, b) = (store.pool.acquire().await, store.pool.acquire().await);
        for mut conn in [a.unwrap(), b.unwrap()] {
            let timeout: String = sqlx::query_scalar("SHOW idle_in_transaction_session_timeout")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(timeout, IDLE_IN_TRANSACTION_TIMEOUT);
        }
    }

    #[test]
    fn connections_made_before_a_silence_are_suspect_and_later_ones_are_not() {
        let memory = SilenceMemory::default();
        let old = Instant::now();
        assert!(!memory.made_before_a_silence(old), "no silence yet");
        let ping_started = old + Duration::from_millis(10);
        memory.noticed(ping_started);
        assert!(memory.made_before_a_silence(old));
        assert!(!memory.made_before_a_silence(ping_started + Duration::from_millis(1)));
        // An earlier ping timing out later does not move the mark back.
        memory.noticed(old);
        assert!(memory.made_before_a_silence(ping_started));
    }
}
