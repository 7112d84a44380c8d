//! RFC 9457 problem details: the one error shape every Plangen endpoint answers with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::telemetry::current_request_id;

/// Base of every problem `type` URI. The slugs after it are a stable API: clients match on them.
pub const PROBLEM_TYPE_BASE: &str = "https://plangen.io/problems/";
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The kinds of problem Plangen reports; each has a stable slug, title and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    MalformedRequest,
    UnsupportedMediaType,
    PayloadTooLarge,
    Validation,
    Unauthenticated,
    InvalidToken,
    TokenExpired,
    SessionRevoked,
    InvalidCredentials,
    RefreshTokenReused,
    Forbidden,
    AccountInactive,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    PreconditionRequired,
    TooManyRequests,
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
    Timeout,
    RequestTimeout,
    Internal,
}

impl ProblemKind {
    pub fn slug(self) -> &'static str {
        use ProblemKind::*;
        match self {
            MalformedRequest => "malformed-request",
            UnsupportedMediaType => "unsupported-media-type",
            PayloadTooLarge => "payload-too-large",
            Validation => "validation",
            Unauthenticated => "unauthenticated",
            InvalidToken => "invalid-token",
            TokenExpired => "token-expired",
            SessionRevoked => "session-revoked",
            InvalidCredentials => "invalid-credentials",
            RefreshTokenReused => "refresh-token-reused",
            Forbidden => "forbidden",
            AccountInactive => "account-inactive",
            NotFound => "not-found",
            MethodNotAllowed => "method-not-allowed",
            Conflict => "conflict",
            PreconditionFailed => "precondition-failed",
            PreconditionRequired => "precondition-required",
            TooManyRequests => "too-many-requests",
            BadGateway => "bad-gateway",
            ServiceUnavailable => "service-unavailable",
            GatewayTimeout => "gateway-timeout",
            Timeout => "timeout",
            RequestTimeout => "request-timeout",
            Internal => "internal",
        }
    }

    pub fn title(self) -> &'static str {
        use ProblemKind::*;
        match self {
            MalformedRequest => "The request could not be read",
            UnsupportedMediaType => "Unsupported media type",
            PayloadTooLarge => "The request body is too large",
            Validation => "The request is not valid",
            Unauthenticated => "Authentication required",
            InvalidToken => "The access token is not valid",
            TokenExpired => "The access token has expired",
            SessionRevoked => "The session has ended",
            InvalidCredentials => "Invalid credentials",
            RefreshTokenReused => "The refresh token was already used",
            Forbidden => "Not allowed",
            AccountInactive => "The account is deactivated",
            NotFound => "Not found",
            MethodNotAllowed => "Method not allowed",
            Conflict => "Conflict",
            PreconditionFailed => "The resource has changed",
            PreconditionRequired => "A precondition is required",
            TooManyRequests => "Too many requests",
            BadGateway => "An upstream service failed",
            ServiceUnavailable => "Service unavailable",
            GatewayTimeout => "An upstream service timed out",
            Timeout => "The request did not finish in time",
            RequestTimeout => "The request body did not arrive in time",
            Internal => "Internal error",
        }
    }

    pub fn status(self) -> StatusCode {
        use ProblemKind::*;
        match self {
            MalformedRequest => StatusCode::BAD_REQUEST,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Validation => StatusCode::UNPROCESSABLE_ENTITY,
            Unauthenticated | InvalidToken | TokenExpired | SessionRevoked | InvalidCredentials
            | RefreshTokenReused => StatusCode::UNAUTHORIZED,
            Forbidden | AccountInactive => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Conflict => StatusCode::CONFLICT,
            PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            BadGateway => StatusCode::BAD_GATEWAY,
            ServiceUnavailable | Timeout => StatusCode::SERVICE_UNAVAILABLE,
            GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn type_uri(self) -> String {
        format!("{PROBLEM_TYPE_BASE}{}", self.slug())
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// Path of the field, dotted (`steps.2.title`).
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request id, also sent as `X-Request-Id`, to quote in bug reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip)]
    pub kind: Option<ProblemKind>,
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(kind: ProblemKind) -> Self {
        Self {
            type_uri: kind.type_uri(),
            title: kind.title().to_owned(),
            status: kind.status().as_u16(),
            detail: None,
            request_id: None,
            errors: Vec::new(),
            kind: Some(kind),
            retry_after_secs: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs.max(1));
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ProblemKind::NotFound).detail(format!("{what} not found"))
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ProblemKind::Validation)
            .detail("One or more fields are invalid")
            .field(field, message)
    }

    /// A 500 whose cause is logged (with the request id) and never shown to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ProblemKind::Internal)
            .detail("An unexpected error occurred; quote the request id when reporting it")
    }

    /// A 503 for a dependency that cannot be reached; the cause is logged, not returned.
    pub fn unavailable(dependency: &str, cause: impl std::fmt::Display) -> Self {
        tracing::warn!(dependency, error = %cause, "dependency unavailable");
        Self::new(ProblemKind::ServiceUnavailable)
            .detail(format!("{dependency} is unavailable, try again shortly"))
            .retry_after(1)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.title, self.status)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        if self.request_id.is_none() {
            self.request_id = current_request_id();
        }
        let status = self.status_code();
        let retry_after = self.retry_after_secs;
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Whether an sqlx error means the database could not be reached (no connection within the
/// acquire timeout, a broken socket) rather than that it refused the request: a 503, not a 500.
pub fn sqlx_unreachable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

/// Makes a problem out of a bare status (for axum's own rejections and layers).
pub fn problem_for_status(status: StatusCode) -> Problem {
    let kind = match status {
        StatusCode::BAD_REQUEST => ProblemKind::MalformedRequest,
        StatusCode::UNAUTHORIZED => ProblemKind::Unauthenticated,
        StatusCode::FORBIDDEN => ProblemKind::Forbidden,
        StatusCode::NOT_FOUND => ProblemKind::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ProblemKind::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ProblemKind::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemKind::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ProblemKind::Validation,
        StatusCode::TOO_MANY_REQUESTS => ProblemKind::TooManyRequests,
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => ProblemKind::GatewayTimeout,
        StatusCode::SERVICE_UNAVAILABLE => ProblemKind::ServiceUnavailable,
        StatusCode::BAD_GATEWAY => ProblemKind::BadGateway,
        _ if status.is_client_error() => ProblemKind::MalformedRequest,
        _ => ProblemKind::Internal,
    };
    let mut problem = Problem::new(kind);
    problem.status = status.as_u16();
    problem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn problem_response_has_problem_content_type_and_retry_after() {
        let response = Problem::new(ProblemKind::TooManyRequests)
            .retry_after(7)
            .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            PROBLEM_CONTENT_TYPE
        );
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json["type"],
            "https://plangen.io/problems/too-many-requests"
        );
        assert_eq!(json["status"], 429);
        assert!(json.get("errors").is_none());
    }

    #[test]
    fn every_kind_has_a_distinct_slug() {
        use ProblemKind::*;
        let kinds = [
            MalformedRequest,
            UnsupportedMediaType,
            PayloadTooLarge,
            Validation,
            Unauthenticated,
            InvalidToken,
            TokenExpired,
            SessionRevoked,
            InvalidCredentials,
            RefreshTokenReused,
            Forbidden,
            AccountInactive,
            NotFound,
            MethodNotAllowed,
            Conflict,
            PreconditionFailed,
            PreconditionRequired,
            TooManyRequests,
            BadGateway,
            ServiceUnavailable,
            GatewayTimeout,
            Timeout,
            RequestTimeout,
            Internal,
        ];
        let slugs: std::collections::HashSet<_> = kinds.iter().map(|k| k.slug()).collect();
        assert_eq!(slugs.len(), kinds.len());
    }
}
