//! The plan service served on an ephemeral port for each backend available (SQLite always;
//! MongoDB through nx-27017 or `MONGODB_URL`), next to a real template service (SQLite).

#![allow(dead_code)] // reason: each test binary uses a different part of the harness

pub use plangen_core::testing::mongo;

use std::time::Duration;

use plangen_core::testing::TestServer;
use plangen_core::{Env, TokenKeys, config::Secret};
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
    _dir: tempfile::TempDir,
}

fn env(vars: &[(&str, &str)]) -> Env {
    let mut all = vec![("ACCESS_TOKEN_SECRET".to_owned(), ACCESS_SECRET.to_owned())];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Env::from_map(all)
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
}

async fn start(
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
        ("MONGODB_TIMEOUT_MS", "5000".into()),
    ];
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
    Harness {
        backend,
        is_nx,
        server,
        templates,
        state,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

pub async fn sqlite_harness(options: &Options) -> Harness {
    start("sqlite", false, Vec::new(), options).await
}

pub async fn mongo_harness(options: &Options) -> Option<Harness> {
    let server = mongo::mongo_server()?;
    let backend = if server.is_nx {
        "mongo(nx-27017)"
    } else {
        "mongo"
    };
    Some(
        start(
            backend,
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
    let keys = TokenKeys::new(&Secret::new(ACCESS_SECRET), Duration::from_secs(600));
    keys.sign(&keys.claims_for(
        user,
        &format!("s-{user}"),
        &format!("{user}@example.org"),
        "user",
    ))
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        self.server.url(&format!("/api/plans{path}"))
    }

    pub fn req(&self, method: reqwest::Method, path: &str, user: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token(user))
    }

    pub async fn get(&self, path: &str, user: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, path, user)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str, user: &str) -> Value {
        let res = self.get(path, user).await;
        assert_eq!(res.status(), 200, "[{}] GET {path}", self.backend);
        res.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, user: &str, body: &Value) -> reqwest::Response {
        self.req(reqwest::Method::POST, path, user)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn create(&self, user: &str, body: Value) -> Value {
        let res = self.post("", user, &body).await;
        assert_eq!(res.status(), 201, "[{}] create", self.backend);
        res.json().await.unwrap()
    }

    pub async fn put(
        &self,
        id: &str,
        user: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut req = self
            .req(reqwest::Method::PUT, &format!("/{id}"), user)
            .json(body);
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        req.send().await.unwrap()
    }

    pub async fn patch_item(
        &self,
        id: &str,
        item: &str,
        user: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut req = self
            .req(reqwest::Method::PATCH, &format!("/{id}/items/{item}"), user)
            .json(body);
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        req.send().await.unwrap()
    }

    pub async fn delete(&self, id: &str, user: &str, if_match: Option<&str>) -> reqwest::Response {
        let mut req = self.req(reqwest::Method::DELETE, &format!("/{id}"), user);
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        req.send().await.unwrap()
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
    body
}

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
