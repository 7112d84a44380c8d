//! The embedded default's storage: one SQLite file shared by every service in the process.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Where the embedded default keeps its data unless told otherwise.
pub const DEFAULT_SQLITE_PATH: &str = ".plangen/plangen.db";

/// The SQLite path named by a `sqlite:` URL (or a bare path).
pub fn sqlite_path(url: &str) -> PathBuf {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(path.split('?').next().unwrap_or(path))
}

/// Opens (creating if needed) the SQLite file with WAL, a busy timeout and foreign keys.
pub async fn open_sqlite(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
    }
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
}

/// Ends a list query with keyset pagination: rows strictly after `after` in the order
/// (`col`, `id`) — ties on the sort column broken by id, so no row is skipped or repeated — then
/// the order and the limit. `col` is a column name the caller chose, never client input.
pub fn push_keyset_page(
    b: &mut sqlx::QueryBuilder<sqlx::Sqlite>,
    col: &str,
    direction: crate::rest::Direction,
    after: Option<&crate::rest::Cursor>,
    limit: u32,
) {
    let (cmp, dir) = match direction {
        crate::rest::Direction::Asc => (">", "ASC"),
        crate::rest::Direction::Desc => ("<", "DESC"),
    };
    if let Some(c) = after {
        b.push(format_args!(" AND ({col} {cmp} "))
            .push_bind(c.k.clone())
            .push(format_args!(" OR ({col} = "))
            .push_bind(c.k.clone())
            .push(format_args!(" AND id {cmp} "))
            .push_bind(c.i.clone())
            .push("))");
    }
    b.push(format_args!(" ORDER BY {col} {dir}, id {dir} LIMIT "))
        .push_bind(i64::from(limit));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_and_bare_paths_name_the_file() {
        assert_eq!(
            sqlite_path("sqlite://data/x.db"),
            PathBuf::from("data/x.db")
        );
        assert_eq!(sqlite_path("sqlite:x.db?mode=rwc"), PathBuf::from("x.db"));
        assert_eq!(sqlite_path("/tmp/x.db"), PathBuf::from("/tmp/x.db"));
    }
}
