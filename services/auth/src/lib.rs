//! The auth service: users, sessions and tokens under `/api/auth`.
//!
//! `Config` (env) → [`AuthState`] (store, keys, shared state) → [`app`] → `plangen_core::serve`.

pub mod config;
pub mod passwords;
mod routes;
pub mod store;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use plangen_core::service_app::{database_check, service_app};
use plangen_core::shared_state::SharedState;
use plangen_core::{Authenticator, ServiceOps, TokenKeys};

pub use config::{AuthConfig, Database};
pub use routes::ApiDoc;

use passwords::Passwords;
use store::{PostgresUserStore, SqliteUserStore, StoreError, UserStore};
use throttle::LoginThrottle;
use tokens::RefreshKeys;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AuthState {
    pub store: Arc<dyn UserStore>,
    pub passwords: Arc<Passwords>,
    pub refresh_keys: Arc<RefreshKeys>,
    pub authenticator: Authenticator,
    pub throttle: Arc<LoginThrottle>,
    pub shared: SharedState,
    pub config: Arc<AuthConfig>,
}

impl FromRef<AuthState> for Authenticator {
    fn from_ref(state: &AuthState) -> Self {
        state.authenticator.clone()
    }
}

/// Opens the configured store (without migrating).
pub async fn open_store(database: &Database) -> Result<Arc<dyn UserStore>, StoreError> {
    Ok(match database {
        Database::Postgres(url) => Arc::new(PostgresUserStore::connect(url).await?),
        Database::Sqlite(path) => Arc::new(SqliteUserStore::open(path).await?),
    })
}

impl AuthState {
    /// Connects to the store and runs its migrations, and sets up keys and shared state.
    pub async fn new(config: AuthConfig) -> Result<Self, StoreError> {
        let store = open_store(&config.database).await?;
        store.migrate().await?;
        let shared = SharedState::from_config(config.redis.as_ref());
        Ok(Self::with_parts(config, store, shared))
    }

    pub fn with_parts(config: AuthConfig, store: Arc<dyn UserStore>, shared: SharedState) -> Self {
        let access = Arc::new(TokenKeys::new(
            &config.access_token_secret,
            config.access_token_ttl,
        ));
        let refresh_keys = Arc::new(RefreshKeys::new(
            &config.refresh_token_secret,
            config.refresh_token_ttl,
        ));
        let authenticator =
            Authenticator::new(access, shared.deny_list.clone(), config.deny_list_fail_open);
        let throttle = Arc::new(LoginThrottle::new(
            shared.counters.clone(),
            config.login_throttle.clone(),
        ));
        Self {
            store,
            passwords: Arc::new(Passwords::new(config.max_concurrent_hashes)),
            refresh_keys,
            authenticator,
            throttle,
            shared,
            config: Arc::new(config),
        }
    }

    pub fn access_keys(&self) -> &TokenKeys {
        &self.authenticator.keys
    }
}

/// The auth service's router, operational endpoints included.
pub fn app(state: AuthState) -> Router {
    use utoipa::OpenApi as _;
    let ops = ServiceOps::new("auth", ApiDoc::openapi())
        .check(database_check(state.store.clone(), |store| async move {
            store.ping().await
        }))
        .request_timeout(state.config.request_timeout);
    let (shared, config) = (state.shared.clone(), state.config.clone());
    service_app(routes::router(state), ops, &shared, &config.allowed_origins)
}
