//! The template service: reusable plan templates under `/api/templates`.
//!
//! [`TemplateConfig`] (env) → [`TemplateState`] (store, token verifier) → [`app`] →
//! `plangen_core::serve`.

pub mod config;
pub use plangen_core::rest as http;
pub mod model;
mod routes;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use plangen_core::service_app::{database_check, service_app};
use plangen_core::shared_state::SharedState;
use plangen_core::{Authenticator, ServiceOps};

pub use config::{Database, TemplateConfig};
pub use routes::ApiDoc;

use store::{MongoTemplateStore, SqliteTemplateStore, StoreError, TemplateStore};

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct TemplateState {
    pub store: Arc<dyn TemplateStore>,
    pub authenticator: Authenticator,
    pub shared: SharedState,
    pub config: Arc<TemplateConfig>,
}

impl FromRef<TemplateState> for Authenticator {
    fn from_ref(state: &TemplateState) -> Self {
        state.authenticator.clone()
    }
}

/// Opens the configured store (without migrating).
pub async fn open_store(database: &Database) -> Result<Arc<dyn TemplateStore>, StoreError> {
    Ok(match database {
        Database::Mongo(settings) => Arc::new(MongoTemplateStore::connect(settings).await?),
        Database::Sqlite(path) => Arc::new(SqliteTemplateStore::open(path).await?),
    })
}

impl TemplateState {
    /// Opens the store, brings its schema/indexes up to date, sets up the token verifier.
    pub async fn new(config: TemplateConfig) -> Result<Self, StoreError> {
        let store = open_store(&config.database).await?;
        store.migrate().await?;
        let shared = SharedState::from_config(config.redis.as_ref());
        Ok(Self::with_parts(config, store, shared))
    }

    pub fn with_parts(
        config: TemplateConfig,
        store: Arc<dyn TemplateStore>,
        shared: SharedState,
    ) -> Self {
        let authenticator = Authenticator::verifier(
            &config.access_token_secret,
            shared.deny_list.clone(),
            config.deny_list_fail_open,
        );
        Self {
            store,
            authenticator,
            shared,
            config: Arc::new(config),
        }
    }
}

/// The template service's router, operational endpoints included.
pub fn app(state: TemplateState) -> Router {
    use utoipa::OpenApi as _;
    let ops = ServiceOps::new("template", ApiDoc::openapi())
        .check(database_check(state.store.clone(), |store| async move {
            store.ping().await
        }))
        .request_timeout(state.config.request_timeout);
    let (shared, config) = (state.shared.clone(), state.config.clone());
    service_app(routes::router(state), ops, &shared, &config.allowed_origins)
}
