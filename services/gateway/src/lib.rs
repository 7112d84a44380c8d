//! The API gateway: one front door for the SPA and REST clients.
//!
//! `/api/v1/auth/*` → `{AUTH}/api/auth/*`, `/api/v1/plans/*` → `{PLAN}/api/plans/*`,
//! `/api/v1/templates/*` → `{TEMPLATE}/api/templates/*`; anything else under `/api` is a 404
//! problem. Everything else is the SPA (or, until it is built, a page explaining the API).
//!
//! `GatewayConfig` (env) → [`GatewayState`] (upstream clients, verifier, limiter) → [`app`] →
//! `plangen_core::serve`.

pub mod breaker;
pub mod config;
pub mod edge;
pub mod openapi;
mod ops;
pub mod proxy;
pub mod rate_limit;
pub mod spa;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use plangen_core::metrics::{Metrics, metrics_handler};
use plangen_core::shared_state::SharedState;
use plangen_core::telemetry::RequestId;
use plangen_core::{Authenticator, Problem, ProblemKind};

pub use config::{GatewayConfig, UpstreamConfig};

use breaker::RetryBudget;
use proxy::{ForwardContext, ProxyMetrics, Upstream};
use rate_limit::RateLimiter;

/// Everything a request needs; cheap to clone.
#[derive(Clone)]
pub struct GatewayState(Arc<Inner>);

pub struct Inner {
    pub config: GatewayConfig,
    /// Auth, plan, template, in that order.
    pub upstreams: Vec<Arc<Upstream>>,
    rewrites: Vec<(&'static str, &'static str)>,
    pub authenticator: Authenticator,
    pub limiter: RateLimiter,
    pub shared: SharedState,
    pub metrics: Metrics,
    proxy_metrics: ProxyMetrics,
    retry_budget: RetryBudget,
}

impl Deref for GatewayState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl GatewayState {
    /// Shared state (deny-list, rate-limit counters) from `REDIS_*`, else in process.
    pub fn new(config: GatewayConfig) -> Self {
        let shared = SharedState::from_config(config.redis.as_ref());
        Self::with_shared(config, shared)
    }

    /// With given shared state: `plangen all` passes the one the auth service uses, so a
    /// logout there is seen here.
    pub fn with_shared(config: GatewayConfig, shared: SharedState) -> Self {
        let authenticator = Authenticator::verifier(
            &config.access_token_secret,
            shared.deny_list.clone(),
            config.deny_list_fail_open,
        );
        let upstreams: Vec<Arc<Upstream>> = config
            .upstreams()
            .into_iter()
            .map(|u| Arc::new(Upstream::new(u.clone(), &config.breaker)))
            .collect();
        let rewrites = upstreams
            .iter()
            .map(|u| (u.config.upstream_prefix, u.config.public_prefix))
            .collect();
        let metrics = Metrics::new("gateway");
        let proxy_metrics = ProxyMetrics::register(&metrics);
        let limiter = RateLimiter::new(shared.counters.clone(), config.rate_limit.clone());
        Self(Arc::new(Inner {
            config,
            upstreams,
            rewrites,
            authenticator,
            limiter,
            shared,
            metrics,
            proxy_metrics,
            retry_budget: RetryBudget::default(),
        }))
    }
}

fn request_id(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// A problem answer stamped with the request id (the gateway keeps its own request context,
/// so `Problem`'s task-local lookup does not see it).
pub(crate) fn problem(mut p: Problem, request_id: &str) -> Response {
    if p.request_id.is_none() && !request_id.is_empty() {
        p.request_id = Some(request_id.to_owned());
    }
    p.into_response()
}

#[derive(Clone)]
struct RouteState {
    gw: GatewayState,
    upstream: Arc<Upstream>,
}

async fn proxy_handler(State(route): State<RouteState>, mut req: Request) -> Response {
    let RouteState { gw, upstream } = route;
    let rid = request_id(&req);

    let user = if upstream.config.requires_token {
        // Checked once by the rate-limit layer when a token was sent; checked here otherwise.
        let checked = match req.extensions_mut().remove::<rate_limit::EdgeAuth>() {
            Some(rate_limit::EdgeAuth(result)) => result,
            None => {
                let header = req
                    .headers()
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                gw.authenticator.authenticate_header(header).await
            }
        };
        match checked {
            Ok(user) => Some(user),
            Err(p) => return problem(p, &rid),
        }
    } else {
        None
    };

    let ctx = ForwardContext {
        request_id: &rid,
        user_id: user.as_ref().map(|u| u.user_id.as_str()),
        peer_ip: req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip()),
        trust_forwarded: gw.config.trust_forwarded_for,
        max_body: gw.config.max_body_bytes,
        retries: gw.config.retries,
        budget: &gw.retry_budget,
        rewrites: &gw.rewrites,
        upstreams: &gw.upstreams,
    };
    let started = Instant::now();
    let result = proxy::forward(&upstream, req, &ctx).await;
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(response) => {
            gw.proxy_metrics
                .observe(upstream.name(), response.status().as_str(), seconds);
            response
        }
        Err(e) => {
            gw.proxy_metrics
                .observe(upstream.name(), e.outcome(), seconds);
            tracing::warn!(upstream = upstream.name(), error = ?e, "proxying failed");
            problem(e.problem(upstream.name(), gw.config.max_body_bytes), &rid)
        }
    }
}

async fn api_not_found(req: Request) -> Response {
    problem(
        Problem::new(ProblemKind::NotFound).detail(
            "No such API endpoint; the API lives under /api/v1/auth, /api/v1/plans and \
             /api/v1/templates (see /api/docs)",
        ),
        &request_id(&req),
    )
}

/// The gateway's router: proxied API, merged OpenAPI and docs page, operational endpoints,
/// and the SPA, behind request ids, security headers, CORS, metrics and rate limiting.
pub fn app(state: GatewayState) -> Router {
    let mut api = Router::new();
    for upstream in &state.upstreams {
        let route = RouteState {
            gw: state.clone(),
            upstream: upstream.clone(),
        };
        let prefix = upstream.config.public_prefix;
        api = api
            .route(prefix, any(proxy_handler).with_state(route.clone()))
            .route(
                &format!("{prefix}/{{*rest}}"),
                any(proxy_handler).with_state(route),
            );
    }
    let cors = plangen_core::cors::cors_layer(&state.config.allowed_origins);
    api.route("/api/v1/openapi.json", get(openapi::merged))
        .route("/api/docs", get(openapi::docs_page))
        .route("/api/docs/docs.js", get(openapi::docs_script))
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route(
            "/metrics",
            get(metrics_handler).with_state(state.metrics.clone()),
        )
        .fallback(spa::serve)
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::rate_limit,
        ))
        .layer(cors)
        .layer(middleware::from_fn_with_state(state.clone(), edge::edge))
}
