//! The plan service's configuration, from the seed's environment variables.

use std::time::Duration;

use plangen_core::config::{ConfigError, Env, RedisConfig, Secret};
use plangen_core::validate::is_http_url;

pub const DEFAULT_PORT: u16 = 3003;
pub const DEFAULT_COLLECTION: &str = "plans";
pub const DEFAULT_TEMPLATE_URL: &str = "http://127.0.0.1:3002";

pub use plangen_core::mongo::{DocumentDatabase as Database, database_from_env};

#[derive(Debug, Clone)]
pub struct PlanConfig {
    pub port: u16,
    pub database: Database,
    pub redis: Option<RedisConfig>,
    pub access_token_secret: Secret,
    pub allowed_origins: Vec<String>,
    /// Accept tokens when the session deny-list cannot be read (Redis down) instead of 503.
    pub deny_list_fail_open: bool,
    /// Base URL of the template service (`TEMPLATE`).
    pub template_url: String,
    /// Total timeout of a call to the template service (`TEMPLATE_TIMEOUT_MS`, default 5 s).
    pub template_timeout: Duration,
    /// How long a request may take (`REQUEST_TIMEOUT_MS`, default 10 s).
    pub request_timeout: Duration,
}

impl PlanConfig {
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
        let template_url = env
            .get("TEMPLATE")
            .unwrap_or_else(|| DEFAULT_TEMPLATE_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !is_http_url(&template_url) {
            env.problem(format!("TEMPLATE={template_url:?} is not an http(s) URL"));
        }
        let template_timeout = env.millis_or("TEMPLATE_TIMEOUT_MS", Duration::from_secs(5));
        let request_timeout = plangen_core::config::request_timeout(&mut env);
        // A claim on an Idempotency-Key is taken over once it is this old: its request must
        // have ended by then, or two attempts could run at once.
        let claim_timeout = crate::store::CLAIM_TIMEOUT
            .to_std()
            .expect("a positive duration");
        if request_timeout >= claim_timeout {
            env.problem(format!(
                "REQUEST_TIMEOUT_MS must be under {} (after that an unfinished Idempotency-Key \
                 claim is taken over)",
                claim_timeout.as_millis()
            ));
        }
        env.finish()?;
        Ok(Self {
            port,
            database,
            redis,
            access_token_secret,
            allowed_origins,
            deny_list_fail_open,
            template_url,
            template_timeout,
            request_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plangen_core::sqlite::DEFAULT_SQLITE_PATH;

    #[test]
    fn defaults_to_sqlite_on_3003_and_the_local_template_service() {
        let env = Env::from_map([("ACCESS_TOKEN_SECRET", "a".repeat(32))]);
        let c = PlanConfig::from_env(env).unwrap();
        assert_eq!(c.port, 3003);
        assert_eq!(c.database, Database::Sqlite(DEFAULT_SQLITE_PATH.into()));
        assert_eq!(c.template_url, "http://127.0.0.1:3002");
        assert_eq!(c.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn a_request_must_end_before_its_idempotency_claim_can_be_taken_over() {
        let with_timeout = |ms: &str| {
            PlanConfig::from_env(Env::from_map([
                ("ACCESS_TOKEN_SECRET", "a".repeat(32)),
                ("REQUEST_TIMEOUT_MS", ms.to_owned()),
            ]))
        };
        assert_eq!(
            with_timeout("59999").unwrap().request_timeout,
            Duration::from_millis(59_999)
        );
        let text = with_timeout("60000").unwrap_err().to_string();
        assert!(
            text.contains("REQUEST_TIMEOUT_MS must be under 60000"),
            "{text}"
        );
        let text = with_timeout("0").unwrap_err().to_string();
        assert!(text.contains("REQUEST_TIMEOUT_MS"), "{text}");
    }

    #[test]
    fn mongo_settings_and_bad_values() {
        let env = Env::from_map([
            ("ACCESS_TOKEN_SECRET", "a".repeat(32)),
            ("DATABASE_URL", "mongodb+srv://cluster.example".into()),
            ("DATABASE_COLLECTION", "myplans".into()),
        ]);
        match PlanConfig::from_env(env).unwrap().database {
            Database::Mongo(m) => {
                assert_eq!(m.collection, "myplans");
                assert_eq!(m.database, "plangen");
                assert_eq!(m.max_pool_size, 20);
            }
            other => panic!("{other:?}"),
        }
        let env = Env::from_map([("TEMPLATE", "ftp://x"), ("MONGODB_TIMEOUT_MS", "0")]);
        let text = PlanConfig::from_env(env).unwrap_err().to_string();
        for name in ["TEMPLATE", "MONGODB_TIMEOUT_MS", "ACCESS_TOKEN_SECRET"] {
            assert!(text.contains(name), "{name}: {text}");
        }
    }
}
