//! A service's HTTP API as its users call it in tests: requests with a bearer token per user
//! (signed with the service's secret, as the auth service would sign it), `If-Match` when
//! asked, and the checks every API test makes on an answer (problem+json, its field errors).

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

use super::TestServer;
use crate::TokenKeys;
use crate::config::{Env, Secret};

/// An access token for `user` with `role`, signed with `secret` (session `s-<user>`, email
/// `<user>@example.org`).
pub fn access_token(secret: &str, user: &str, role: &str) -> String {
    let keys = TokenKeys::new(&Secret::new(secret), Duration::from_secs(600));
    keys.sign(&keys.claims_for(
        user,
        &format!("s-{user}"),
        &format!("{user}@example.org"),
        role,
    ))
}

/// A service's environment for a test: `base`, with `overrides` replacing variables of the
/// same name.
pub fn test_env(base: &[(&str, &str)], overrides: &[(&str, &str)]) -> Env {
    Env::from_map(base.iter().chain(overrides).map(|(k, v)| (*k, *v)))
}

/// One service's API under `prefix` (`/api/plans`), called as a user with the `user` role.
pub struct ApiClient {
    pub http: reqwest::Client,
    base: String,
    /// Names the backend in assertion messages.
    backend: &'static str,
    secret: String,
}

impl ApiClient {
    pub fn new(server: &TestServer, prefix: &str, backend: &'static str, secret: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: server.url(prefix),
            backend,
            secret: secret.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` (below the prefix) with `user`'s token.
    pub fn request(&self, method: Method, path: &str, user: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(access_token(&self.secret, user, "user"))
    }

    pub async fn get(&self, path: &str, user: &str) -> Response {
        self.request(Method::GET, path, user).send().await.unwrap()
    }

    /// The JSON of a `GET` that must answer 200.
    pub async fn get_json(&self, path: &str, user: &str) -> Value {
        let res = self.get(path, user).await;
        assert_eq!(res.status(), 200, "[{}] GET {path}", self.backend);
        res.json().await.unwrap()
    }

    /// `body` sent with `method`, with `If-Match: <if_match>` when given.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        user: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Response {
        with_if_match(self.request(method, path, user).json(body), if_match)
            .send()
            .await
            .unwrap()
    }

    /// Creates a resource (`POST` to the prefix, which must answer 201); returns it.
    pub async fn create(&self, user: &str, body: &Value) -> Value {
        let res = self.send_json(Method::POST, "", user, None, body).await;
        assert_eq!(res.status(), 201, "[{}] create", self.backend);
        res.json().await.unwrap()
    }

    pub async fn delete(&self, path: &str, user: &str, if_match: Option<&str>) -> Response {
        with_if_match(self.request(Method::DELETE, path, user), if_match)
            .send()
            .await
            .unwrap()
    }
}

fn with_if_match(req: RequestBuilder, if_match: Option<&str>) -> RequestBuilder {
    match if_match {
        Some(m) => req.header("if-match", m),
        None => req,
    }
}

/// Asserts a problem+json answer with the given status and type slug; returns the body.
pub async fn assert_problem(res: Response, status: u16, slug: &str) -> Value {
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

/// The `field`s of a problem's errors.
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
