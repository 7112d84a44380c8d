//! Redis down: the service stays up, `/readyz` says why, the deny-list check fails closed
//! (503) or open as configured, and everything recovers by itself when Redis returns.

mod common;

use common::*;
use plangen_auth::{AuthConfig, AuthState};
use plangen_core::shared_state::SharedState;
use plangen_core::testing::{self, TcpProxy};
use serde_json::Value;

async fn harness_behind_proxy(extra: &[(&str, &str)]) -> Option<(Harness, TcpProxy)> {
    let (via_proxy, proxy) = testing::redis_behind_proxy().await?;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("auth.db").display());
    let mut config = AuthConfig::from_env(env(&url, extra), &Default::default()).unwrap();
    config.redis = Some(via_proxy.clone());
    let store = plangen_auth::open_store(&config.database).await.unwrap();
    store.migrate().await.unwrap();
    let shared = SharedState::redis(&via_proxy, &testing::unique_prefix());
    let state = AuthState::with_parts(config, store, shared);
    let mut h = Harness::start("sqlite+redis-proxy", state, None).await;
    h.keep_dir(dir);
    Some((h, proxy))
}

async fn ready(h: &Harness) -> (u16, Value) {
    let res = h.http.get(h.server.url("/readyz")).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn fail_closed_answers_503_while_redis_is_down_and_recovers_by_itself() {
    let Some((h, proxy)) = harness_behind_proxy(&[]).await else {
        return;
    };
    let t = h.register("ada@example.org", "ada").await;
    assert_eq!(h.get_auth("/me", &t.access).await.status(), 200);
    assert_eq!(ready(&h).await.0, 200);

    proxy.cut();
    let res = h.get_auth("/me", &t.access).await;
    assert!(res.headers().contains_key("retry-after"));
    let body = assert_problem(res, 503, "service-unavailable").await;
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no connection details leak: {body}"
    );
    let (status, report) = ready(&h).await;
    assert_eq!(status, 503);
    let redis = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "redis")
        .unwrap();
    assert_eq!(redis["ok"], false);
    assert!(!redis["error"].as_str().unwrap().is_empty());
    assert_eq!(
        h.http
            .get(h.server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still alive"
    );

    proxy.restore().await;
    let mut recovered = false;
    for _ in 0..50 {
        if h.get_auth("/me", &t.access).await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service reconnects to Redis by itself");
    assert_eq!(ready(&h).await.0, 200);
}

#[tokio::test]
async fn fail_open_lets_valid_tokens_through_while_redis_is_down() {
    let Some((h, proxy)) = harness_behind_proxy(&[("DENY_LIST_FAIL_OPEN", "true")]).await else {
        return;
    };
    let t = h.register("ada@example.org", "ada").await;
    proxy.cut();
    assert_eq!(h.get_auth("/me", &t.access).await.status(), 200);
    assert_eq!(ready(&h).await.0, 503, "readiness still reports the outage");
    // Login keeps working: the throttle is skipped (and logged) rather than locking everyone out.
    assert_eq!(h.login("ada", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_service_starts_while_redis_is_unreachable() {
    let unreachable = testing::unreachable_redis_config().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("auth.db").display());
    let mut config = AuthConfig::from_env(env(&url, &[]), &Default::default()).unwrap();
    config.redis = Some(unreachable.clone());
    let state = AuthState::new(config).await.expect("starts without Redis");
    let h = Harness::start("sqlite+no-redis", state, Some(dir)).await;
    let (status, report) = ready(&h).await;
    assert_eq!(status, 503, "{report}");
    let t = h.register("ada@example.org", "ada").await;
    assert_problem(
        h.get_auth("/me", &t.access).await,
        503,
        "service-unavailable",
    )
    .await;
}

#[tokio::test]
async fn logging_out_everywhere_while_the_deny_list_is_down_can_be_retried_to_the_end() {
    // Tokens are accepted while Redis is down (fail-open), so the request gets as far as
    // writing the deny-list, which fails.
    let Some((h, proxy)) = harness_behind_proxy(&[("DENY_LIST_FAIL_OPEN", "true")]).await else {
        return;
    };
    let a = h.register("ada@example.org", "ada").await;
    let b = tokens(h.login("ada", PASSWORD).await).await;
    proxy.cut();
    let res = h.post_auth("/logout-all", &a.access, None).await;
    assert_problem(res, 503, "service-unavailable").await;
    proxy.restore().await;
    let mut status = 0;
    for _ in 0..50 {
        status = h
            .post_auth("/logout-all", &a.access, None)
            .await
            .status()
            .as_u16();
        if status == 204 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 204, "the retry goes through once Redis is back");
    // The other session's access token stops at once, not when it expires.
    assert_problem(h.get_auth("/me", &b.access).await, 401, "session-revoked").await;
}
