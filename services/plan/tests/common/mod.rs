//! The plan service served on an ephemeral port for each backend available (SQLite always;
//! MongoDB through nx-27017 or `MONGODB_URL`), next to a real template service (SQLite).

#![allow(dead_code)] // reason: each test binary uses a different part of the harness

pub use plangen_core::testing::mongo;
pub use plangen_core::testing::{assert_problem, problem_fields as fields};

use plangen_core::Env;
use plangen_core::testing::{self, ApiClient, TestServer};
use plangen_plan::{PlanConfig, PlanState, app};
use serde_json::{Value, json};

pub const ACCESS_SECRET: &str = "access-secret-for-tests-0123456789abcdef";

pub struct Harness {
    pub backend: &'static str,
    pub is_nx: bool,
    pub server: TestServer,
    pub templates: TestServer,
    pub state: PlanState,
    pub http: reqwest::Client,
    pub api: ApiClient,
    _dir: tempfile::TempDir,
}

fn env(vars: &[(&str, &str)]) -> Env {
    testing::test_env(&[("ACCESS_TOKEN_SECRET", ACCESS_SECRET)], vars)
}

/// A template service on its own SQLite file.
pub async fn template_server(dir: &std::path::Path) -> TestServer {
    let url = format!("sqlite:{}", dir.join("templates.db").display());
    let config =
        plangen_template::TemplateConfig::from_env(env(&[("DATABASE_URL", &url)])).unwrap();
    let state = plangen_template::TemplateState::new(config).await.unwrap();
    TestServer::spawn(plangen_template::app(state)).await
}

/// Options for a harness: where the template service is (default: a real one).
#[derive(Default)]
pub struct Options {
    pub template_url: Option<String>,
    pub template_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    /// `MONGODB_TIMEOUT_MS` (default 5000).
    pub mongodb_timeout_ms: Option<u64>,
}

/// A harness on the given database settings (none: a fresh SQLite file).
pub async fn start(
    backend: &'static str,
    is_nx: bool,
    database: Vec<(&str, String)>,
    options: &Options,
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let templates = template_server(dir.path()).await;
    let template_url = options
        .template_url
        .clone()
        .unwrap_or_else(|| templates.base_url.clone());
    let timeout = options.template_timeout_ms.unwrap_or(5000).to_string();
    let mut vars: Vec<(&str, String)> = vec![
        ("TEMPLATE", template_url),
        ("TEMPLATE_TIMEOUT_MS", timeout),
        (
            "MONGODB_TIMEOUT_MS",
            options.mongodb_timeout_ms.unwrap_or(5000).to_string(),
        ),
    ];
    if let Some(ms) = options.request_timeout_ms {
        vars.push(("REQUEST_TIMEOUT_MS", ms.to_string()));
    }
    if database.is_empty() {
        vars.push((
            "DATABASE_URL",
            format!("sqlite:{}", dir.path().join("plans.db").display()),
        ));
    }
    vars.extend(database);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = PlanConfig::from_env(env(&vars)).unwrap();
    let state = PlanState::new(config).await.unwrap();
    let server = TestServer::spawn(app(state.clone())).await;
    let api = ApiClient::new(&server, "/api/plans", backend, ACCESS_SECRET);
    Harness {
        backend,
        is_nx,
        server,
        templates,
        state,
        http: api.http.clone(),
        api,
        _dir: dir,
    }
}

pub async fn sqlite_harness(options: &Options) -> Harness {
    start("sqlite", false, Vec::new(), options).await
}

pub async fn mongo_harness(options: &Options) -> Option<Harness> {
    let server = mongo::mongo_server()?;
    Some(
        start(
            server.backend(),
            server.is_nx,
            vec![
                ("DATABASE_URL", server.url),
                ("DATABASE_NAME", mongo::fresh_database()),
            ],
            options,
        )
        .await,
    )
}

pub async fn harnesses_with(options: Options) -> Vec<Harness> {
    let mut all = vec![sqlite_harness(&options).await];
    if let Some(h) = mongo_harness(&options).await {
        all.push(h);
    }
    all
}

pub async fn harnesses() -> Vec<Harness> {
    harnesses_with(Options::default()).await
}

pub fn token(user: &str) -> String {
    testing::access_token(ACCESS_SECRET, user, "user")
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    pub fn req(&self, method: reqwest::Method, path: &str, user: &str) -> reqwest::RequestBuilder {
        self.api.request(method, path, user)
    }

    pub async fn get(&self, path: &str, user: &str) -> reqwest::Response {
        self.api.get(path, user).await
    }

    pub async fn get_json(&self, path: &str, user: &str) -> Value {
        self.api.get_json(path, user).await
    }

    pub async fn post(&self, path: &str, user: &str, body: &Value) -> reqwest::Response {
        self.api
            .send_json(reqwest::Method::POST, path, user, None, body)
            .await
    }

    pub async fn create(&self, user: &str, body: Value) -> Value {
        self.api.create(user, &body).await
    }

    pub async fn put(
        &self,
        id: &str,
        user: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        self.api
            .send_json(
                reqwest::Method::PUT,
                &format!("/{id}"),
                user,
                if_match,
                body,
            )
            .await
    }

    pub async fn patch_item(
        &self,
        id: &str,
        item: &str,
        user: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let path = format!("/{id}/items/{item}");
        self.api
            .send_json(reqwest::Method::PATCH, &path, user, if_match, body)
            .await
    }

    pub async fn delete(&self, id: &str, user: &str, if_match: Option<&str>) -> reqwest::Response {
        self.api.delete(&format!("/{id}"), user, if_match).await
    }

    /// Creates a template on the template service; returns its id.
    pub async fn create_template(&self, user: &str, body: Value) -> String {
        let res = self
            .http
            .post(self.templates.url("/api/templates"))
            .bearer_auth(token(user))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let t: Value = res.json().await.unwrap();
        t["id"].as_str().unwrap().to_owned()
    }

    /// How many plans `user` has (walking every page).
    pub async fn count(&self, user: &str) -> usize {
        let mut n = 0;
        let mut path = "?limit=100".to_owned();
        loop {
            let page = self.get_json(&path, user).await;
            n += page["items"].as_array().unwrap().len();
            match page["nextCursor"].as_str() {
                Some(c) => path = format!("?limit=100&cursor={c}"),
                None => return n,
            }
        }
    }
}

pub fn plan(title: &str) -> Value {
    json!({
        "title": title,
        "startDate": "2026-03-01",
        "timezone": "Europe/Berlin",
        "tags": ["test"],
        "items": [
            { "title": "First", "dueAt": "2026-03-02T08:00:00Z", "durationMinutes": 30 },
            { "title": "Second" }
        ]
    })
}
