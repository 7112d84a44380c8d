//! Rate limiting at the edge: fixed windows counted in the shared [`WindowCounter`] (Redis's
//! atomic script, so every replica shares one budget; in process in the embedded default).
//!
//! Every `/api` response carries the standard headers (`RateLimit-Policy`, `RateLimit`, in the
//! draft-7 form express-rate-limit sends) and the legacy `RateLimit-Limit/-Remaining/-Reset`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use plangen_core::shared_state::{SharedStateError, WindowCount, WindowCounter};
use plangen_core::{AccessClaims, Problem, ProblemKind};

use crate::Gateway;
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
    /// `RateLimit-Policy` and `RateLimit-Limit` (the same on every answer under this policy:
    /// written once, interned).
    policy_value: &'static str,
    limit_value: &'static str,
}

impl Policy {
    pub fn new(limit: u64, window: Duration) -> Self {
        let window_secs = window.as_secs().max(1);
        Self {
            limit,
            window,
            policy_value: plangen_core::metrics::label(&format!("{limit};w={window_secs}")),
            limit_value: plangen_core::metrics::label(&limit.to_string()),
        }
    }
}

pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Where a caller stands in one policy after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub policy: Policy,
    pub count: u64,
    pub resets_in: Duration,
}

impl Quota {
    fn new(policy: Policy, WindowCount { count, resets_in }: WindowCount) -> Self {
        Self {
            policy,
            count,
            resets_in,
        }
    }
}

/// The values of the five rate-limit headers for one answer.
pub struct QuotaHeaders {
    pub policy: HeaderValue,
    pub combined: HeaderValue,
    pub limit: HeaderValue,
    pub remaining: HeaderValue,
    pub reset: HeaderValue,
}

/// A header value from ASCII digits and punctuation, in a buffer of its own (one small
/// allocation: a slice of a shared buffer would cost two atomic reference count updates,
/// and `HeaderValue::from(u64)` grows a `BytesMut` through its slow path).
fn plain_value(text: &[u8]) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(text))
        .expect("digits and ascii punctuation are a valid header value")
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

    /// `RateLimit-Policy`, `RateLimit` (draft-7) and the legacy `RateLimit-Limit/-Remaining/
    /// -Reset`, on every `/api` answer: written without `core::fmt` or parsing.
    pub fn header_values(&self) -> QuotaHeaders {
        let mut digits = itoa::Buffer::new();
        let remaining = digits.format(self.remaining());
        // "limit=" + 20 digits + ", remaining=" + 20 + ", reset=" + 20 at the most.
        let mut combined = [0u8; 96];
        let mut len = 0;
        for part in [
            b"limit=".as_slice(),
            self.policy.limit_value.as_bytes(),
            b", remaining=",
            remaining.as_bytes(),
            b", reset=",
        ] {
            combined[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        let remaining = plain_value(remaining.as_bytes());
        let reset = digits.format(self.reset_secs());
        combined[len..len + reset.len()].copy_from_slice(reset.as_bytes());
        len += reset.len();
        QuotaHeaders {
            policy: HeaderValue::from_static(self.policy.policy_value),
            combined: plain_value(&combined[..len]),
            limit: HeaderValue::from_static(self.policy.limit_value),
            remaining,
            reset: plain_value(reset.as_bytes()),
        }
    }

    /// Sets the five rate-limit headers on `headers` (an answer the edge makes itself).
    pub fn apply_headers(&self, headers: &mut HeaderMap) {
        let values = self.header_values();
        headers.insert(RATELIMIT_POLICY, values.policy);
        headers.insert(RATELIMIT, values.combined);
        headers.insert(RATELIMIT_LIMIT, values.limit);
        headers.insert(RATELIMIT_REMAINING, values.remaining);
        headers.insert(RATELIMIT_RESET, values.reset);
    }
}

/// The counters and the policies. (A Redis outage is remembered by the store itself, so a
/// request during one fails at once instead of waiting on Redis.)
pub struct RateLimiter {
    counters: Arc<dyn WindowCounter>,
    pub config: RateLimitConfig,
    general: Policy,
    auth: Policy,
}

impl RateLimiter {
    pub fn new(counters: Arc<dyn WindowCounter>, config: RateLimitConfig) -> Self {
        Self {
            general: Policy::new(config.max_requests, config.window),
            auth: Policy::new(config.auth_max_requests, config.window),
            counters,
            config,
        }
    }

    pub fn general(&self) -> Policy {
        self.general
    }

    pub fn auth(&self) -> Policy {
        self.auth
    }

    pub async fn hit(&self, key: &str, policy: Policy) -> Result<Quota, SharedStateError> {
        // Counted in process: at hand, no future to box.
        if let Some(counted) = self.counters.hit_now(key, policy.window) {
            return Ok(Quota::new(policy, counted));
        }
        Ok(Quota::new(
            policy,
            self.counters.hit(key, policy.window).await?,
        ))
    }
}

/// The client's address: the connection's peer, or, behind trusted proxies, the address the
/// outermost of them saw (`plangen_core::forwarded`; never an entry the client wrote, which
/// would let it pick a fresh budget per request).
pub fn client_ip(req: &Request, peer: IpAddr, forwarded_hops: u8) -> IpAddr {
    plangen_core::forwarded::forwarded_client(req.headers(), forwarded_hops).unwrap_or(peer)
}

/// The outcome of checking the request's bearer token, made once per request here (the
/// token check is the costliest thing the gateway does) and reused by the edge check.
#[derive(Clone)]
pub struct EdgeAuth(pub Result<Arc<AccessClaims>, Problem>);

/// What rate limiting decided for an `/api` request.
pub struct Admission {
    /// The quota to report on the response (none when the store was unreachable, fail-open).
    pub quota: Option<Quota>,
    /// The token check, when a token was sent (reused by routes that require one).
    pub auth: Option<EdgeAuth>,
}

/// A counter key: `prefix` and the client's address, without `core::fmt`.
fn ip_key(prefix: &str, ip: IpAddr) -> String {
    let mut key = String::with_capacity(prefix.len() + 39);
    key.push_str(prefix);
    crate::proxy::push_ip(&mut key, ip);
    key
}

/// Counts `req` against its budgets: `Err` is the answer (429, or 503 when the store is
/// unreachable and rate limiting fails closed), `Ok` lets it through. `peer`: the connection's
/// address.
pub async fn admit(gw: &Gateway, req: &mut Request, peer: IpAddr) -> Result<Admission, Response> {
    // `&mut`: a shared reference to the request is not `Send` (its body is not `Sync`), so
    // only parts of it are held across the awaits below.
    let ip = client_ip(req, peer, gw.config.forwarded_hops);
    let sensitive = AUTH_SENSITIVE_PATHS.contains(&req.uri().path());
    // The token's signature and claims need no I/O; its session (the deny-list) and the
    // budget keyed by the verified user are then asked at once: with Redis, one round trip
    // of waiting instead of two.
    let verified = req
        .headers()
        .get(AUTHORIZATION)
        .map(|header| gw.authenticator.verify_header(header.to_str().ok()));
    // The verified caller (a reference count this thread alone touches: the claims come from
    // its own memory of verified tokens).
    let caller = verified.as_ref().and_then(|v| v.as_ref().ok());
    let general_key = match caller {
        Some(claims) => ["rl:user:", &claims.sub].concat(),
        None => ip_key("rl:ip:", ip),
    };
    let limiter = &gw.limiter;
    let (session, general) = match (&gw.redis, caller) {
        // With Redis, the session and the caller's counter in one script: one command.
        (Some(redis), Some(claims)) => {
            let policy = limiter.general();
            let (counted, denied) = redis
                .hit_and_is_denied(&general_key, policy.window, &claims.sid)
                .await;
            (
                Some(gw.authenticator.session_verdict(claims, denied)),
                counted.map(|counted| Quota::new(policy, counted)),
            )
        }
        _ => {
            let session = async {
                match caller {
                    Some(claims) => Some(gw.authenticator.check_session(claims).await),
                    None => None,
                }
            };
            tokio::join!(session, limiter.hit(&general_key, limiter.general()))
        }
    };
    // A verified token whose session was refused is refused.
    let auth = verified.map(|verified| {
        EdgeAuth(verified.and_then(|claims| match session {
            Some(Err(refused)) => Err(refused),
            _ => Ok(claims),
        }))
    });

    let mut quotas = [None, None];
    let mut failure = None;
    match general {
        Ok(q) => quotas[0] = Some(q),
        Err(e) => failure = Some(e),
    }
    if sensitive {
        match limiter
            .hit(&ip_key("rl-auth:ip:", ip), limiter.auth())
            .await
        {
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
    let binding = binding_quota(&quotas);
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

/// The quota to report: of exceeded ones, the one that resets last (waiting for any other
/// would only meet the next 429); else the one with the least left.
fn binding_quota(quotas: &[Option<Quota>]) -> Option<Quota> {
    quotas.iter().flatten().copied().max_by_key(|q| {
        (
            q.exceeded(),
            q.exceeded().then_some(q.resets_in),
            std::cmp::Reverse(q.remaining()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binding_quota_is_the_exceeded_one_that_resets_last_else_the_tightest() {
        let quota = |limit, count, resets_in_s| Quota {
            policy: Policy::new(limit, Duration::from_secs(60)),
            count,
            resets_in: Duration::from_secs(resets_in_s),
        };
        let (general, auth) = (quota(2, 3, 40), quota(1, 2, 5));
        for order in [[Some(general), Some(auth)], [Some(auth), Some(general)]] {
            assert_eq!(binding_quota(&order).unwrap().resets_in.as_secs(), 40);
        }
        let (roomy, tight) = (quota(100, 10, 50), quota(5, 4, 10));
        assert_eq!(
            binding_quota(&[Some(roomy), Some(tight)])
                .unwrap()
                .remaining(),
            1
        );
        let (under, over) = (quota(100, 99, 50), quota(5, 6, 10));
        assert!(
            binding_quota(&[Some(under), Some(over)])
                .unwrap()
                .exceeded()
        );
        assert!(binding_quota(&[None, None]).is_none());
    }

    #[test]
    fn headers_state_limit_remaining_and_reset() {
        let q = Quota {
            policy: Policy::new(10, Duration::from_secs(60)),
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
