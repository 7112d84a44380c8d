//! What the MongoDB-backed services (plan, template) share: where their documents live
//! (`DATABASE_URL` → MongoDB or the embedded SQLite file), client options ready for a replica
//! set, and the `id` ⇄ `_id` mapping of stored documents.

use std::path::PathBuf;
use std::time::Duration;

use mongodb::bson::{self, Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, WriteConcern};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Env;
use crate::sqlite::{DEFAULT_SQLITE_PATH, sqlite_path};

/// How to reach MongoDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoSettings {
    pub url: String,
    pub database: String,
    pub collection: String,
    pub max_pool_size: u32,
    /// Connect and server-selection timeout.
    pub timeout: Duration,
}

/// Where a document service keeps its documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentDatabase {
    Mongo(MongoSettings),
    Sqlite(PathBuf),
}

/// `DATABASE_URL` → backend: `mongodb://`/`mongodb+srv://` → MongoDB (with `DATABASE_NAME`,
/// `DATABASE_COLLECTION`, `MONGODB_MAX_POOL_SIZE`, `MONGODB_TIMEOUT_MS`); `sqlite:` or unset →
/// the SQLite file.
pub fn database_from_env(env: &mut Env, default_collection: &str) -> DocumentDatabase {
    let max_pool_size = env.parse_or("MONGODB_MAX_POOL_SIZE", 20u32, "a number");
    let timeout = env.millis_or("MONGODB_TIMEOUT_MS", Duration::from_secs(5));
    if max_pool_size == 0 {
        env.problem("MONGODB_MAX_POOL_SIZE must be greater than 0");
    }
    match env.get("DATABASE_URL") {
        Some(url) if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") => {
            DocumentDatabase::Mongo(MongoSettings {
                url,
                database: env.get("DATABASE_NAME").unwrap_or_else(|| "plangen".into()),
                collection: env
                    .get("DATABASE_COLLECTION")
                    .unwrap_or_else(|| default_collection.into()),
                max_pool_size,
                timeout,
            })
        }
        Some(url) if url.starts_with("sqlite:") => DocumentDatabase::Sqlite(sqlite_path(&url)),
        Some(_) => {
            env.problem("DATABASE_URL must be a mongodb://, mongodb+srv:// or sqlite: URL");
            DocumentDatabase::Sqlite(DEFAULT_SQLITE_PATH.into())
        }
        None => DocumentDatabase::Sqlite(DEFAULT_SQLITE_PATH.into()),
    }
}

/// Client options from the URL, with our defaults where the URL says nothing: majority writes
/// and retryable reads/writes, so the service is ready for a replica set.
pub async fn client_options(
    settings: &MongoSettings,
    app: &str,
) -> mongodb::error::Result<ClientOptions> {
    let mut opts = ClientOptions::parse(&settings.url).await?;
    opts.app_name.get_or_insert_with(|| app.to_owned());
    opts.max_pool_size = Some(settings.max_pool_size);
    opts.connect_timeout = Some(settings.timeout);
    opts.server_selection_timeout = Some(settings.timeout);
    opts.retry_writes.get_or_insert(true);
    opts.retry_reads.get_or_insert(true);
    opts.write_concern
        .get_or_insert_with(WriteConcern::majority);
    Ok(opts)
}

/// The stored document: `value` with its `id` field as `_id`.
pub fn to_doc<T: Serialize>(value: &T) -> Result<Document, String> {
    let mut d = bson::to_document(value).map_err(|e| e.to_string())?;
    let id = d.remove("id").unwrap_or(Bson::Null);
    let mut out = doc! { "_id": id };
    out.extend(d);
    Ok(out)
}

/// The value back from a stored document (`_id` as `id`; extra stored fields are ignored by
/// the type's `Deserialize`).
pub fn from_doc<T: DeserializeOwned>(mut d: Document) -> Result<T, String> {
    if let Some(id) = d.remove("_id") {
        d.insert("id", id);
    }
    bson::from_document(d).map_err(|e| e.to_string())
}

/// The errors of a document store (SQLite or MongoDB) of the plan and template services.
#[derive(Debug, thiserror::Error)]
pub enum DocumentStoreError {
    #[error("a document with this id already exists")]
    Conflict,
    #[error("database error: {0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("mongodb error: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("stored document is malformed: {0}")]
    Corrupt(String),
}

impl DocumentStoreError {
    /// The database cannot be reached (as opposed to refusing a request): a 503, not a 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Sqlite(e) => crate::error::sqlx_unreachable(e),
            Self::Mongo(e) => {
                matches!(
                    &*e.kind,
                    ErrorKind::ServerSelection { .. }
                        | ErrorKind::Io(_)
                        | ErrorKind::ConnectionPoolCleared { .. }
                ) || e.contains_label("RetryableWriteError")
            }
            _ => false,
        }
    }

    /// The answer for the client: 409 for an id taken, 503 when the database is unreachable,
    /// else 500 (the cause is logged, not shown). `noun` names the documents (`plan`).
    pub fn problem(self, noun: &str) -> crate::Problem {
        match self {
            Self::Conflict => crate::Problem::new(crate::ProblemKind::Conflict)
                .detail(format!("a {noun} with this id already exists")),
            e if e.is_unavailable() => {
                crate::Problem::unavailable(&format!("the {noun} database"), e)
            }
            other => crate::Problem::internal(other),
        }
    }
}

/// Whether a write failed on a unique index (code 11000).
pub fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    matches!(&*e.kind, ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == 11000)
        || matches!(&*e.kind, ErrorKind::Command(c) if c.code == 11000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Thing {
        id: String,
        name: String,
    }

    #[test]
    fn ids_are_stored_as_underscore_id_and_read_back() {
        let t = Thing {
            id: "0190".into(),
            name: "x".into(),
        };
        let d = to_doc(&t).unwrap();
        assert_eq!(d.get_str("_id").unwrap(), "0190");
        assert!(d.get("id").is_none());
        assert_eq!(
            d.keys().next().unwrap(),
            "_id",
            "_id first, as MongoDB stores it"
        );
        assert_eq!(from_doc::<Thing>(d).unwrap(), t);
    }

    #[test]
    fn the_database_follows_database_url() {
        let mut env = Env::from_map([
            ("DATABASE_URL", "mongodb://db:27017/?replicaSet=rs0"),
            ("DATABASE_NAME", "p"),
        ]);
        match database_from_env(&mut env, "templates") {
            DocumentDatabase::Mongo(m) => {
                assert_eq!(
                    (m.database.as_str(), m.collection.as_str(), m.max_pool_size),
                    ("p", "templates", 20)
                );
            }
            other => panic!("{other:?}"),
        }
        let mut env = Env::from_map([("DATABASE_URL", "mysql://x")]);
        database_from_env(&mut env, "plans");
        assert!(env.finish().is_err());
        let mut env = Env::from_map(std::iter::empty::<(String, String)>());
        assert_eq!(
            database_from_env(&mut env, "plans"),
            DocumentDatabase::Sqlite(DEFAULT_SQLITE_PATH.into())
        );
    }
}
