//! The template service over HTTP, on the caller's behalf (their bearer token is forwarded,
//! so the template service applies its own visibility rules).

use std::time::Duration;

use plangen_core::{Problem, ProblemKind};
use serde::Deserialize;

/// The parts of a template a plan is made from.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSnapshot {
    pub id: String,
    pub version: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub steps: Vec<StepSnapshot>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSnapshot {
    pub title: String,
    #[serde(default)]
    pub notes: Option<String>,
    pub offset_days: i32,
    #[serde(default)]
    pub time_of_day: Option<String>,
    #[serde(default)]
    pub duration_minutes: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("template not found")]
    NotFound,
    #[error("the template service timed out")]
    Timeout,
    #[error("the template service is unreachable: {0}")]
    Unreachable(String),
    #[error("the template service answered badly: {0}")]
    BadResponse(String),
}

impl From<FetchError> for Problem {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::NotFound => Problem::not_found("Template"),
            FetchError::Timeout => {
                tracing::warn!(error = %e, "template fetch failed");
                Problem::new(ProblemKind::GatewayTimeout)
                    .detail("The template service did not answer in time; try again")
            }
            FetchError::Unreachable(_) | FetchError::BadResponse(_) => {
                tracing::warn!(error = %e, "template fetch failed");
                Problem::new(ProblemKind::BadGateway)
                    .detail("The template service could not be reached; try again shortly")
            }
        }
    }
}

#[derive(Clone)]
pub struct TemplatesClient {
    base_url: String,
    http: reqwest::Client,
}

impl TemplatesClient {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .timeout(timeout)
            .build()
            .expect("a plain HTTP client builds");
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// `GET {base}/api/templates/{id}` with the caller's `Authorization`.
    pub async fn fetch(&self, id: &str, token: &str) -> Result<TemplateSnapshot, FetchError> {
        let url = format!(
            "{}/api/templates/{}",
            self.base_url,
            crate::http::encode(id)
        );
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    FetchError::Timeout
                } else {
                    FetchError::Unreachable(e.to_string())
                }
            })?;
        match response.status().as_u16() {
            200 => response.json().await.map_err(|e| {
                if e.is_timeout() {
                    FetchError::Timeout
                } else {
                    FetchError::BadResponse(e.to_string())
                }
            }),
            404 => Err(FetchError::NotFound),
            status => Err(FetchError::BadResponse(format!("status {status}"))),
        }
    }
}
