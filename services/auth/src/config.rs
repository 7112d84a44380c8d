//! The auth service's configuration, from the seed's environment variables.

use std::path::PathBuf;
use std::time::Duration;

use plangen_core::config::{ConfigError, Env, RedisConfig, Secret};
use plangen_core::sqlite::{DEFAULT_SQLITE_PATH, sqlite_path};

pub const DEFAULT_PORT: u16 = 3001;

/// Where users and sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Postgres(String),
    Sqlite(PathBuf),
}

#[derive(Debug, Clone)]
pub struct LoginThrottle {
    /// Failed logins per account within `window` before logins answer 429.
    pub max_failures_per_account: u64,
    /// Failed logins per client IP within `window` before logins answer 429.
    pub max_failures_per_ip: u64,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub port: u16,
    pub database: Database,
    pub redis: Option<RedisConfig>,
    pub access_token_secret: Secret,
    pub refresh_token_secret: Secret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long after a refresh token was rotated it may be presented again, as long as its
    /// replacement is unused (`REFRESH_TOKEN_REUSE_GRACE`, default 30 s; 0 turns it off): a
    /// client whose answer was lost retries with the token it still has.
    pub refresh_retry_grace: Duration,
    pub allowed_origins: Vec<String>,
    /// Accept the deny-listed-session check failing (Redis down) instead of answering 503.
    pub deny_list_fail_open: bool,
    pub login_throttle: LoginThrottle,
    /// Proxies in front that append to `X-Forwarded-For` (`TRUST_FORWARDED_FOR`: 1 behind the
    /// gateway alone, 2 behind the gateway behind an ingress); the client is the address the
    /// outermost one saw.
    pub forwarded_hops: u8,
    /// Argon2 hashes running at once; more wait, so a login storm cannot starve the runtime.
    pub max_concurrent_hashes: usize,
    /// How long a request may take (`REQUEST_TIMEOUT_MS`, default 10 s).
    pub request_timeout: Duration,
}

/// Secrets to use when none are configured (the embedded default generates and keeps them).
#[derive(Debug, Clone, Default)]
pub struct SecretDefaults {
    pub access: Option<Secret>,
    pub refresh: Option<Secret>,
}

impl AuthConfig {
    pub fn from_env(mut env: Env, defaults: &SecretDefaults) -> Result<Self, ConfigError> {
        let port = env.port("PORT", DEFAULT_PORT);
        let database = match env.get("DATABASE_URL") {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Database::Postgres(url)
            }
            Some(url) if url.starts_with("sqlite:") => Database::Sqlite(sqlite_path(&url)),
            Some(_) => {
                env.problem("DATABASE_URL must be a postgres:// or sqlite: URL");
                Database::Sqlite(DEFAULT_SQLITE_PATH.into())
            }
            None => Database::Sqlite(DEFAULT_SQLITE_PATH.into()),
        };
        let redis = RedisConfig::from_env(&mut env);
        let access_token_secret = env.secret("ACCESS_TOKEN_SECRET", defaults.access.as_ref());
        let refresh_token_secret = env.secret("REFRESH_TOKEN_SECRET", defaults.refresh.as_ref());
        if access_token_secret == refresh_token_secret && env.is_set("ACCESS_TOKEN_SECRET") {
            env.problem("ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET must differ");
        }
        let access_token_ttl = env.duration_or("ACCESS_TOKEN_EXP", Duration::from_secs(15 * 60));
        let refresh_token_ttl =
            env.duration_or("REFRESH_TOKEN_EXP", Duration::from_secs(7 * 86_400));
        let refresh_retry_grace = refresh_retry_grace(&mut env);
        let deny_list_fail_open = env.bool_or("DENY_LIST_FAIL_OPEN", false);
        let login_throttle = LoginThrottle {
            max_failures_per_account: env.parse_or("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, "a number"),
            max_failures_per_ip: env.parse_or("LOGIN_MAX_FAILURES_PER_IP", 50, "a number"),
            window: env.duration_or("LOGIN_FAILURE_WINDOW", Duration::from_secs(15 * 60)),
        };
        let forwarded_hops = plangen_core::forwarded::forwarded_hops(&mut env);
        let max_concurrent_hashes = env.parse_or(
            "PASSWORD_HASH_CONCURRENCY",
            std::thread::available_parallelism().map_or(2, |n| n.get()),
            "a number",
        );
        let allowed_origins = env.list("ALLOWED_ORIGINS");
        let request_timeout = plangen_core::config::request_timeout(&mut env);
        env.finish()?;
        Ok(Self {
            port,
            database,
            redis,
            access_token_secret,
            refresh_token_secret,
            access_token_ttl,
            refresh_token_ttl,
            refresh_retry_grace,
            allowed_origins,
            deny_list_fail_open,
            login_throttle,
            forwarded_hops,
            max_concurrent_hashes: max_concurrent_hashes.max(1),
            request_timeout,
        })
    }
}

/// The longest `REFRESH_TOKEN_REUSE_GRACE` allowed (as AWS Cognito's): a replayed token is only
/// told from a retry after it, so a longer one would hide token theft for longer.
pub const MAX_REFRESH_RETRY_GRACE: Duration = Duration::from_secs(60);

fn refresh_retry_grace(env: &mut Env) -> Duration {
    const NAME: &str = "REFRESH_TOKEN_REUSE_GRACE";
    let default = Duration::from_secs(30);
    match env.get(NAME) {
        None => default,
        Some(raw) if raw.trim() == "0" => Duration::ZERO,
        Some(raw) => match plangen_core::config::parse_duration(&raw) {
            Some(d) if d <= MAX_REFRESH_RETRY_GRACE => d,
            _ => {
                env.problem(format!(
                    "{NAME}={raw:?} must be 0 (off) or a duration of at most 60s (e.g. 30s)"
                ));
                default
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_sqlite_and_the_seed_lifetimes() {
        let env = Env::from_map([
            ("ACCESS_TOKEN_SECRET", "a".repeat(32)),
            ("REFRESH_TOKEN_SECRET", "r".repeat(32)),
        ]);
        let c = AuthConfig::from_env(env, &SecretDefaults::default()).unwrap();
        assert_eq!(c.port, 3001);
        assert_eq!(c.database, Database::Sqlite(DEFAULT_SQLITE_PATH.into()));
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(604_800));
        assert!(c.redis.is_none());
        assert!(!c.deny_list_fail_open);
        assert_eq!(c.refresh_retry_grace, Duration::from_secs(30));
    }

    #[test]
    fn the_refresh_retry_grace_can_be_turned_off_and_is_bounded() {
        let with = |value: &str| {
            AuthConfig::from_env(
                Env::from_map([
                    ("ACCESS_TOKEN_SECRET", "a".repeat(32)),
                    ("REFRESH_TOKEN_SECRET", "r".repeat(32)),
                    ("REFRESH_TOKEN_REUSE_GRACE", value.to_owned()),
                ]),
                &SecretDefaults::default(),
            )
        };
        assert_eq!(with("0").unwrap().refresh_retry_grace, Duration::ZERO);
        // Every form the operator's CRD lets through (its pattern, checked in chart.sh).
        assert_eq!(with("0s").unwrap().refresh_retry_grace, Duration::ZERO);
        assert_eq!(
            with("10s").unwrap().refresh_retry_grace,
            Duration::from_secs(10)
        );
        for sixty in ["60s", "1m"] {
            assert_eq!(
                with(sixty).unwrap().refresh_retry_grace,
                Duration::from_secs(60)
            );
        }
        for refused in ["2m", "61s", "soon", "-1"] {
            let text = with(refused).unwrap_err().to_string();
            assert!(
                text.contains("REFRESH_TOKEN_REUSE_GRACE") && text.contains("at most 60s"),
                "{refused}: {text}"
            );
        }
    }

    #[test]
    fn missing_and_short_secrets_are_refused_together() {
        let env = Env::from_map([
            ("ACCESS_TOKEN_SECRET", "short".to_owned()),
            ("DATABASE_URL", "mysql://x".to_owned()),
        ]);
        let err = AuthConfig::from_env(env, &SecretDefaults::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("ACCESS_TOKEN_SECRET is too short"), "{text}");
        assert!(text.contains("REFRESH_TOKEN_SECRET is required"), "{text}");
        assert!(text.contains("DATABASE_URL"), "{text}");
    }
}
