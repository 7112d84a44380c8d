//! What every Plangen service shares, written once: configuration from the environment,
//! RFC 9457 problem+json errors, a JSON extractor with the same error shape, the access-token
//! verifier (`AuthUser`), shared state across replicas (session deny-list, windowed counters)
//! with Redis and in-process backends, telemetry (JSON logs, request ids, Prometheus metrics),
//! the operational endpoints and graceful serving.

pub mod auth;
pub mod config;
pub mod cors;
pub mod error;
pub mod forwarded;
pub mod json;
pub mod metrics;
#[cfg(feature = "mongo")]
pub mod mongo;
#[cfg(feature = "mongo")]
pub mod mongo_documents;
pub mod ops;
pub mod rest;
pub mod server;
pub mod service_app;
pub mod shared_state;
pub mod sqlite;
#[cfg(feature = "mongo")]
pub mod sqlite_documents;
pub mod tags;
pub mod telemetry;
pub mod validate;

#[cfg(feature = "test-util")]
pub mod testing;

pub use auth::{AccessClaims, AuthUser, Authenticator, TokenKeys};
pub use config::{ConfigError, Env, Secret};
pub use error::{FieldError, Problem, ProblemKind};
pub use json::Json;
pub use ops::{ReadinessCheck, ServiceOps, service_router};
pub use server::{Shutdown, serve};
