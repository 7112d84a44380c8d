//! Field validation that reports every invalid field at once, as a 422 problem.

use serde::de::DeserializeOwned;

use axum::extract::{FromRequest, Request};

use crate::error::{FieldError, Problem, ProblemKind};
use crate::json::Json;

/// Collects field errors.
#[derive(Debug, Default)]
pub struct Violations {
    errors: Vec<FieldError>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.add(field, message);
        }
    }

    /// Length in characters (not bytes) between `min` and `max`, inclusive.
    pub fn length(&mut self, field: impl Into<String>, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if n < min || n > max {
            let message = if min == 0 {
                format!("must be at most {max} characters")
            } else if n < min && min == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be between {min} and {max} characters")
            };
            self.add(field, message);
        }
    }

    pub fn optional_length(&mut self, field: impl Into<String>, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            self.length(field, v, 0, max);
        }
    }

    pub fn range<T: PartialOrd + std::fmt::Display>(
        &mut self,
        field: impl Into<String>,
        value: T,
        min: T,
        max: T,
    ) {
        if value < min || value > max {
            self.add(field, format!("must be between {min} and {max}"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_result(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let mut problem =
            Problem::new(ProblemKind::Validation).detail("One or more fields are invalid");
        problem.errors = self.errors;
        Err(problem)
    }
}

/// A request type that knows its own rules.
pub trait Validate {
    fn validate(&self, v: &mut Violations);

    fn validated(&self) -> Result<(), Problem> {
        let mut v = Violations::new();
        self.validate(&mut v);
        v.into_result()
    }
}

/// A JSON body that parsed *and* passed its rules.
#[derive(Debug, Clone)]
pub struct Valid<T>(pub T);

impl<T, S> FromRequest<S> for Valid<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        value.validated()?;
        Ok(Valid(value))
    }
}

/// A plain e-mail check: one `@`, a dot in the domain, no spaces. Deliverability is the
/// mail server's business; this only catches typos.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An absolute http(s) URL without spaces.
pub fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "https://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_and_collect_every_field() {
        let mut v = Violations::new();
        v.length("name", "ééé", 1, 3);
        v.length("title", "", 1, 10);
        v.length("bio", &"x".repeat(11), 0, 10);
        let p = v.into_result().unwrap_err();
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "bio"]);
        assert_eq!(p.status, 422);
    }

    #[test]
    fn emails_and_urls() {
        assert!(is_plausible_email("ada@example.org"));
        assert!(!is_plausible_email("ada@example"));
        assert!(!is_plausible_email("a da@example.org"));
        assert!(!is_plausible_email("@example.org"));
        assert!(is_http_url("https://example.org/a.png"));
        assert!(!is_http_url("javascript:alert(1)"));
    }
}
