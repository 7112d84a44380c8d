//! The template service served on an ephemeral port, for each backend available: SQLite
//! always; MongoDB (nx-27017 or `MONGODB_URL`) when available (required in CI).

#![allow(dead_code)] // reason: each test binary uses a different part of the harness

pub use plangen_core::testing::mongo;
pub use plangen_core::testing::problem_fields as fields;

use plangen_core::Env;
use plangen_core::testing::{self, ApiClient, TestServer};
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
    pub api: ApiClient,
    _dir: Option<tempfile::TempDir>,
}

/// Environment for a test service; `extra` overrides.
pub fn env(database_url: &str, extra: &[(&str, &str)]) -> Env {
    testing::test_env(
        &[
            ("ACCESS_TOKEN_SECRET", ACCESS_SECRET),
            ("DATABASE_URL", database_url),
        ],
        extra,
    )
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
    Some(Harness::start(server.backend(), server.is_nx, state, None).await)
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
    testing::access_token(ACCESS_SECRET, user, role)
}

impl Harness {
    pub async fn start(
        backend: &'static str,
        is_nx: bool,
        state: TemplateState,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let server = TestServer::spawn(app(state.clone())).await;
        let api = ApiClient::new(&server, "/api/templates", backend, ACCESS_SECRET);
        Self {
            backend,
            is_nx,
            server,
            state,
            http: api.http.clone(),
            api,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    pub async fn get(&self, path: &str, user: &str) -> reqwest::Response {
        self.api.get(path, user).await
    }

    pub async fn get_json(&self, path: &str, user: &str) -> Value {
        self.api.get_json(path, user).await
    }

    pub async fn post(&self, user: &str, body: Value) -> reqwest::Response {
        self.api
            .send_json(reqwest::Method::POST, "", user, None, &body)
            .await
    }

    /// Creates a template and returns it.
    pub async fn create(&self, user: &str, body: Value) -> Value {
        self.api.create(user, &body).await
    }

    pub async fn put(
        &self,
        id: &str,
        user: &str,
        if_match: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        self.api
            .send_json(
                reqwest::Method::PUT,
                &format!("/{id}"),
                user,
                if_match,
                &body,
            )
            .await
    }

    pub async fn delete(&self, id: &str, user: &str, if_match: Option<&str>) -> reqwest::Response {
        self.api.delete(&format!("/{id}"), user, if_match).await
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
    let body = testing::assert_problem(res, status, slug).await;
    assert_eq!(body["status"], status);
    body
}
