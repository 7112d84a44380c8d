//! The gateway's configuration, from the seed's environment variables.

use std::path::PathBuf;
use std::time::Duration;

use http::Uri;
use plangen_core::config::{ConfigError, Env, RedisConfig, Secret};

pub const DEFAULT_PORT: u16 = 3000;
pub const DEFAULT_SPA_DIR: &str = "frontend/dist";

/// One upstream service and the public path family it serves.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Short name for logs, metrics and `/readyz` (`auth`, `plan`, `template`).
    pub name: &'static str,
    /// The upstream's base URL (`http://host:port`, optionally with a base path).
    pub url: Uri,
    /// What clients call (`/api/v1/plans`).
    pub public_prefix: &'static str,
    /// What the upstream serves (`/api/plans`).
    pub upstream_prefix: &'static str,
    pub connect_timeout: Duration,
    /// Until the upstream's response headers arrive, retries included.
    pub timeout: Duration,
    /// Whether a valid access token is required at the edge.
    pub requires_token: bool,
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Requests per window per user (valid token) or per client IP.
    pub max_requests: u64,
    pub window: Duration,
    /// The separate, stricter budget for login, register and refresh, per client IP.
    pub auth_max_requests: u64,
    /// Let requests through when the counter store (Redis) is unreachable.
    pub fail_open: bool,
}

#[derive(Debug, Clone)]
pub struct BreakerConfig {
    /// Consecutive transport failures (refused, reset, timed out) that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker answers 503 before letting one probe through.
    pub cooldown: Duration,
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub port: u16,
    pub auth: UpstreamConfig,
    pub plan: UpstreamConfig,
    pub template: UpstreamConfig,
    /// The SPA's built files; when `index.html` is missing, `/` explains the API instead.
    pub spa_dir: PathBuf,
    pub allowed_origins: Vec<String>,
    /// Proxies in front that append to `X-Forwarded-For` (`TRUST_FORWARDED_FOR`; 1 behind an
    /// ingress): with any, an incoming `X-Forwarded-For`/`-Proto`/`-Host` is kept instead of
    /// replaced, and the client is the address the outermost one saw.
    pub forwarded_hops: u8,
    pub max_body_bytes: u64,
    pub rate_limit: RateLimitConfig,
    pub redis: Option<RedisConfig>,
    pub access_token_secret: Secret,
    /// Accept tokens when the session deny-list cannot be read (Redis down) instead of 503.
    pub deny_list_fail_open: bool,
    /// Extra attempts for idempotent requests without a body, within the retry budget.
    pub retries: u32,
    pub breaker: BreakerConfig,
    /// Worker threads of the gateway's server, each serving its connections on its own
    /// runtime (default: the CPUs this process may use, CPU quota included).
    pub workers: usize,
    /// How long a client connection may go without sending a request head once its last
    /// response ended (Slowloris protection; also closes idle keep-alive connections).
    pub client_header_timeout: Duration,
}

impl GatewayConfig {
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        Self::from_env_with(env, None)
    }

    /// As [`from_env`](Self::from_env), with the access-token secret to use when
    /// `ACCESS_TOKEN_SECRET` is unset (the embedded default shares the auth service's).
    pub fn from_env_with(
        mut env: Env,
        default_secret: Option<&Secret>,
    ) -> Result<Self, ConfigError> {
        let port = env.port("PORT", DEFAULT_PORT);
        let connect_timeout = env.millis_or("UPSTREAM_CONNECT_TIMEOUT_MS", Duration::from_secs(2));
        let timeout = env.millis_or("UPSTREAM_TIMEOUT_MS", Duration::from_secs(30));
        let upstream = |env: &mut Env,
                        var: &str,
                        name: &'static str,
                        default_url: &str,
                        public_prefix: &'static str,
                        upstream_prefix: &'static str,
                        requires_token: bool| {
            let raw = env.get(var).unwrap_or_else(|| default_url.to_owned());
            let url = match parse_upstream_url(&raw) {
                Ok(u) => u,
                Err(why) => {
                    env.problem(format!("{var}={raw:?} {why}"));
                    Uri::from_static("http://127.0.0.1:1")
                }
            };
            let prefix = var.to_owned();
            UpstreamConfig {
                name,
                url,
                public_prefix,
                upstream_prefix,
                connect_timeout: env
                    .millis_or(&format!("{prefix}_CONNECT_TIMEOUT_MS"), connect_timeout),
                timeout: env.millis_or(&format!("{prefix}_TIMEOUT_MS"), timeout),
                requires_token,
            }
        };
        let auth = upstream(
            &mut env,
            "AUTH",
            "auth",
            "http://127.0.0.1:3001",
            "/api/v1/auth",
            "/api/auth",
            false,
        );
        let plan = upstream(
            &mut env,
            "PLAN",
            "plan",
            "http://127.0.0.1:3003",
            "/api/v1/plans",
            "/api/plans",
            true,
        );
        let template = upstream(
            &mut env,
            "TEMPLATE",
            "template",
            "http://127.0.0.1:3002",
            "/api/v1/templates",
            "/api/templates",
            true,
        );
        let spa_dir = env
            .get("PLANGEN_SPA_DIR")
            .unwrap_or_else(|| DEFAULT_SPA_DIR.to_owned())
            .into();
        let allowed_origins = env.list("ALLOWED_ORIGINS");
        if allowed_origins.iter().any(|o| o == "*") {
            env.problem(
                "ALLOWED_ORIGINS must list origins explicitly: `*` is refused because credentials are allowed",
            );
        }
        let forwarded_hops = plangen_core::forwarded::forwarded_hops(&mut env);
        let max_body_bytes = env.parse_or("MAX_BODY_BYTES", 10 * 1024 * 1024, "a number of bytes");
        let rate_limit = RateLimitConfig {
            max_requests: env.parse_or("RATE_LIMIT_MAX_REQUESTS", 300, "a number"),
            window: env.millis_or("RATE_LIMIT_WINDOW_MS", Duration::from_secs(60)),
            auth_max_requests: env.parse_or("AUTH_RATE_LIMIT_MAX_REQUESTS", 20, "a number"),
            fail_open: env.bool_or("RATE_LIMIT_FAIL_OPEN", true),
        };
        if rate_limit.max_requests == 0 || rate_limit.auth_max_requests == 0 {
            env.problem("RATE_LIMIT_MAX_REQUESTS and AUTH_RATE_LIMIT_MAX_REQUESTS must be > 0");
        }
        let redis = RedisConfig::from_env(&mut env);
        let access_token_secret = env.secret("ACCESS_TOKEN_SECRET", default_secret);
        let deny_list_fail_open = env.bool_or("DENY_LIST_FAIL_OPEN", false);
        let retries = env.parse_or("UPSTREAM_RETRIES", 1, "a number");
        let breaker = BreakerConfig {
            failure_threshold: env
                .parse_or("BREAKER_FAILURE_THRESHOLD", 5, "a number")
                .max(1),
            cooldown: env.millis_or("BREAKER_COOLDOWN_MS", Duration::from_secs(5)),
        };
        let workers = env.parse_or("GATEWAY_WORKERS", default_workers(), "a number of threads");
        if workers == 0 {
            env.problem("GATEWAY_WORKERS must be at least 1");
        }
        let client_header_timeout =
            env.millis_or("CLIENT_HEADER_TIMEOUT_MS", Duration::from_secs(30));
        env.finish()?;
        Ok(Self {
            port,
            auth,
            plan,
            template,
            spa_dir,
            allowed_origins,
            forwarded_hops,
            max_body_bytes,
            rate_limit,
            redis,
            access_token_secret,
            deny_list_fail_open,
            retries,
            breaker,
            workers,
            client_header_timeout,
        })
    }

    pub fn upstreams(&self) -> [&UpstreamConfig; 3] {
        [&self.auth, &self.plan, &self.template]
    }
}

/// One worker per CPU the process may use (`available_parallelism` honours affinity and a
/// cgroup CPU quota, as in a container with a CPU limit).
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Only plain `http://` upstreams: services sit on the same host or cluster network, and the
/// connector has no TLS (terminate TLS at the ingress, in front of the gateway).
fn parse_upstream_url(raw: &str) -> Result<Uri, &'static str> {
    let uri: Uri = raw.parse().map_err(|_| "is not a URL")?;
    if uri.scheme_str() != Some("http") {
        return Err("must be an http:// URL");
    }
    if uri.authority().is_none() {
        return Err("has no host");
    }
    if uri.query().is_some() {
        return Err("must not have a query string");
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut vars = vec![("ACCESS_TOKEN_SECRET", "a".repeat(32))];
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        Env::from_map(vars)
    }

    #[test]
    fn defaults_follow_the_seed() {
        let c = GatewayConfig::from_env(env(&[])).unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(c.auth.url, "http://127.0.0.1:3001/");
        assert_eq!(c.template.url, "http://127.0.0.1:3002/");
        assert_eq!(c.plan.url, "http://127.0.0.1:3003/");
        assert_eq!(c.rate_limit.max_requests, 300);
        assert_eq!(c.rate_limit.window, Duration::from_secs(60));
        assert_eq!(c.rate_limit.auth_max_requests, 20);
        assert!(c.rate_limit.fail_open);
        assert_eq!(c.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(c.plan.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.plan.timeout, Duration::from_secs(30));
        assert_eq!(c.spa_dir, PathBuf::from("frontend/dist"));
        assert_eq!(c.forwarded_hops, 0);
        assert!(!c.auth.requires_token && c.plan.requires_token && c.template.requires_token);
    }

    #[test]
    fn per_upstream_timeouts_override_the_global_ones() {
        let c = GatewayConfig::from_env(env(&[
            ("UPSTREAM_TIMEOUT_MS", "5000"),
            ("PLAN_TIMEOUT_MS", "250"),
        ]))
        .unwrap();
        assert_eq!(c.plan.timeout, Duration::from_millis(250));
        assert_eq!(c.auth.timeout, Duration::from_secs(5));
    }

    #[test]
    fn bad_values_are_all_reported_together() {
        let err = GatewayConfig::from_env(Env::from_map([
            ("PLAN", "https://plan:3003"),
            ("AUTH", "not a url"),
            ("ALLOWED_ORIGINS", "*"),
            ("RATE_LIMIT_WINDOW_MS", "0"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for needle in [
            "PLAN=",
            "AUTH=",
            "ALLOWED_ORIGINS",
            "RATE_LIMIT_WINDOW_MS",
            "ACCESS_TOKEN_SECRET is required",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn a_default_secret_stands_in_for_an_unset_one() {
        let secret = Secret::new("s".repeat(32));
        let c =
            GatewayConfig::from_env_with(Env::from_map([("PORT", "0")]), Some(&secret)).unwrap();
        assert_eq!(c.access_token_secret, secret);
    }
}
