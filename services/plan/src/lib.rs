//! The plan service: plans, their items, schedules and calendars under `/api/plans`.
//!
//! [`PlanConfig`] (env) → [`PlanState`] (store, token verifier, template client) → [`app`] →
//! `plangen_core::serve`.

pub mod config;
pub use plangen_core::rest as http;
pub mod ics;
pub mod model;
mod routes;
pub mod schedule;
pub mod store;
pub mod templates_client;
pub mod vtimezone;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use plangen_core::service_app::{database_check, service_app};
use plangen_core::shared_state::SharedState;
use plangen_core::{Authenticator, ServiceOps};

pub use config::{Database, PlanConfig};
pub use routes::ApiDoc;

use store::{MongoPlanStore, PlanStore, SqlitePlanStore, StoreError};
use templates_client::TemplatesClient;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct PlanState {
    pub store: Arc<dyn PlanStore>,
    pub authenticator: Authenticator,
    pub templates: TemplatesClient,
    pub shared: SharedState,
    pub config: Arc<PlanConfig>,
}

impl FromRef<PlanState> for Authenticator {
    fn from_ref(state: &PlanState) -> Self {
        state.authenticator.clone()
    }
}

/// Opens the configured store (without migrating).
pub async fn open_store(database: &Database) -> Result<Arc<dyn PlanStore>, StoreError> {
    Ok(match database {
        Database::Mongo(settings) => Arc::new(MongoPlanStore::connect(settings).await?),
        Database::Sqlite(path) => Arc::new(SqlitePlanStore::open(path).await?),
    })
}

impl PlanState {
    /// Opens the store, brings its schema/indexes up to date, sets up clients.
    pub async fn new(config: PlanConfig) -> Result<Self, StoreError> {
        let store = open_store(&config.database).await?;
        store.migrate().await?;
        let shared = SharedState::from_config(config.redis.as_ref());
        Ok(Self::with_parts(config, store, shared))
    }

    pub fn with_parts(config: PlanConfig, store: Arc<dyn PlanStore>, shared: SharedState) -> Self {
        let authenticator = Authenticator::verifier(
            &config.access_token_secret,
            shared.deny_list.clone(),
            config.deny_list_fail_open,
        );
        let templates = TemplatesClient::new(&config.template_url, config.template_timeout);
        Self {
            store,
            authenticator,
            templates,
            shared,
            config: Arc::new(config),
        }
    }
}

/// The plan service's router, operational endpoints included.
pub fn app(state: PlanState) -> Router {
    use utoipa::OpenApi as _;
    let ops = ServiceOps::new("plan", ApiDoc::openapi())
        .check(database_check(state.store.clone(), |store| async move {
            store.ping().await
        }))
        .request_timeout(state.config.request_timeout);
    let (shared, config) = (state.shared.clone(), state.config.clone());
    service_app(routes::router(state), ops, &shared, &config.allowed_origins)
}
