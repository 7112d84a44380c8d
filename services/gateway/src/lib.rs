//! The API gateway: one front door for the SPA and REST clients.
//!
//! `/api/v1/auth/*` → `{AUTH}/api/auth/*`, `/api/v1/plans/*` → `{PLAN}/api/plans/*`,
//! `/api/v1/templates/*` → `{TEMPLATE}/api/templates/*`; anything else under `/api` is a 404
//! problem. Everything else is the SPA (or, until it is built, a page explaining the API).
//!
//! `GatewayConfig` (env) → [`GatewayState`] (upstreams, verifier, limiter) → [`server::serve`]
//! (worker threads) → [`edge::handle`] (edge policy) → [`dispatch`] (an upstream through
//! [`proxy`], or the gateway's own pages: [`local_routes`]).

pub mod breaker;
pub mod config;
pub mod edge;
pub mod openapi;
mod ops;
pub mod pool;
pub mod proxy;
pub mod rate_limit;
pub mod server;
pub mod spa;

use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use plangen_core::metrics::{Metrics, metrics_handler};
use plangen_core::shared_state::{RedisState, SharedState};
use plangen_core::{Authenticator, Problem, ProblemKind};
use tower::ServiceExt as _;
use tower_http::cors::CorsLayer;

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
    /// What the workers count and check through; each worker reaches it by a connection of
    /// its own ([`Gateway`]).
    pub shared: SharedState,
    pub metrics: Metrics,
    proxy_metrics: ProxyMetrics,
    retry_budget: RetryBudget,
    cors: CorsLayer,
    /// `(exact, wildcard)` route labels per upstream: `/api/v1/plans`, `/api/v1/plans/{*rest}`.
    route_labels: Vec<(&'static str, &'static str)>,
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
        let upstreams: Vec<Arc<Upstream>> = config
            .upstreams()
            .into_iter()
            .map(|u| Arc::new(Upstream::new(u.clone(), &config.breaker, config.workers)))
            .collect();
        let rewrites = upstreams
            .iter()
            .map(|u| (u.config.upstream_prefix, u.config.public_prefix))
            .collect();
        let metrics = Metrics::new("gateway");
        let proxy_metrics = ProxyMetrics::register(&metrics);
        let cors = plangen_core::cors::cors_layer(&config.allowed_origins);
        let route_labels = upstreams
            .iter()
            .map(|u| {
                let prefix = u.config.public_prefix;
                (
                    prefix,
                    plangen_core::metrics::label(&format!("{prefix}/{{*rest}}")),
                )
            })
            .collect();
        Self(Arc::new(Inner {
            config,
            upstreams,
            rewrites,
            shared,
            metrics,
            proxy_metrics,
            retry_budget: RetryBudget::default(),
            cors,
            route_labels,
        }))
    }

    /// Where `path` goes, and its label for metrics and logs (a route template, never the raw
    /// path, so the label set stays bounded).
    pub fn route(&self, path: &str) -> Route {
        for (i, up) in self.upstreams.iter().enumerate() {
            if let Some(rest) = path.strip_prefix(up.config.public_prefix) {
                let (exact, wildcard) = self.route_labels[i];
                if rest.is_empty() {
                    return Route {
                        upstream: Some(i),
                        label: exact,
                    };
                }
                if rest.starts_with('/') {
                    return Route {
                        upstream: Some(i),
                        label: wildcard,
                    };
                }
            }
        }
        let label = match path {
            "/healthz" => "/healthz",
            "/readyz" => "/readyz",
            "/metrics" => "/metrics",
            "/api/v1/openapi.json" => "/api/v1/openapi.json",
            "/api/docs" => "/api/docs",
            "/api/docs/docs.js" => "/api/docs/docs.js",
            "/api" => "/api",
            p if p.starts_with("/api/") => "/api/{*rest}",
            _ => "spa",
        };
        Route {
            upstream: None,
            label,
        }
    }
}

/// Where a request goes: an upstream (index into `upstreams`) or the gateway's own pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub upstream: Option<usize>,
    pub label: &'static str,
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// What a gateway worker serves with: the state, the token check and the rate limiter
/// through the worker's own connection to the shared state, and the gateway's own pages (a
/// router over that state, so kept beside it rather than in it). Made once per worker thread.
#[derive(Clone)]
pub struct Gateway {
    pub state: GatewayState,
    pub authenticator: Authenticator,
    pub limiter: Arc<RateLimiter>,
    /// The same store as the two above, when it is Redis (for commands that ask both at once).
    pub redis: Option<Arc<RedisState>>,
    local: Router,
}

impl Gateway {
    pub fn new(state: GatewayState) -> Self {
        let shared = state.shared.for_worker();
        let config = &state.config;
        Self {
            authenticator: Authenticator::verifier(
                &config.access_token_secret,
                shared.deny_list.clone(),
                config.deny_list_fail_open,
            ),
            limiter: Arc::new(RateLimiter::new(shared.counters, config.rate_limit.clone())),
            redis: shared.redis,
            local: local_routes(state.clone()),
            state,
        }
    }
}

impl Deref for Gateway {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.state
    }
}

/// An answer, and the rate-limit quota to report on it (set by the edge, last).
pub struct Routed {
    pub response: Response,
    pub quota: Option<rate_limit::Quota>,
}

/// Rate limiting for `/api`, then the route: the upstream, or the gateway's own pages.
/// `peer`: the address of the client's connection.
pub async fn dispatch(
    gw: &Gateway,
    route: Route,
    request_id: &str,
    peer: IpAddr,
    mut req: Request,
) -> Routed {
    if !is_api(req.uri().path()) {
        return Routed {
            response: serve_local(gw, req).await,
            quota: None,
        };
    }
    let admission = match rate_limit::admit(gw, &mut req, peer).await {
        Ok(admission) => admission,
        Err(refused) => {
            return Routed {
                response: refused,
                quota: None,
            };
        }
    };
    let response = match route.upstream {
        Some(i) => proxy_request(&gw.state, i, request_id, peer, admission.auth, req).await,
        None => serve_local(gw, req).await,
    };
    Routed {
        response,
        quota: admission.quota,
    }
}

async fn serve_local(gw: &Gateway, req: Request) -> Response {
    match gw.local.clone().oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Proxies to upstream `index`; `auth` is the token check rate limiting already made, if any.
async fn proxy_request(
    gw: &GatewayState,
    index: usize,
    request_id: &str,
    peer: IpAddr,
    auth: Option<rate_limit::EdgeAuth>,
    req: Request,
) -> Response {
    let upstream = &gw.upstreams[index];

    let caller = if upstream.config.requires_token {
        let checked = match auth {
            Some(rate_limit::EdgeAuth(result)) => result,
            None => Err(Problem::new(ProblemKind::Unauthenticated)
                .detail("Send an access token as `Authorization: Bearer <token>`")),
        };
        match checked {
            Ok(user) => Some(user),
            Err(p) => return p.into_response(),
        }
    } else {
        None
    };

    let ctx = ForwardContext {
        request_id,
        user_id: caller.as_ref().map(|c| c.sub.as_str()),
        peer_ip: Some(peer),
        trust_forwarded: gw.config.forwarded_hops > 0,
        max_body: gw.config.max_body_bytes,
        retries: gw.config.retries,
        budget: &gw.retry_budget,
        rewrites: &gw.rewrites,
        upstreams: &gw.upstreams,
    };
    let started = Instant::now();
    let result = Box::pin(proxy::forward(upstream, req, &ctx)).await;
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(response) => {
            let status = plangen_core::metrics::status_label(response.status().as_u16());
            gw.proxy_metrics.observe(upstream.name(), status, seconds);
            response
        }
        Err(e) => {
            gw.proxy_metrics
                .observe(upstream.name(), e.outcome(), seconds);
            tracing::warn!(upstream = upstream.name(), error = ?e, "proxying failed");
            e.problem(upstream.name(), gw.config.max_body_bytes)
                .into_response()
        }
    }
}

async fn api_not_found() -> Response {
    Problem::new(ProblemKind::NotFound)
        .detail(
            "No such API endpoint; the API lives under /api/v1/auth, /api/v1/plans and \
             /api/v1/templates (see /api/docs)",
        )
        .into_response()
}

/// The gateway's own pages, behind the edge policy of [`edge::handle`]: the merged OpenAPI
/// document and the docs page, `/api` paths that match no route (404 problem), the
/// operational endpoints and the SPA.
fn local_routes(state: GatewayState) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::merged))
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
        .with_state(state)
}
