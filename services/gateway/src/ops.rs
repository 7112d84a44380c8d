//! `/healthz` and `/readyz` (upstreams and Redis, with detail).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plangen_core::ReadinessCheck;
use serde::Serialize;

use crate::GatewayState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok", "service": "gateway" }))
}

#[derive(Serialize)]
struct Check {
    name: String,
    ok: bool,
    /// Whether this check failing makes the gateway unready.
    critical: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Ready unless something makes every request fail: Redis down with rate limiting fail-closed.
/// An upstream being down is reported (status `degraded`) but does not pull the gateway out of
/// rotation: the SPA and the other upstreams still work, and the affected routes already answer
/// 503 problems.
pub async fn readyz(State(gw): State<GatewayState>) -> Response {
    let upstream_checks = futures::future::join_all(gw.upstreams.iter().map(|up| async move {
        let result = match up.get_small("/healthz", CHECK_TIMEOUT).await {
            Ok((status, _)) if status.is_success() => Ok(()),
            Ok((status, _)) => Err(format!("answered {status}")),
            Err(e) => Err(e),
        };
        Check {
            name: format!("upstream:{}", up.name()),
            ok: result.is_ok(),
            critical: false,
            error: result.err(),
            detail: up.breaker.is_open().then(|| "breaker open".to_owned()),
        }
    }));
    let redis_check = async {
        let redis = gw.shared.redis.as_ref()?;
        let result = match tokio::time::timeout(CHECK_TIMEOUT, redis.check()).await {
            Ok(r) => r,
            Err(_) => Err("timed out".to_owned()),
        };
        let fail_open = gw.config.rate_limit.fail_open;
        Some(Check {
            name: "redis".into(),
            ok: result.is_ok(),
            critical: !fail_open,
            detail: result.is_err().then(|| {
                if fail_open {
                    "rate limiting is failing open: requests are not being counted".to_owned()
                } else {
                    "rate limiting is failing closed: /api requests answer 503".to_owned()
                }
            }),
            error: result.err(),
        })
    };
    let (mut checks, redis) = tokio::join!(upstream_checks, redis_check);
    checks.extend(redis);
    let unready = checks.iter().any(|c| c.critical && !c.ok);
    let degraded = checks.iter().any(|c| !c.ok);
    let (status, word) = if unready {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else if degraded {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ready")
    };
    (
        status,
        Json(serde_json::json!({
            "status": word,
            "service": "gateway",
            "rateLimitStore": if gw.shared.redis.is_some() { "redis" } else { "in-process" },
            "checks": checks,
        })),
    )
        .into_response()
}
