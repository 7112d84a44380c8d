//! The template service's configuration, from the seed's environment variables.

use plangen_core::config::{ConfigError, Env, RedisConfig, Secret};

pub const DEFAULT_PORT: u16 = 3002;
pub const DEFAULT_COLLECTION: &str = "templates";

pub use plangen_core::mongo::{DocumentDatabase as Database, database_from_env};

#[derive(Debug, Clone)]
pub struct TemplateConfig {
    pub port: u16,
    pub database: Database,
    pub redis: Option<RedisConfig>,
    pub access_token_secret: Secret,
    pub allowed_origins: Vec<String>,
    /// Accept tokens when the session deny-list cannot be read (Redis down) instead of 503.
    pub deny_list_fail_open: bool,
    /// How long a request may take (`REQUEST_TIMEOUT_MS`, default 10 s).
    pub request_timeout: std::time::Duration,
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
        let request_timeout = plangen_core::config::request_timeout(&mut env);
        env.finish()?;
        Ok(Self {
            port,
            database,
            redis,
            access_token_secret,
            allowed_origins,
            deny_list_fail_open,
            request_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plangen_core::mongo::MongoSettings;
    use plangen_core::sqlite::DEFAULT_SQLITE_PATH;
    use std::time::Duration;

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
