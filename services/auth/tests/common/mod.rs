//! The auth service served on an ephemeral port, for each backend available: SQLite with
//! in-process state always; PostgreSQL + Redis when configured (required in CI).

#![allow(dead_code)] // reason: each test binary uses a different part of the harness

use std::sync::Arc;

use plangen_auth::store::UserStore;
use plangen_auth::{AuthConfig, AuthState, app};
use plangen_core::config::RedisConfig;
use plangen_core::shared_state::SharedState;
use plangen_core::testing::{self, TestServer};
use plangen_core::{Env, config::Secret};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";
pub const ACCESS_SECRET: &str = "access-secret-for-tests-0123456789abcdef";
pub const REFRESH_SECRET: &str = "refresh-secret-for-tests-0123456789abcdef";

pub struct Harness {
    pub backend: &'static str,
    pub server: TestServer,
    pub state: AuthState,
    pub http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

/// Environment for a test service; `extra` overrides.
pub fn env(database_url: &str, extra: &[(&str, &str)]) -> Env {
    let mut vars = vec![
        ("ACCESS_TOKEN_SECRET".to_owned(), ACCESS_SECRET.to_owned()),
        ("REFRESH_TOKEN_SECRET".to_owned(), REFRESH_SECRET.to_owned()),
        ("DATABASE_URL".to_owned(), database_url.to_owned()),
        ("PASSWORD_HASH_CONCURRENCY".to_owned(), "4".to_owned()),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    Env::from_map(vars)
}

pub async fn sqlite_harness(extra: &[(&str, &str)]) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("auth.db").display());
    let config = AuthConfig::from_env(env(&url, extra), &Default::default()).unwrap();
    let state = AuthState::new(config).await.unwrap();
    Harness::start("sqlite", state, Some(dir)).await
}

pub async fn postgres_harness(extra: &[(&str, &str)], redis: &RedisConfig) -> Option<Harness> {
    let url = testing::fresh_postgres_database().await?;
    Some(postgres_harness_at(&url, extra, redis).await)
}

/// The service on the PostgreSQL database at `url` (for tests that also hold transactions of
/// their own in it).
pub async fn postgres_harness_at(
    url: &str,
    extra: &[(&str, &str)],
    redis: &RedisConfig,
) -> Harness {
    let mut config = AuthConfig::from_env(env(url, extra), &Default::default()).unwrap();
    config.redis = Some(redis.clone());
    let store = plangen_auth::open_store(&config.database).await.unwrap();
    store.migrate().await.unwrap();
    let shared = SharedState::redis(redis, &testing::unique_prefix());
    let state = AuthState::with_parts(config, store, shared);
    Harness::start("postgres+redis", state, None).await
}

/// Every backend available, each with its own empty store.
pub async fn harnesses(extra: &[(&str, &str)]) -> Vec<Harness> {
    let mut all = vec![sqlite_harness(extra).await];
    if let Some(redis) = testing::redis_config()
        && let Some(h) = postgres_harness(extra, &redis).await
    {
        all.push(h);
    }
    all
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub user: Value,
}

impl Harness {
    pub async fn start(
        backend: &'static str,
        state: AuthState,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let server = TestServer::spawn(app(state.clone())).await;
        Self {
            backend,
            server,
            state,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn keep_dir(&mut self, dir: tempfile::TempDir) {
        self._dir = Some(dir);
    }

    pub fn store(&self) -> Arc<dyn UserStore> {
        self.state.store.clone()
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(&format!("/api/auth{path}"))
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_auth(
        &self,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str, username: &str) -> Tokens {
        let res = self
            .post(
                "/register",
                json!({ "email": email, "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(res.status(), 201, "[{}] register", self.backend);
        tokens(res).await
    }

    pub async fn login(&self, login: &str, password: &str) -> reqwest::Response {
        self.post("/login", json!({ "login": login, "password": password }))
            .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post("/refresh", json!({ "refreshToken": refresh_token }))
            .await
    }
}

pub async fn tokens(res: reqwest::Response) -> Tokens {
    let body: Value = res.json().await.unwrap();
    Tokens {
        access: body["accessToken"].as_str().unwrap().to_owned(),
        refresh: body["refreshToken"].as_str().unwrap().to_owned(),
        user: body["user"].clone(),
    }
}

/// Asserts a problem+json answer with the given status and type slug; returns the body.
pub async fn assert_problem(res: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("https://plangen.io/problems/{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    assert_eq!(
        body["requestId"], request_id,
        "the problem quotes the request id"
    );
    body
}

pub fn secret(s: &str) -> Secret {
    Secret::new(s)
}
