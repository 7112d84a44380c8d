//! The template service served on an ephemeral port, for each backend available: SQLite
//! always; MongoDB (nx-27017 or `MONGODB_URL`) when available (required in CI).

#![allow(dead_code)] // reason: each test binary uses a different part of the harness

pub use plangen_core::testing::mongo;

use std::time::Duration;

use plangen_core::testing::TestServer;
use plangen_core::{Env, TokenKeys, config::Secret};
use plangen_template::{TemplateConfig, TemplateState, app};
use serde_json::{Value, json};

pub const ACCESS_SECRET: &str = "access-secret-for-tests-0123456789abcdef";

pub struct Harness {
    pub backend: &'static str,
    /// Running against nx-27017 rather than MongoDB.
    pub is_nx: bool,
    pub server: TestServer,
    pub state: TemplateState,
    pub http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

pub fn env(database_url: &str, extra: &[(&str, &str)]) -> Env {
    let mut vars = vec![
        ("ACCESS_TOKEN_SECRET".to_owned(), ACCESS_SECRET.to_owned()),
        ("DATABASE_URL".to_owned(), database_url.to_owned()),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    Env::from_map(vars)
}

pub async fn sqlite_harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("plangen.db").display());
    let config = TemplateConfig::from_env(env(&url, &[])).unwrap();
    let state = TemplateState::new(config).await.unwrap();
    Harness::start("sqlite", false, state, Some(dir)).await
}

pub async fn mongo_harness() -> Option<Harness> {
    let server = mongo::mongo_server()?;
    let db = mongo::fresh_database();
    let config = TemplateConfig::from_env(env(
        &server.url,
        &[("DATABASE_NAME", &db), ("MONGODB_TIMEOUT_MS", "5000")],
    ))
    .unwrap();
    let state = TemplateState::new(config).await.unwrap();
    let backend = if server.is_nx {
        "mongo(nx-27017)"
    } else {
        "mongo"
    };
    Some(Harness::start(backend, server.is_nx, state, None).await)
}

/// Every backend available, each with its own empty store.
pub async fn harnesses() -> Vec<Harness> {
    let mut all = vec![sqlite_harness().await];
    if let Some(h) = mongo_harness().await {
        all.push(h);
    }
    all
}

/// A signed access token for `user` (same secret as the service, as the auth service does).
pub fn token(user: &str) -> String {
    token_with_role(user, "user")
}

pub fn token_with_role(user: &str, role: &str) -> String {
    let keys = TokenKeys::new(&Secret::new(ACCESS_SECRET), Duration::from_secs(600));
    keys.sign(&keys.claims_for(
        user,
        &format!("s-{user}"),
        &format!("{user}@example.org"),
        role,
    ))
}

impl Harness {
    pub async fn start(
        backend: &'static str,
        is_nx: bool,
        state: TemplateState,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let server = TestServer::spawn(app(state.clone())).await;
        Self {
            backend,
            is_nx,
            server,
            state,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(&format!("/api/templates{path}"))
    }

    pub async fn get(&self, path: &str, user: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token(user))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str, user: &str) -> Value {
        let res = self.get(path, user).await;
        assert_eq!(res.status(), 200, "[{}] GET {path}", self.backend);
        res.json().await.unwrap()
    }

    pub async fn post(&self, user: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(""))
            .bearer_auth(token(user))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a template and returns it.
    pub async fn create(&self, user: &str, body: Value) -> Value {
        let res = self.post(user, body).await;
        assert_eq!(res.status(), 201, "[{}] create", self.backend);
        res.json().await.unwrap()
    }

    pub async fn put(
        &self,
        id: &str,
        user: &str,
        if_match: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .put(self.url(&format!("/{id}")))
            .bearer_auth(token(user))
            .json(&body);
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        req.send().await.unwrap()
    }

    pub async fn delete(&self, id: &str, user: &str, if_match: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .delete(self.url(&format!("/{id}")))
            .bearer_auth(token(user));
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        req.send().await.unwrap()
    }
}

/// A valid template body.
pub fn template(name: &str) -> Value {
    json!({
        "name": name,
        "description": "A template for tests",
        "category": "General",
        "tags": ["test"],
        "visibility": "private",
        "steps": [
            { "title": "Prepare", "offsetDays": -1, "timeOfDay": "08:30", "durationMinutes": 30 },
            { "title": "Do it", "offsetDays": 0 }
        ]
    })
}

/// Asserts a problem+json answer with the given status and type slug; returns the body.
pub async fn assert_problem(res: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("https://plangen.io/problems/{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    body
}

/// The `field`s of a problem's errors.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
