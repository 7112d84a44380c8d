//! The template service's configuration, from the seed's environment variables.

use std::path::PathBuf;
use std::time::Duration;

use plangen_core::config::{ConfigError, Env, RedisConfig, Secret};
use plangen_core::sqlite::{DEFAULT_SQLITE_PATH, sqlite_path};

use crate::store::MongoSettings;

pub const DEFAULT_PORT: u16 = 3002;
pub const DEFAULT_COLLECTION: &str = "templates";

/// Where templates live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Mongo(MongoSettings),
    Sqlite(PathBuf),
}

#[derive(Debug, Clone)]
pub struct TemplateConfig {
    pub port: u16,
    pub database: Database,
    pub redis: Option<RedisConfig>,
    pub access_token_secret: Secret,
    pub allowed_origins: Vec<String>,
    /// Accept tokens when the session deny-list cannot be read (Redis down) instead of 503.
    pub deny_list_fail_open: bool,
}

/// `DATABASE_URL` → backend: `mongodb://`/`mongodb+srv://` → MongoDB (with `DATABASE_NAME`,
/// `DATABASE_COLLECTION`, `MONGODB_MAX_POOL_SIZE`, `MONGODB_TIMEOUT_MS`); `sqlite:` or unset →
/// the SQLite file. Shared with the plan service's config (which has its own copy).
pub fn database_from_env(env: &mut Env, default_collection: &str) -> Database {
    let max_pool_size = env.parse_or("MONGODB_MAX_POOL_SIZE", 20u32, "a number");
    let timeout = env.millis_or("MONGODB_TIMEOUT_MS", Duration::from_secs(5));
    if max_pool_size == 0 {
        env.problem("MONGODB_MAX_POOL_SIZE must be greater than 0");
    }
    match env.get("DATABASE_URL") {
        Some(url) if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") => {
            Database::Mongo(MongoSettings {
                url,
                database: env.get("DATABASE_NAME").unwrap_or_else(|| "plangen".into()),
                collection: env
                    .get("DATABASE_COLLECTION")
                    .unwrap_or_else(|| default_collection.into()),
                max_pool_size,
                timeout,
            })
        }
        Some(url) if url.starts_with("sqlite:") => Database::Sqlite(sqlite_path(&url)),
        Some(_) => {
            env.problem("DATABASE_URL must be a mongodb://, mongodb+srv:// or sqlite: URL");
            Database::Sqlite(DEFAULT_SQLITE_PATH.into())
        }
        None => Database::Sqlite(DEFAULT_SQLITE_PATH.into()),
    }
}

impl TemplateConfig {
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        Self::from_env_with(env, None)
    }

    /// As [`from_env`](Self::from_env), with a secret to use when `ACCESS_TOKEN_SECRET` is
    /// unset (the embedded default generates one for every service).
    pub fn from_env_with(
        mut env: Env,
        access_secret: Option<&Secret>,
    ) -> Result<Self, ConfigError> {
        let port = env.port("PORT", DEFAULT_PORT);
        let database = database_from_env(&mut env, DEFAULT_COLLECTION);
        let redis = RedisConfig::from_env(&mut env);
        let access_token_secret = env.secret("ACCESS_TOKEN_SECRET", access_secret);
        let deny_list_fail_open = env.bool_or("DENY_LIST_FAIL_OPEN", false);
        let allowed_origins = env.list("ALLOWED_ORIGINS");
        env.finish()?;
        Ok(Self {
            port,
            database,
            redis,
            access_token_secret,
            allowed_origins,
            deny_list_fail_open,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_sqlite_on_3002() {
        let env = Env::from_map([("ACCESS_TOKEN_SECRET", "a".repeat(32))]);
        let c = TemplateConfig::from_env(env).unwrap();
        assert_eq!(c.port, 3002);
        assert_eq!(c.database, Database::Sqlite(DEFAULT_SQLITE_PATH.into()));
    }

    #[test]
    fn mongo_urls_take_name_collection_pool_and_timeout() {
        let env = Env::from_map([
            ("ACCESS_TOKEN_SECRET", "a".repeat(32)),
            ("DATABASE_URL", "mongodb://db:27017".into()),
            ("DATABASE_NAME", "pg".into()),
            ("MONGODB_MAX_POOL_SIZE", "7".into()),
            ("MONGODB_TIMEOUT_MS", "1500".into()),
        ]);
        let c = TemplateConfig::from_env(env).unwrap();
        assert_eq!(
            c.database,
            Database::Mongo(MongoSettings {
                url: "mongodb://db:27017".into(),
                database: "pg".into(),
                collection: "templates".into(),
                max_pool_size: 7,
                timeout: Duration::from_millis(1500),
            })
        );
    }

    #[test]
    fn bad_values_are_all_reported() {
        let env = Env::from_map([
            ("DATABASE_URL", "postgres://x"),
            ("MONGODB_MAX_POOL_SIZE", "many"),
            ("PORT", "x"),
        ]);
        let text = TemplateConfig::from_env(env).unwrap_err().to_string();
        for name in [
            "DATABASE_URL",
            "MONGODB_MAX_POOL_SIZE",
            "PORT",
            "ACCESS_TOKEN_SECRET",
        ] {
            assert!(text.contains(name), "{name}: {text}");
        }
    }
}
