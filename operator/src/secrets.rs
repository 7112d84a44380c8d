//! Secret material: generated once, then always read back, never regenerated.
//!
//! The reconciler reads the existing generated Secrets, [`ensure`] fills in only what is missing,
//! and [`crate::render`] writes the result back. External datastores get nothing generated: their
//! connection URL is read from the user's Secret ([`ExternalValues`]).

use std::collections::BTreeMap;

use rand::RngCore;

use crate::constants::Datastore;
use crate::crd::Plangen;

/// Secret name → key → value.
pub type SecretData = BTreeMap<String, BTreeMap<String, String>>;

pub const KEY_ACCESS_TOKEN: &str = "access-token-secret";
pub const KEY_REFRESH_TOKEN: &str = "refresh-token-secret";
pub const KEY_PASSWORD: &str = "password";
pub const KEY_MONGO_KEYFILE: &str = "keyfile";

/// Keys of the per-platform connections Secret that the services read.
pub const CONN_AUTH_DATABASE_URL: &str = "auth-database-url";
pub const CONN_MONGODB_URL: &str = "mongodb-url";
pub const CONN_REDIS_HOST: &str = "redis-host";
pub const CONN_REDIS_PORT: &str = "redis-port";
pub const CONN_REDIS_PASSWORD: &str = "redis-password";

pub fn tokens_secret_name(name: &str) -> String {
    format!("{name}-tokens")
}
pub fn datastore_secret_name(name: &str, ds: Datastore) -> String {
    format!("{name}-{}", ds.name())
}
pub fn connections_secret_name(name: &str) -> String {
    format!("{name}-connections")
}

/// The generated Secrets this Plangen needs, with the keys each must hold.
pub fn required(p: &Plangen, name: &str) -> Vec<(String, Vec<&'static str>)> {
    let mut out = vec![(
        tokens_secret_name(name),
        vec![KEY_ACCESS_TOKEN, KEY_REFRESH_TOKEN],
    )];
    if p.spec.postgres.managed.is_some() {
        out.push((
            datastore_secret_name(name, Datastore::Postgres),
            vec![KEY_PASSWORD],
        ));
    }
    if p.spec.mongodb.managed.is_some() {
        out.push((
            datastore_secret_name(name, Datastore::Mongodb),
            vec![KEY_PASSWORD, KEY_MONGO_KEYFILE],
        ));
    }
    if p.spec.redis.managed.is_some() {
        out.push((
            datastore_secret_name(name, Datastore::Redis),
            vec![KEY_PASSWORD],
        ));
    }
    out
}

/// Keep every existing value; generate only the missing ones.
pub fn ensure(p: &Plangen, name: &str, existing: &SecretData) -> SecretData {
    required(p, name)
        .into_iter()
        .map(|(secret, keys)| {
            let old = existing.get(&secret);
            let data = keys
                .into_iter()
                .map(|k| {
                    let v = old
                        .and_then(|o| o.get(k))
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .unwrap_or_else(|| generate(k));
                    (k.to_string(), v)
                })
                .collect();
            (secret, data)
        })
        .collect()
}

/// Hex keeps the values URL-safe, so they go into connection URLs unescaped.
fn generate(key: &str) -> String {
    // JWT secrets must be ≥ 32 bytes; 32 random bytes → 64 hex characters.
    // A MongoDB keyfile may be 6–1024 base64-alphabet characters; hex is a subset.
    let len = if key == KEY_MONGO_KEYFILE { 96 } else { 32 };
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Connection URLs read from the user's Secrets for external datastores.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExternalValues {
    pub postgres_url: Option<String>,
    pub mongodb_url: Option<String>,
    pub redis_url: Option<String>,
}

// Hand-written so that connection URLs (with passwords) never reach a log line.
impl std::fmt::Debug for ExternalValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalValues")
            .field(
                "postgres_url",
                &self.postgres_url.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "mongodb_url",
                &self.mongodb_url.as_ref().map(|_| "<redacted>"),
            )
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Host, port and password of a Redis URL (`redis://[user][:password]@host[:port][/db]`).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisEndpoint {
    pub host: String,
    pub port: u16,
    pub password: String,
}

impl std::fmt::Debug for RedisEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEndpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Parse a Redis URL. The error never contains the URL (it may hold a password).
pub fn parse_redis_url(url: &str) -> Result<RedisEndpoint, String> {
    let rest = url
        .strip_prefix("redis://")
        .or_else(|| url.strip_prefix("rediss://"))
        .ok_or("the Redis URL must start with redis:// or rediss://")?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let password = userinfo
        .map(|u| u.split_once(':').map(|(_, p)| p).unwrap_or(u))
        .unwrap_or_default()
        .to_string();
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| "the Redis URL has an invalid port".to_string())?,
        ),
        _ => (hostport.to_string(), 6379),
    };
    if host.is_empty() {
        return Err("the Redis URL has no host".into());
    }
    Ok(RedisEndpoint {
        host,
        port,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ExternalDatastore, PlangenSpec};

    fn plangen(spec: PlangenSpec) -> Plangen {
        Plangen::new("demo", spec)
    }

    #[test]
    fn generates_every_required_secret_with_strong_values() {
        let p = plangen(PlangenSpec::default());
        let s = ensure(&p, "demo", &SecretData::new());
        assert_eq!(
            s.keys().cloned().collect::<Vec<_>>(),
            ["demo-mongodb", "demo-postgres", "demo-redis", "demo-tokens"]
        );
        let access = &s["demo-tokens"][KEY_ACCESS_TOKEN];
        assert_eq!(access.len(), 64, "32 random bytes, hex");
        assert_ne!(access, &s["demo-tokens"][KEY_REFRESH_TOKEN]);
        assert_eq!(s["demo-mongodb"][KEY_MONGO_KEYFILE].len(), 192);
    }

    #[test]
    fn existing_values_are_kept_and_only_missing_keys_generated() {
        let p = plangen(PlangenSpec::default());
        let first = ensure(&p, "demo", &SecretData::new());
        let mut partial = first.clone();
        partial
            .get_mut("demo-tokens")
            .unwrap()
            .remove(KEY_REFRESH_TOKEN);
        let second = ensure(&p, "demo", &partial);
        assert_eq!(second["demo-postgres"], first["demo-postgres"]);
        assert_eq!(
            second["demo-tokens"][KEY_ACCESS_TOKEN],
            first["demo-tokens"][KEY_ACCESS_TOKEN]
        );
        assert_ne!(
            second["demo-tokens"][KEY_REFRESH_TOKEN],
            first["demo-tokens"][KEY_REFRESH_TOKEN]
        );
        assert_eq!(ensure(&p, "demo", &first), first, "stable once complete");
    }

    #[test]
    fn nothing_is_generated_for_external_datastores() {
        let mut spec = PlangenSpec::default();
        spec.postgres.managed = None;
        spec.postgres.external = Some(ExternalDatastore {
            secret_name: "pg".into(),
            key: "url".into(),
        });
        let s = ensure(&plangen(spec), "demo", &SecretData::new());
        assert!(!s.contains_key("demo-postgres"));
        assert!(s.contains_key("demo-redis"));
    }

    #[test]
    fn parses_redis_urls() {
        let e = parse_redis_url("redis://:s3cret@cache.example:6380/0").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.password.as_str()),
            ("cache.example", 6380, "s3cret")
        );
        let e = parse_redis_url("rediss://user:pw@cache").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.password.as_str()),
            ("cache", 6379, "pw")
        );
        let e = parse_redis_url("redis://cache:6379").unwrap();
        assert_eq!(e.password, "");
        let err = parse_redis_url("http://:hunter2@x").unwrap_err();
        assert!(!err.contains("hunter2"));
        assert!(parse_redis_url("redis://:pw@").is_err());
        assert!(parse_redis_url("redis://h:notaport").is_err());
        assert!(
            !format!("{:?}", parse_redis_url("redis://:topsecret@h").unwrap())
                .contains("topsecret")
        );
    }
}
