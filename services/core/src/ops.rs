//! The operational surface every service has — `/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json` — and the layers every service runs behind.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{Problem, ProblemKind, problem_for_status};
use crate::metrics::{Metrics, metrics_handler, track};
use crate::shared_state::{RedisState, WindowCounter};
use crate::telemetry::request_context;

/// The counter Redis readiness counts on (apart from every caller's and every login's).
const READINESS_PROBE_KEY: &str = "readiness-probe";

/// One dependency `/readyz` checks.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &str;
    /// `Err` carries a short reason, safe to show (no secrets, no URLs with passwords).
    async fn check(&self) -> Result<(), String>;
}

#[async_trait]
impl ReadinessCheck for RedisState {
    fn name(&self) -> &str {
        "redis"
    }

    /// A count on a probe key, not a ping: a Redis that answers but refuses writes (full,
    /// with the `noeviction` policy) can neither count requests nor throttle logins.
    async fn check(&self) -> Result<(), String> {
        self.hit(READINESS_PROBE_KEY, Duration::from_secs(1))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// A readiness check from a name and a closure.
pub struct FnCheck<F> {
    name: String,
    f: F,
}

impl<F, Fut> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    pub fn new(name: impl Into<String>, f: F) -> Self {
        Self {
            name: name.into(),
            f,
        }
    }
}

#[async_trait]
impl<F, Fut> ReadinessCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> Result<(), String> {
        (self.f)().await
    }
}

/// What a service contributes to its operational endpoints.
#[derive(Clone)]
pub struct ServiceOps {
    pub name: &'static str,
    pub metrics: Metrics,
    pub readiness: Vec<Arc<dyn ReadinessCheck>>,
    pub openapi: Arc<utoipa::openapi::OpenApi>,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// How long a request may take before it is abandoned ([`crate::config::request_timeout`]).
    pub request_timeout: Duration,
}

impl ServiceOps {
    pub fn new(name: &'static str, openapi: utoipa::openapi::OpenApi) -> Self {
        Self {
            name,
            metrics: Metrics::new(name),
            readiness: Vec::new(),
            openapi: Arc::new(openapi),
            body_limit: 1 << 20,
            request_timeout: crate::config::DEFAULT_REQUEST_TIMEOUT,
        }
    }

    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn check(mut self, check: Arc<dyn ReadinessCheck>) -> Self {
        self.readiness.push(check);
        self
    }
}

#[derive(Serialize)]
struct CheckReport {
    name: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct ReadyReport {
    status: &'static str,
    service: &'static str,
    checks: Vec<CheckReport>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

async fn readyz(State(ops): State<ServiceOps>) -> Response {
    let results = futures::future::join_all(ops.readiness.iter().map(|c| async move {
        let result = match tokio::time::timeout(CHECK_TIMEOUT, c.check()).await {
            Ok(r) => r,
            Err(_) => Err("timed out".to_owned()),
        };
        CheckReport {
            name: c.name().to_owned(),
            ok: result.is_ok(),
            error: result.err(),
        }
    }))
    .await;
    let ready = results.iter().all(|c| c.ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let report = ReadyReport {
        status: if ready { "ready" } else { "unavailable" },
        service: ops.name,
        checks: results,
    };
    (status, axum::Json(report)).into_response()
}

async fn healthz(State(ops): State<ServiceOps>) -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok", "service": ops.name }))
}

async fn openapi(State(ops): State<ServiceOps>) -> impl IntoResponse {
    axum::Json(ops.openapi.as_ref().clone())
}

async fn not_found() -> Problem {
    Problem::new(ProblemKind::NotFound).detail("No such endpoint")
}

async fn method_not_allowed() -> Problem {
    Problem::new(ProblemKind::MethodNotAllowed)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    Problem::internal("handler panicked").into_response()
}

/// Bounds the time a request may take. A storage that went silent (a dropped NAT entry, a
/// dead peer: nothing answers, nothing closes) would otherwise hold the request, and the
/// caller, until TCP gives up many minutes later. Dropping the handler's future cancels its
/// work; a write may still have taken effect, which the answer says.
async fn within_request_timeout(
    State(timeout): State<Duration>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let safe = req.method().is_safe();
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let ms = timeout.as_millis() as u64;
            tracing::warn!(
                timeout_ms = ms,
                "request abandoned: it did not finish in time"
            );
            let mut detail = format!("The request did not finish within {ms} ms");
            if !safe {
                detail.push_str("; it may or may not have taken effect");
            }
            Problem::new(ProblemKind::Timeout)
                .detail(detail)
                .retry_after(1)
                .into_response()
        }
    }
}

/// Turns any bare error status a layer produced (timeouts, limits) into problem+json.
async fn problem_for_bare_errors(req: axum::extract::Request, next: middleware::Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/problem+json"));
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_problem && !is_json {
        let mut problem = problem_for_status(status).into_response();
        for (name, value) in response.headers() {
            if name != axum::http::header::CONTENT_TYPE
                && name != axum::http::header::CONTENT_LENGTH
            {
                problem.headers_mut().insert(name.clone(), value.clone());
            }
        }
        return problem;
    }
    response
}

/// Wraps a service's API router with the operational endpoints and the common layers:
/// request ids + access log (outermost), metrics, the request timeout, panic catching, body
/// limit, problem+json for every error.
pub fn service_router(api: Router, ops: ServiceOps) -> Router {
    let ops_routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .with_state(ops.clone())
        .route(
            "/metrics",
            get(metrics_handler).with_state(ops.metrics.clone()),
        );
    api.merge(ops_routes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(ops.body_limit))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(
            ops.request_timeout,
            within_request_timeout,
        ))
        .layer(middleware::from_fn_with_state(ops.metrics.clone(), track))
        .layer(middleware::from_fn(request_context))
}
