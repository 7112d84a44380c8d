//! Configuration from environment variables (the seed's names), validated at start.
//!
//! Every variable is read through [`Env`], which collects *all* problems so a misconfigured
//! service stops with one message naming every missing or malformed variable.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why the configuration was refused: one line per variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// A secret value: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub const MIN_LEN: usize = 32;

    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A fresh random secret (for the embedded default and tests).
    pub fn generate() -> Self {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reads variables from the process environment (or a map, in tests), collecting problems.
pub struct Env {
    vars: HashMap<String, String>,
    problems: Vec<String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self::from_map(std::env::vars())
    }

    pub fn from_map<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            problems: Vec::new(),
        }
    }

    /// The value, trimmed; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    pub fn required(&mut self, name: &str) -> Option<String> {
        let value = self.get(name);
        if value.is_none() {
            self.problem(format!("{name} is required but not set"));
        }
        value
    }

    /// Parses `name` if set, else returns `default`; a malformed value is recorded.
    pub fn parse_or<T: FromStr>(&mut self, name: &str, default: T, expected: &str) -> T {
        match self.get(name) {
            None => default,
            Some(raw) => match raw.parse() {
                Ok(v) => v,
                Err(_) => {
                    self.problem(format!("{name}={raw:?} is not {expected}"));
                    default
                }
            },
        }
    }

    pub fn port(&mut self, name: &str, default: u16) -> u16 {
        self.parse_or(name, default, "a port number (0-65535)")
    }

    pub fn bool_or(&mut self, name: &str, default: bool) -> bool {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                self.problem(format!("{name}={v:?} is not a boolean (true/false)"));
                default
            }
        }
    }

    /// A duration such as `15m`, `7d`, `30s`, `500ms` or a bare number of seconds.
    pub fn duration_or(&mut self, name: &str, default: Duration) -> Duration {
        match self.get(name) {
            None => default,
            Some(raw) => match parse_duration(&raw) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    self.problem(format!(
                        "{name}={raw:?} is not a duration (e.g. 30s, 15m, 12h, 7d)"
                    ));
                    default
                }
            },
        }
    }

    /// Milliseconds as a bare number (the seed's `RATE_LIMIT_WINDOW_MS`).
    pub fn millis_or(&mut self, name: &str, default: Duration) -> Duration {
        let ms: u64 = self.parse_or(name, default.as_millis() as u64, "a number of milliseconds");
        if ms == 0 {
            self.problem(format!("{name} must be greater than 0"));
            return default;
        }
        Duration::from_millis(ms)
    }

    /// A signing secret: required unless `fallback` is given, and at least 32 bytes.
    pub fn secret(&mut self, name: &str, fallback: Option<&Secret>) -> Secret {
        match self.get(name) {
            Some(v) if v.len() >= Secret::MIN_LEN => Secret::new(v),
            Some(v) => {
                // The length is safe to say; the value is not.
                self.problem(format!(
                    "{name} is too short ({} bytes; at least {} required)",
                    v.len(),
                    Secret::MIN_LEN
                ));
                Secret::generate()
            }
            None => match fallback {
                Some(secret) => secret.clone(),
                None => {
                    self.problem(format!("{name} is required but not set"));
                    Secret::generate()
                }
            },
        }
    }

    /// A comma-separated list.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ends reading: every problem found, or nothing.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

/// How long a service works on one request before it gives up with a 503 `timeout` problem:
/// shorter than the gateway's 30 s `UPSTREAM_TIMEOUT_MS`, so a caller learns which hop was slow.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `REQUEST_TIMEOUT_MS`, read the same way by every service.
pub fn request_timeout(env: &mut Env) -> Duration {
    env.millis_or("REQUEST_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT)
}

pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => return Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        "w" => n.checked_mul(7 * 86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// Where Redis is, from `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub host: String,
    pub port: u16,
    pub password: Option<Secret>,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl RedisConfig {
    /// `None` when `REDIS_HOST` is unset: the embedded default keeps shared state in process.
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let host = env.get("REDIS_HOST")?;
        let port = env.port("REDIS_PORT", 6379);
        let password = env.get("REDIS_PASSWORD").map(Secret::new);
        Some(Self {
            host,
            port,
            password,
        })
    }

    pub fn connection_info(&self) -> redis::ConnectionInfo {
        use redis::IntoConnectionInfo;
        let mut redis = redis::RedisConnectionInfo::default();
        if let Some(p) = &self.password {
            redis = redis.set_password(p.expose());
        }
        redis::ConnectionAddr::Tcp(self.host.clone(), self.port)
            .into_connection_info()
            .expect("a TCP address is always a valid connection info")
            .set_redis_settings(redis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut env = Env::from_map([
            ("PORT", "eighty"),
            ("ACCESS_TOKEN_SECRET", "short"),
            ("ACCESS_TOKEN_EXP", "15 parsecs"),
        ]);
        env.port("PORT", 3001);
        env.secret("ACCESS_TOKEN_SECRET", None);
        env.secret("REFRESH_TOKEN_SECRET", None);
        env.duration_or("ACCESS_TOKEN_EXP", Duration::from_secs(900));
        let err = env.finish().unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
        let text = err.to_string();
        assert!(text.contains("PORT=\"eighty\""));
        assert!(text.contains("ACCESS_TOKEN_SECRET is too short (5 bytes"));
        assert!(
            !text.contains("short\""),
            "the secret value must not be echoed: {text}"
        );
        assert!(text.contains("REFRESH_TOKEN_SECRET is required"));
        assert!(text.contains("ACCESS_TOKEN_EXP"));
    }

    #[test]
    fn durations_accept_the_usual_units() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1y"), None);
        assert_eq!(parse_duration("m"), None);
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let s = Secret::new("x".repeat(40));
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }
}
