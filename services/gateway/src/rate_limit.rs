//! Rate limiting at the edge: fixed windows counted in the shared [`WindowCounter`] (Redis's
//! atomic script, so every replica shares one budget; in process in the embedded default).
//!
//! Every `/api` response carries the standard headers (`RateLimit-Policy`, `RateLimit`, in the
//! draft-7 form express-rate-limit sends) and the legacy `RateLimit-Limit/-Remaining/-Reset`.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use plangen_core::shared_state::{SharedStateError, WindowCount, WindowCounter};
use plangen_core::{AuthUser, Problem, ProblemKind};

use crate::GatewayState;
use crate::config::RateLimitConfig;

/// Paths with the stricter, separate budget: they take no token and guard passwords.
pub const AUTH_SENSITIVE_PATHS: [&str; 3] = [
    "/api/v1/auth/login",
    "/api/v1/auth/register",
    "/api/v1/auth/refresh",
];

/// A budget: `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub limit: u64,
    pub window: Duration,
}

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Where a caller stands in one policy after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub policy: Policy,
    pub count: u64,
    pub resets_in: Duration,
}

impl Quota {
    pub fn remaining(&self) -> u64 {
        self.policy.limit.saturating_sub(self.count)
    }

    pub fn exceeded(&self) -> bool {
        self.count > self.policy.limit
    }

    /// Whole seconds until the window resets, never 0 while it is running.
    pub fn reset_secs(&self) -> u64 {
        self.resets_in.as_millis().div_ceil(1000).max(1) as u64
    }

    /// Sets `RateLimit-Policy`, `RateLimit` and the legacy `RateLimit-Limit/-Remaining/-Reset`
    /// (on every `/api` answer, so written without parsing anything).
    pub fn apply_headers(&self, headers: &mut HeaderMap) {
        // One buffer per value: a slice of a shared buffer would cost two atomic reference
        // count updates each, more than an allocation.
        let limit = self.policy.limit;
        let remaining = self.remaining();
        let reset = self.reset_secs();
        let mut digits = itoa::Buffer::new();
        let mut policy = bytes::BytesMut::with_capacity(24);
        policy.extend_from_slice(digits.format(limit).as_bytes());
        policy.extend_from_slice(b";w=");
        policy.extend_from_slice(
            digits
                .format(self.policy.window.as_secs().max(1))
                .as_bytes(),
        );
        let mut combined = bytes::BytesMut::with_capacity(64);
        combined.extend_from_slice(b"limit=");
        combined.extend_from_slice(digits.format(limit).as_bytes());
        combined.extend_from_slice(b", remaining=");
        combined.extend_from_slice(digits.format(remaining).as_bytes());
        combined.extend_from_slice(b", reset=");
        combined.extend_from_slice(digits.format(reset).as_bytes());
        let valid = "digits and ascii punctuation are a valid header value";
        headers.insert(
            RATELIMIT_POLICY,
            HeaderValue::from_maybe_shared(policy.freeze()).expect(valid),
        );
        headers.insert(
            RATELIMIT,
            HeaderValue::from_maybe_shared(combined.freeze()).expect(valid),
        );
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(reset));
    }
}

/// The counters and the policies; remembers a Redis outage briefly so an outage costs one
/// failed attempt per second, not one per request.
pub struct RateLimiter {
    counters: Arc<dyn WindowCounter>,
    pub config: RateLimitConfig,
    down_until: Mutex<Option<Instant>>,
}

const OUTAGE_MEMORY: Duration = Duration::from_secs(1);

impl RateLimiter {
    pub fn new(counters: Arc<dyn WindowCounter>, config: RateLimitConfig) -> Self {
        Self {
            counters,
            config,
            down_until: Mutex::new(None),
        }
    }

    pub fn general(&self) -> Policy {
        Policy {
            limit: self.config.max_requests,
            window: self.config.window,
        }
    }

    pub fn auth(&self) -> Policy {
        Policy {
            limit: self.config.auth_max_requests,
            window: self.config.window,
        }
    }

    pub async fn hit(&self, key: &str, policy: Policy) -> Result<Quota, SharedStateError> {
        if self
            .down_until
            .lock()
            .expect("rate-limit lock")
            .is_some_and(|until| until > Instant::now())
        {
            return Err(SharedStateError::Unreachable(
                "recently unreachable; retrying shortly".into(),
            ));
        }
        match self.counters.hit(key, policy.window).await {
            Ok(WindowCount { count, resets_in }) => Ok(Quota {
                policy,
                count,
                resets_in,
            }),
            Err(e) => {
                if matches!(e, SharedStateError::Unreachable(_)) {
                    *self.down_until.lock().expect("rate-limit lock") =
                        Some(Instant::now() + OUTAGE_MEMORY);
                }
                Err(e)
            }
        }
    }
}

/// The client's address: the connection's peer, or the first `X-Forwarded-For` entry when
/// the gateway is told it sits behind a trusted ingress.
pub fn client_ip(req: &Request, trust_forwarded: bool) -> Option<IpAddr> {
    if trust_forwarded
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    req.extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The outcome of checking the request's bearer token, made once per request here (the
/// token check is the costliest thing the gateway does) and reused by the edge check.
#[derive(Clone)]
pub struct EdgeAuth(pub Result<AuthUser, Problem>);

/// Checks the bearer token, if any, with the services' verifier (signature, claims, deny-list).
async fn check_token(gw: &GatewayState, header: Option<HeaderValue>) -> Option<EdgeAuth> {
    let header = header?;
    Some(EdgeAuth(
        gw.authenticator
            .authenticate_header(header.to_str().ok())
            .await,
    ))
}

/// What rate limiting decided for an `/api` request.
pub struct Admission {
    /// The quota to report on the response (none when the store was unreachable, fail-open).
    pub quota: Option<Quota>,
    /// The token check, when a token was sent (reused by routes that require one).
    pub auth: Option<EdgeAuth>,
}

/// Counts `req` against its budgets: `Err` is the answer (429, or 503 when the store is
/// unreachable and rate limiting fails closed), `Ok` lets it through.
pub async fn admit(gw: &GatewayState, req: &mut Request) -> Result<Admission, Response> {
    // `&mut`: a shared reference to the request is not `Send` (its body is not `Sync`), so
    // only parts of it are held across the awaits below.
    let ip = client_ip(req, gw.config.trust_forwarded_for);
    let sensitive = AUTH_SENSITIVE_PATHS.contains(&req.uri().path());
    let key = |prefix: &str, id: &str| {
        let mut key = String::with_capacity(prefix.len() + id.len());
        key.push_str(prefix);
        key.push_str(id);
        key
    };
    let ip_key = |prefix: &str| match ip {
        Some(ip) => key(prefix, &ip.to_string()),
        None => key(prefix, "unknown"),
    };
    let auth = check_token(gw, req.headers().get(AUTHORIZATION).cloned()).await;
    let general_key = match &auth {
        Some(EdgeAuth(Ok(user))) => key("rl:user:", &user.user_id),
        _ => ip_key("rl:ip:"),
    };

    let limiter = &gw.limiter;
    let mut quotas = [None, None];
    let mut failure = None;
    match limiter.hit(&general_key, limiter.general()).await {
        Ok(q) => quotas[0] = Some(q),
        Err(e) => failure = Some(e),
    }
    if sensitive {
        match limiter.hit(&ip_key("rl-auth:ip:"), limiter.auth()).await {
            Ok(q) => quotas[1] = Some(q),
            Err(e) => failure = Some(e),
        }
    }
    if let Some(e) = failure {
        if limiter.config.fail_open {
            tracing::warn!(error = %e, "rate-limit store unreachable; letting the request through (fail-open)");
        } else {
            tracing::error!(error = %e, "rate-limit store unreachable; refusing the request (fail-closed)");
            let p = Problem::new(ProblemKind::ServiceUnavailable)
                .detail("Rate limiting is unavailable, try again shortly")
                .retry_after(1);
            return Err(p.into_response());
        }
    }
    // The binding quota: an exceeded one, else the one with the least left.
    let binding = quotas
        .iter()
        .flatten()
        .copied()
        .max_by_key(|q| (q.exceeded(), std::cmp::Reverse(q.remaining())));
    if let Some(q) = binding
        && q.exceeded()
    {
        tracing::info!(key = %general_key, limit = q.policy.limit, "rate limit exceeded");
        let p = Problem::new(ProblemKind::TooManyRequests)
            .detail(format!(
                "At most {} requests per {} s; try again in {} s",
                q.policy.limit,
                q.policy.window.as_secs().max(1),
                q.reset_secs()
            ))
            .retry_after(q.reset_secs());
        let mut response = p.into_response();
        q.apply_headers(response.headers_mut());
        return Err(response);
    }
    Ok(Admission {
        quota: binding,
        auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_state_limit_remaining_and_reset() {
        let q = Quota {
            policy: Policy {
                limit: 10,
                window: Duration::from_secs(60),
            },
            count: 3,
            resets_in: Duration::from_millis(41_200),
        };
        let mut h = HeaderMap::new();
        q.apply_headers(&mut h);
        assert_eq!(h["ratelimit-policy"], "10;w=60");
        assert_eq!(h["ratelimit"], "limit=10, remaining=7, reset=42");
        assert_eq!(h["ratelimit-limit"], "10");
        assert_eq!(h["ratelimit-remaining"], "7");
        assert_eq!(h["ratelimit-reset"], "42");
        let over = Quota { count: 11, ..q };
        assert!(over.exceeded() && over.remaining() == 0);
    }
}
