//! The end of every service's `app(state)`, written once so the services cannot drift apart in
//! what `/readyz` checks or which origins CORS lets in: the service's routes behind the
//! operational endpoints ([`service_router`]), `/readyz` checking its database and, when it
//! keeps shared state there, Redis, and CORS for `ALLOWED_ORIGINS`.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use axum::Router;

use crate::ops::{FnCheck, ReadinessCheck, ServiceOps, service_router};
use crate::shared_state::SharedState;

/// `/readyz`'s `database` check: `ping` on (a clone of) the service's store.
pub fn database_check<S, F, Fut, E>(store: S, ping: F) -> Arc<dyn ReadinessCheck>
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display,
{
    Arc::new(FnCheck::new("database", move || {
        let pinged = ping(store.clone());
        async move { pinged.await.map_err(|e| e.to_string()) }
    }))
}

/// `routes` behind the operational endpoints of `ops` — with Redis among the readiness checks
/// when `shared` keeps its state there — and CORS for `allowed_origins`.
pub fn service_app(
    routes: Router,
    ops: ServiceOps,
    shared: &SharedState,
    allowed_origins: &[String],
) -> Router {
    let ops = match &shared.redis {
        Some(redis) => ops.check(redis.clone()),
        None => ops,
    };
    service_router(routes, ops).layer(crate::cors::cors_layer(allowed_origins))
}
