//! Real upstream servers on ephemeral ports (echo, stream, sleep, reset) and a gateway in
//! front of them, driven over HTTP.

#![allow(dead_code)] // reason: each test binary uses a different part of the harness

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use plangen_core::server::{Shutdown, ShutdownTrigger};
use plangen_core::shared_state::SharedState;
use plangen_core::testing::TestServer;
use plangen_core::{Env, Secret, TokenKeys};
use plangen_gateway::{GatewayConfig, GatewayState};
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const SECRET: &str = "access-secret-for-tests-0123456789abcdef";

/// An upstream that echoes what it received, with a few special paths.
pub struct Echo {
    pub server: TestServer,
    pub hits: Arc<AtomicUsize>,
    /// Released by the test to let `/stream` finish.
    pub release: Arc<Notify>,
}

#[derive(Clone)]
struct EchoState {
    name: &'static str,
    prefix: &'static str,
    hits: Arc<AtomicUsize>,
    release: Arc<Notify>,
}

impl Echo {
    pub fn url(&self) -> String {
        self.server.base_url.clone()
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// `name` is the service (`auth`, `plans`, `templates`), `prefix` its upstream path family.
pub async fn echo(name: &'static str, prefix: &'static str) -> Echo {
    let state = EchoState {
        name,
        prefix,
        hits: Arc::default(),
        release: Arc::new(Notify::new()),
    };
    let app = Router::new()
        .fallback(echo_handler)
        .with_state(state.clone());
    Echo {
        server: TestServer::spawn(app).await,
        hits: state.hits,
        release: state.release,
    }
}

async fn echo_handler(State(s): State<EchoState>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/healthz" {
        return axum::Json(json!({"status": "ok"})).into_response();
    }
    if path == "/openapi.json" {
        return axum::Json(json!({
            "openapi": "3.1.0",
            "info": {"title": s.name, "version": "1"},
            "paths": {
                s.prefix: {"get": {"summary": format!("list {}", s.name)}},
                format!("{}/{{id}}", s.prefix): {"get": {"summary": "one"}},
                "/healthz": {"get": {}},
            },
            "components": {"schemas": {
                "Problem": {"type": "object"},
                format!("{}Thing", s.name): {"type": "object"},
            }},
        }))
        .into_response();
    }
    s.hits.fetch_add(1, Ordering::SeqCst);
    let rest = path.strip_prefix(s.prefix).unwrap_or("");
    match rest {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late".into_response()
        }
        "/stream" => {
            // One chunk, then nothing until the test has seen it arrive through the gateway.
            let release = s.release.clone();
            let stream = futures::stream::once(async {
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"first-chunk;"))
            })
            .chain(futures::stream::once(async move {
                release.notified().await;
                Ok(bytes::Bytes::from_static(b"second-chunk"))
            }));
            Response::new(Body::from_stream(stream))
        }
        "/big" => {
            // 16 MiB in 64 KiB chunks, generated on the fly.
            let stream = futures::stream::iter(0..256).map(|i| {
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![(i % 251) as u8; 64 * 1024]))
            });
            Response::new(Body::from_stream(stream))
        }
        "/created" => {
            let mut r = (StatusCode::CREATED, "created").into_response();
            let h = r.headers_mut();
            h.insert("location", HeaderValue::from_static("/api/plans/42"));
            h.append(
                "link",
                HeaderValue::from_static(
                    "</api/plans?page=2>; rel=\"next\", </api/templates/7>; rel=\"related\"",
                ),
            );
            h.insert("etag", HeaderValue::from_static("\"v7\""));
            h.insert(
                "set-cookie",
                HeaderValue::from_static("plangen_refresh=abc; Path=/api; HttpOnly"),
            );
            h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
            h.insert("x-powered-by", HeaderValue::from_static("Express"));
            r
        }
        _ => {
            let method = req.method().to_string();
            let query = req.uri().query().unwrap_or("").to_owned();
            let headers: BTreeMap<String, Vec<String>> = req
                .headers()
                .keys()
                .map(|k| {
                    (
                        k.to_string(),
                        req.headers()
                            .get_all(k)
                            .iter()
                            .map(|v| v.to_str().unwrap_or("?").to_owned())
                            .collect(),
                    )
                })
                .collect();
            // Counts the body as it streams in, without keeping it.
            let mut body = req.into_body().into_data_stream();
            let mut len = 0usize;
            let mut sum = 0u64;
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(c) => {
                        len += c.len();
                        sum += c.iter().map(|b| u64::from(*b)).sum::<u64>();
                    }
                    Err(_) => return (StatusCode::BAD_REQUEST, "body error").into_response(),
                }
            }
            axum::Json(json!({
                "service": s.name,
                "method": method,
                "path": path,
                "query": query,
                "headers": headers,
                "bodyLen": len,
                "bodySum": sum,
            }))
            .into_response()
        }
    }
}

/// A port where nothing listens.
pub fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// An upstream that accepts connections and closes them without answering (a reset);
/// counts connections.
pub async fn resetting_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt as _;
                let mut buf = [0u8; 1024];
                let _ =
                    tokio::time::timeout(Duration::from_millis(100), socket.read(&mut buf)).await;
                let _ = socket.set_zero_linger(); // RST, not FIN: a reset
                drop(socket);
            });
        }
    });
    (url, count)
}

pub struct Upstreams {
    pub auth: Echo,
    pub plans: Echo,
    pub templates: Echo,
}

pub async fn upstreams() -> Upstreams {
    Upstreams {
        auth: echo("auth", "/api/auth").await,
        plans: echo("plans", "/api/plans").await,
        templates: echo("templates", "/api/templates").await,
    }
}

/// A gateway on `127.0.0.1:0`, served by its own server (worker threads) until dropped.
pub struct GatewayServer {
    pub addr: std::net::SocketAddr,
    pub base_url: String,
    trigger: ShutdownTrigger,
}

impl GatewayServer {
    pub async fn spawn(state: GatewayState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(plangen_gateway::server::serve(listener, state, shutdown));
        Self {
            addr,
            base_url: format!("http://{addr}"),
            trigger,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The shutdown signal (SIGTERM in production): stop accepting, drain.
    pub fn stop(&self) {
        self.trigger.trigger();
    }
}

impl Drop for GatewayServer {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

pub struct Gateway {
    pub server: GatewayServer,
    pub state: GatewayState,
    pub http: reqwest::Client,
}

impl Gateway {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

pub fn config(urls: [&str; 3], extra: &[(&str, &str)]) -> GatewayConfig {
    let mut vars: Vec<(String, String)> = vec![
        ("ACCESS_TOKEN_SECRET".into(), SECRET.into()),
        ("AUTH".into(), urls[0].into()),
        ("PLAN".into(), urls[1].into()),
        ("TEMPLATE".into(), urls[2].into()),
        ("PLANGEN_SPA_DIR".into(), "/nonexistent-spa-dir".into()),
        ("ALLOWED_ORIGINS".into(), "http://app.example".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    GatewayConfig::from_env(Env::from_map(vars)).unwrap()
}

pub async fn gateway_with(config: GatewayConfig, shared: SharedState) -> Gateway {
    let state = GatewayState::with_shared(config, shared);
    Gateway {
        server: GatewayServer::spawn(state.clone()).await,
        state,
        http: reqwest::Client::new(),
    }
}

pub async fn gateway(up: &Upstreams, extra: &[(&str, &str)]) -> Gateway {
    let config = config(
        [&up.auth.url(), &up.plans.url(), &up.templates.url()],
        extra,
    );
    gateway_with(config, SharedState::in_process()).await
}

pub fn keys() -> TokenKeys {
    TokenKeys::new(&Secret::new(SECRET), Duration::from_secs(900))
}

pub fn token_for(user: &str) -> String {
    let k = keys();
    k.sign(&k.claims_for(user, &format!("session-{user}"), "u@example.org", "user"))
}

pub async fn json(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

/// Asserts a problem+json answer of `status` and `slug`; returns the body.
pub async fn assert_problem(res: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(res.status(), status, "{:?}", res.headers());
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "{:?}",
        res.headers()
    );
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("https://plangen.io/problems/{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    assert_eq!(body["requestId"], rid, "problem carries the request id");
    body
}
