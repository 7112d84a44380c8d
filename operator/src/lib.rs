//! The Plangen operator: a `Plangen` custom resource and the controller that turns one into a
//! running platform. `main.rs` is a thin CLI over this library (controller-rs layout).

pub mod constants;
pub mod controller;
pub mod crd;
pub mod leader;
pub mod metrics;
pub mod render;
pub mod secrets;
pub mod server;
pub mod status;
pub mod yaml;

pub use crd::{Plangen, PlangenSpec, PlangenStatus};

/// Everything that can go wrong in the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API error: {0}")]
    Kube(#[source] kube::Error),
    #[error("finalizer error: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("serialisation failed: {0}")]
    Serialize(#[source] serde_json::Error),
    #[error("YAML: {0}")]
    Yaml(String),
    #[error("invalid Plangen {0}: {1}")]
    Invalid(String, String),
    #[error("the Plangen has no {0}")]
    MissingField(&'static str),
}

impl Error {
    /// A short label for the errors metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Finalizer(_) => "finalizer",
            Self::Serialize(_) | Self::Yaml(_) => "serialize",
            Self::Invalid(..) | Self::MissingField(_) => "invalid",
        }
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Self::Kube(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
