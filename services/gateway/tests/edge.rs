//! Edge policy over real HTTP: tokens, identity headers, CORS, security headers, rate limits,
//! the SPA and the merged OpenAPI document.

mod common;

use std::time::Duration;

use common::*;
use plangen_core::shared_state::SharedState;
use plangen_core::{Secret, TokenKeys};
use serde_json::{Value, json};

/// The Redis check in a `/readyz` answer.
fn redis_check(ready: &Value) -> &Value {
    ready["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "redis")
        .expect("a Redis check")
}

#[tokio::test]
async fn bad_tokens_are_rejected_at_the_edge_and_never_reach_an_upstream() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let other = TokenKeys::new(&Secret::new("o".repeat(40)), Duration::from_secs(900));
    let k = keys();
    let mut expired = k.claims_for("u1", "s1", "a@b.c", "user");
    expired.exp = chrono_now() - 120;
    let mut wrong_aud = k.claims_for("u1", "s1", "a@b.c", "user");
    wrong_aud.aud = "elsewhere".into();
    let cases = [
        (None, "unauthenticated"),
        (Some("Basic dTpw".to_owned()), "unauthenticated"),
        (Some("Bearer not.a.jwt".to_owned()), "invalid-token"),
        (
            Some(format!(
                "Bearer {}",
                other.sign(&other.claims_for("u1", "s1", "a@b.c", "user"))
            )),
            "invalid-token",
        ),
        (
            Some(format!("Bearer {}", k.sign(&expired))),
            "token-expired",
        ),
        (
            Some(format!("Bearer {}", k.sign(&wrong_aud))),
            "invalid-token",
        ),
    ];
    for path in ["/api/v1/plans", "/api/v1/templates/t1"] {
        for (header, slug) in &cases {
            let mut req = gw.http.get(gw.url(path));
            if let Some(h) = header {
                req = req.header("authorization", h);
            }
            assert_problem(req.send().await.unwrap(), 401, slug).await;
        }
    }
    assert_eq!(up.plans.hits() + up.templates.hits(), 0);
    // Auth routes take no token at the edge (login, register, refresh have none).
    assert_eq!(gw.get("/api/v1/auth/login").await.status(), 200);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn client_supplied_identity_headers_are_ignored() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let spoof = |req: reqwest::RequestBuilder| {
        req.header("x-plangen-user-id", "admin")
            .header("x-plangen-role", "admin")
            .header("x-user-id", "admin")
            .header("x-forwarded-user", "admin")
    };
    let res = spoof(
        gw.http
            .get(gw.url("/api/v1/plans"))
            .bearer_auth(token_for("real-user")),
    )
    .send()
    .await
    .unwrap();
    let body = json(res).await;
    let h = &body["headers"];
    assert_eq!(h["x-plangen-user-id"], json!(["real-user"]), "{h}");
    for name in ["x-plangen-role", "x-user-id", "x-forwarded-user"] {
        assert!(h.get(name).is_none(), "{name} leaked: {h}");
    }

    // Without verification (auth routes) the gateway asserts no identity at all.
    let body = json(
        spoof(gw.http.get(gw.url("/api/v1/auth/me")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let h = &body["headers"];
    for name in [
        "x-plangen-user-id",
        "x-plangen-role",
        "x-user-id",
        "x-forwarded-user",
    ] {
        assert!(h.get(name).is_none(), "{name} leaked: {h}");
    }
}

#[tokio::test]
async fn a_logged_out_session_is_refused_at_the_edge_with_the_real_auth_service() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SharedState::in_process();
    let auth_env = plangen_core::Env::from_map([
        ("ACCESS_TOKEN_SECRET", SECRET.to_owned()),
        (
            "REFRESH_TOKEN_SECRET",
            "refresh-secret-for-tests-0123456789abcdef".to_owned(),
        ),
        (
            "DATABASE_URL",
            format!("sqlite:{}", dir.path().join("auth.db").display()),
        ),
        ("PASSWORD_HASH_CONCURRENCY", "2".to_owned()),
    ]);
    let auth_config = plangen_auth::AuthConfig::from_env(auth_env, &Default::default()).unwrap();
    let store = plangen_auth::open_store(&auth_config.database)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let auth_state = plangen_auth::AuthState::with_parts(auth_config, store, shared.clone());
    let auth = plangen_core::testing::TestServer::spawn(plangen_auth::app(auth_state)).await;

    let plans = echo("plans", "/api/plans").await;
    let templates = echo("templates", "/api/templates").await;
    let gw = gateway_with(
        config([&auth.base_url, &plans.url(), &templates.url()], &[]),
        shared,
    )
    .await;

    let res = gw
        .http
        .post(gw.url("/api/v1/auth/register"))
        .json(&json!({"email": "ada@example.org", "username": "ada", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("Path=/api") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let body: Value = res.json().await.unwrap();
    let token = body["accessToken"].as_str().unwrap().to_owned();
    let user_id = body["user"]["id"].as_str().unwrap().to_owned();

    let res = gw.get_auth("/api/v1/plans", &token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await["headers"]["x-plangen-user-id"][0],
        user_id.as_str()
    );
    assert_eq!(gw.get_auth("/api/v1/auth/me", &token).await.status(), 200);

    let res = gw
        .http
        .post(gw.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let hits = plans.hits();
    assert_problem(
        gw.get_auth("/api/v1/plans", &token).await,
        401,
        "session-revoked",
    )
    .await;
    assert_eq!(
        plans.hits(),
        hits,
        "the revoked token never reached the plan service"
    );
}

#[tokio::test]
async fn cors_preflight_and_actual_requests_follow_the_allowlist() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let preflight = |origin: &'static str| {
        gw.http
            .request(reqwest::Method::OPTIONS, gw.url("/api/v1/plans/p1"))
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "authorization, content-type, if-match",
            )
            .send()
    };
    let res = preflight("http://app.example").await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "http://app.example");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-max-age"], "600");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PATCH")
    );
    assert_eq!(up.plans.hits(), 0, "preflights are answered at the edge");

    let res = preflight("http://evil.example").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());

    let res = gw
        .http
        .get(gw.url("/api/v1/plans"))
        .header("origin", "http://app.example")
        .bearer_auth(token_for("u"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "http://app.example");
    assert_eq!(h["access-control-allow-credentials"], "true");
    let exposed = h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("ratelimit"),
        "{exposed}"
    );

    let res = gw
        .http
        .get(gw.url("/api/v1/plans"))
        .header("origin", "http://evil.example")
        .bearer_auth(token_for("u"))
        .send()
        .await
        .unwrap();
    // No Access-Control-Allow-Origin: the browser withholds the response from the page.
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn security_headers_are_on_every_response_and_hsts_only_behind_tls() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    for path in ["/api/v1/auth/me", "/api/nothing", "/", "/healthz"] {
        let res = gw.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "SAMEORIGIN", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("upgrade-insecure-requests"), "{csp}");
        assert!(h.get("strict-transport-security").is_none(), "{path}");
    }
    let gw = gateway(&up, &[("TRUST_FORWARDED_FOR", "true")]).await;
    let res = gw
        .http
        .get(gw.url("/healthz"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn over_the_limit_is_a_429_with_every_rate_limit_header() {
    let up = upstreams().await;
    let gw = gateway(
        &up,
        &[
            ("RATE_LIMIT_MAX_REQUESTS", "3"),
            ("RATE_LIMIT_WINDOW_MS", "60000"),
        ],
    )
    .await;
    let token = token_for("limited-user");
    for remaining in [2, 1, 0] {
        let res = gw.get_auth("/api/v1/plans", &token).await;
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert_eq!(h["ratelimit-limit"], "3");
        assert_eq!(h["ratelimit-remaining"], remaining.to_string().as_str());
        assert_eq!(h["ratelimit-policy"], "3;w=60");
        let reset: u64 = h["ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset));
        assert_eq!(
            h["ratelimit"],
            format!("limit=3, remaining={remaining}, reset={reset}").as_str()
        );
    }
    let hits = up.plans.hits();
    let res = gw.get_auth("/api/v1/plans", &token).await;
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    assert_problem(res, 429, "too-many-requests").await;
    assert_eq!(up.plans.hits(), hits, "a limited request is not proxied");

    // Keyed by user: another user (same IP) has their own budget.
    assert_eq!(
        gw.get_auth("/api/v1/plans", &token_for("someone-else"))
            .await
            .status(),
        200
    );
    // Without a token the key is the client IP, a budget of its own too.
    assert_eq!(gw.get("/api/v1/auth/me").await.status(), 200);
    // Non-API paths are not limited.
    assert!(
        gw.get("/healthz")
            .await
            .headers()
            .get("ratelimit")
            .is_none()
    );
}

#[tokio::test]
async fn login_register_and_refresh_have_a_stricter_separate_budget() {
    let up = upstreams().await;
    let gw = gateway(&up, &[("AUTH_RATE_LIMIT_MAX_REQUESTS", "2")]).await;
    for path in ["/api/v1/auth/login", "/api/v1/auth/register"] {
        let res = gw.http.post(gw.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["ratelimit-limit"], "2");
    }
    let res = gw
        .http
        .post(gw.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 429, "too-many-requests").await;
    // The general budget is untouched by the auth one.
    let res = gw.get("/api/v1/auth/me").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["ratelimit-limit"], "300");
}

#[tokio::test]
async fn behind_a_trusted_ingress_the_client_is_the_address_it_saw_not_what_the_client_wrote() {
    let up = upstreams().await;
    let gw = gateway(
        &up,
        &[
            ("TRUST_FORWARDED_FOR", "true"),
            ("AUTH_RATE_LIMIT_MAX_REQUESTS", "2"),
        ],
    )
    .await;
    // An ingress that appends (Traefik, cloud load balancers) passes the client's own entries
    // on before the address it saw: only the last one is the ingress's word.
    let login = |spoofed: u8| {
        gw.http
            .post(gw.url("/api/v1/auth/login"))
            .header(
                "x-forwarded-for",
                format!("198.51.100.{spoofed}, 203.0.113.7"),
            )
            .send()
    };
    for spoofed in 1..=2 {
        assert_eq!(login(spoofed).await.unwrap().status(), 200);
    }
    assert_problem(login(3).await.unwrap(), 429, "too-many-requests").await;
    // Another client (another address seen by the ingress) has its own budget.
    let other = gw
        .http
        .post(gw.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.8")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

/// Two gateway replicas keeping their state in one Redis (under a fresh key prefix), the
/// upstreams they share and that state; `None` without Redis.
async fn replicas_on_redis(
    extra: &[(&str, &str)],
) -> Option<(Upstreams, Gateway, Gateway, SharedState)> {
    let redis = plangen_core::testing::redis_config()?;
    let up = upstreams().await;
    let prefix = plangen_core::testing::unique_prefix();
    let urls = [up.auth.url(), up.plans.url(), up.templates.url()];
    let urls = [urls[0].as_str(), urls[1].as_str(), urls[2].as_str()];
    let shared = SharedState::redis(&redis, &prefix);
    let a = gateway_with(config(urls, extra), shared.clone()).await;
    let b = gateway_with(config(urls, extra), SharedState::redis(&redis, &prefix)).await;
    Some((up, a, b, shared))
}

#[tokio::test]
async fn two_gateways_on_one_redis_share_the_budget() {
    let Some((_up, a, b, _)) = replicas_on_redis(&[("RATE_LIMIT_MAX_REQUESTS", "4")]).await else {
        return;
    };
    let token = token_for("shared-user");
    for (gw, remaining) in [(&a, "3"), (&b, "2"), (&a, "1"), (&b, "0")] {
        let res = gw.get_auth("/api/v1/plans", &token).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["ratelimit-remaining"], remaining);
    }
    assert_problem(
        a.get_auth("/api/v1/plans", &token).await,
        429,
        "too-many-requests",
    )
    .await;
    assert_problem(
        b.get_auth("/api/v1/plans", &token).await,
        429,
        "too-many-requests",
    )
    .await;
    let ready: Value = a.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["rateLimitStore"], "redis");
    assert_eq!(redis_check(&ready)["ok"], true, "{ready}");
}

#[tokio::test]
async fn a_session_denied_in_redis_is_refused_by_every_gateway_replica() {
    let Some((up, a, b, shared)) = replicas_on_redis(&[]).await else {
        return;
    };
    let token = token_for("denied-user");
    for gw in [&a, &b] {
        assert_eq!(gw.get_auth("/api/v1/plans", &token).await.status(), 200);
    }
    // The auth service of any replica logs the session out: it lands in Redis.
    shared
        .deny_list
        .deny("session-denied-user", Duration::from_secs(60))
        .await
        .unwrap();
    let hits = up.plans.hits();
    for gw in [&a, &b] {
        let res = gw.get_auth("/api/v1/plans", &token).await;
        assert_eq!(
            res.headers()["ratelimit-remaining"],
            if std::ptr::eq(gw, &a) { "297" } else { "296" },
            "the request was still counted against the caller's budget"
        );
        assert_problem(res, 401, "session-revoked").await;
    }
    assert_eq!(
        up.plans.hits(),
        hits,
        "no denied request reached the upstream"
    );
    // Another session of the same user is unaffected.
    let other = {
        let k = keys();
        k.sign(&k.claims_for("denied-user", "another-session", "u@example.org", "user"))
    };
    assert_eq!(b.get_auth("/api/v1/plans", &other).await.status(), 200);
}

#[tokio::test]
async fn redis_down_fails_open_by_default_and_closed_when_configured() {
    let up = upstreams().await;
    let redis = plangen_core::testing::unreachable_redis_config().await;
    let urls = [up.auth.url(), up.plans.url(), up.templates.url()];
    let urls = [urls[0].as_str(), urls[1].as_str(), urls[2].as_str()];

    let open = gateway_with(config(urls, &[]), SharedState::redis(&redis, "t")).await;
    let res = open.get("/api/v1/auth/me").await;
    assert_eq!(res.status(), 200, "fail-open lets the request through");
    assert!(
        res.headers().get("ratelimit").is_none(),
        "nothing was counted"
    );
    let ready = open.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "degraded", "{ready}");
    let check = redis_check(&ready).clone();
    assert_eq!(check["ok"], false);
    assert!(
        check["detail"].as_str().unwrap().contains("failing open"),
        "{check}"
    );

    // A token's session cannot be checked either: refused unless DENY_LIST_FAIL_OPEN.
    let token = token_for("u");
    let res = open.get_auth("/api/v1/plans", &token).await;
    assert_problem(res, 503, "service-unavailable").await;
    let lenient = gateway_with(
        config(urls, &[("DENY_LIST_FAIL_OPEN", "true")]),
        SharedState::redis(&redis, "t"),
    )
    .await;
    let res = lenient.get_auth("/api/v1/plans", &token).await;
    assert_eq!(res.status(), 200, "both checks fail open");
    assert!(res.headers().get("ratelimit").is_none());

    let closed = gateway_with(
        config(urls, &[("RATE_LIMIT_FAIL_OPEN", "false")]),
        SharedState::redis(&redis, "t"),
    )
    .await;
    let res = closed.get("/api/v1/auth/me").await;
    assert_problem(res, 503, "service-unavailable").await;
    let ready = closed.get("/readyz").await;
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn a_hanging_redis_delays_one_request_a_moment_not_every_request() {
    let up = upstreams().await;
    let hanging = plangen_core::testing::HangingServer::start().await;
    let urls = [up.auth.url(), up.plans.url(), up.templates.url()];
    let urls = [urls[0].as_str(), urls[1].as_str(), urls[2].as_str()];
    let gw = gateway_with(
        config(urls, &[("DENY_LIST_FAIL_OPEN", "true")]),
        SharedState::redis(&hanging.redis_config(), "t"),
    )
    .await;
    let token = token_for("u");
    // Redis accepted and never answers: the first request waits for the command timeout.
    let started = std::time::Instant::now();
    let res = gw.get_auth("/api/v1/plans", &token).await;
    assert_eq!(res.status(), 200, "both checks fail open");
    let one_wait = started.elapsed();

    // Then the outage is known: requests with a token (the session check and the counter)
    // and without one are answered at once, ten together in less than that one wait.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let res = gw.get_auth("/api/v1/plans", &token).await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("ratelimit").is_none(), "nothing counted");
        assert_eq!(gw.get("/api/v1/auth/me").await.status(), 200);
    }
    let ten = started.elapsed();
    assert!(
        ten < one_wait,
        "ten requests took {ten:?}, one wait {one_wait:?}"
    );
}

#[tokio::test]
async fn a_full_redis_still_judges_sessions_and_lets_requests_through_uncounted() {
    let Some(private) = plangen_core::testing::PrivateRedis::start().await else {
        return;
    };
    let up = upstreams().await;
    let urls = [up.auth.url(), up.plans.url(), up.templates.url()];
    let urls = [urls[0].as_str(), urls[1].as_str(), urls[2].as_str()];
    let shared = SharedState::redis(&private.redis_config(), "t");
    shared
        .deny_list
        .deny("session-denied-user", Duration::from_secs(60))
        .await
        .unwrap();
    // The defaults: the count fails open, the session check closed.
    let gw = gateway_with(config(urls, &[]), shared).await;
    // Full, with Redis's default policy (`noeviction`): the counting script is refused, the
    // deny-list (a read) still answered.
    private
        .command(&["CONFIG", "SET", "maxmemory", "1"])
        .await
        .unwrap();

    let res = gw.get_auth("/api/v1/plans", &token_for("u")).await;
    assert_eq!(res.status(), 200, "a live session, the count failing open");
    assert!(res.headers().get("ratelimit").is_none(), "nothing counted");
    let res = gw
        .get_auth("/api/v1/plans", &token_for("denied-user"))
        .await;
    assert_problem(res, 401, "session-revoked").await;
    // Readiness counts too, so it says what a ping would not: nothing is being counted.
    let ready = gw.get("/readyz").await;
    assert_eq!(ready.status(), 200, "failing open still serves");
    let ready = json(ready).await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    let redis = redis_check(&ready);
    assert_eq!(redis["ok"], false, "{ready}");
    assert!(redis["error"].as_str().unwrap().contains("OOM"), "{ready}");
    assert!(
        redis["detail"].as_str().unwrap().contains("failing open"),
        "{ready}"
    );
}

#[tokio::test]
async fn after_its_redis_connections_go_silent_a_two_worker_gateway_counts_on_within_seconds() {
    let Some((via_proxy, proxy)) = plangen_core::testing::redis_behind_proxy().await else {
        return;
    };
    let up = upstreams().await;
    let urls = [up.auth.url(), up.plans.url(), up.templates.url()];
    let urls = [urls[0].as_str(), urls[1].as_str(), urls[2].as_str()];
    let prefix = plangen_core::testing::unique_prefix();
    let gw = gateway_with(
        config(urls, &[("GATEWAY_WORKERS", "2")]),
        SharedState::redis(&via_proxy, &prefix),
    )
    .await;
    // A connection of its own per request, so the kernel hands them to both workers (each
    // keeps its own Redis connection). Which worker took which is not visible from here: with
    // 30 requests it is all but certain both did, not checked.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let token = token_for("u");
    let counted = |res: &reqwest::Response| -> Option<u64> {
        (res.status() == 200)
            .then(|| res.headers().get("ratelimit-remaining"))
            .flatten()
            .map(|v| v.to_str().unwrap().parse().unwrap())
    };
    let get = || {
        http.get(gw.server.url("/api/v1/plans"))
            .bearer_auth(&token)
            .send()
    };
    let mut remaining = 300;
    for _ in 0..10 {
        let left = counted(&get().await.unwrap()).expect("counted in Redis");
        assert!(left < remaining, "one budget: {left} after {remaining}");
        remaining = left;
    }

    // Every open Redis connection goes silent (a dropped NAT entry); Redis itself is fine.
    proxy.stall_open_connections();
    let started = std::time::Instant::now();
    loop {
        if let Some(left) = counted(&get().await.unwrap()) {
            remaining = left;
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still not counting {:?} after the connections went silent",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("counting again {:?} after the silence", started.elapsed());
    // From then on every request, whichever worker takes it, is judged and counted.
    for _ in 0..20 {
        let left = counted(&get().await.unwrap()).expect("counted again");
        assert!(left < remaining, "one budget: {left} after {remaining}");
        remaining = left;
    }
}

#[tokio::test]
async fn the_spa_is_served_with_index_fallback_and_cache_headers() {
    let up = upstreams().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><div id=root></div>",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("assets/index-B1a2c3d4.js"),
        "console.log(1)",
    )
    .unwrap();
    std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
    let spa = dir.path().display().to_string();
    let gw = gateway(&up, &[("PLANGEN_SPA_DIR", &spa)]).await;

    for path in ["/", "/plans/42", "/templates"] {
        let res = gw.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(res.text().await.unwrap().contains("id=root"), "{path}");
    }
    let res = gw.get("/assets/index-B1a2c3d4.js").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.text().await.unwrap(), "console.log(1)");
    let res = gw.get("/favicon.svg").await;
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_problem(gw.get("/assets/missing-abc.js").await, 404, "not-found").await;
    assert_problem(gw.get("/../etc/passwd.txt").await, 404, "not-found").await;
    // API paths are never the SPA.
    assert_problem(gw.get("/api/v1/nope").await, 404, "not-found").await;
    // The SPA's files are only read: a 405 says which methods are allowed.
    for path in ["/", "/plans/42"] {
        let res = gw.http.post(gw.url(path)).send().await.unwrap();
        let allow = res
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_problem(res, 405, "method-not-allowed").await;
        assert!(
            allow.as_deref().is_some_and(|a| a.contains("GET")),
            "{path}: Allow {allow:?}"
        );
    }
}

#[tokio::test]
async fn without_a_built_spa_the_root_explains_the_api() {
    let up = upstreams().await;
    let gw = gateway(&up, &[]).await;
    let res = gw.get("/").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("/api/docs") && text.contains("/api/v1/plans"),
        "{text}"
    );
    assert_problem(gw.get("/plans/42").await, 404, "not-found").await;
}

#[tokio::test]
async fn one_openapi_document_merges_the_services_and_names_the_missing_one() {
    let auth = echo("auth", "/api/auth").await;
    let plans = echo("plans", "/api/plans").await;
    let down = closed_port_url();
    let gw = gateway_with(
        config([&auth.url(), &plans.url(), &down], &[]),
        SharedState::in_process(),
    )
    .await;
    let res = gw.get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v1/auth",
            "/api/v1/auth/{id}",
            "/api/v1/plans",
            "/api/v1/plans/{id}"
        ]
    );
    assert_eq!(
        doc["paths"]["/api/v1/plans"]["get"]["summary"],
        "list plans"
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("Problem") && schemas.contains_key("plansThing"));
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(description.contains("template"), "{description}");

    let page = gw.get("/api/docs").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/api/docs/docs.js") && !html.contains("http"),
        "no CDN: {html}"
    );
    let script = gw.get("/api/docs/docs.js").await;
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("/api/v1/openapi.json")
    );
}

/// Each worker thread counts and checks sessions in Redis through a connection of its own,
/// driven by its own runtime (`Gateway::new`): a worker whose runtime has gone takes no other
/// worker's connection with it, and all of them count one budget.
#[test]
fn each_gateway_worker_reaches_redis_through_a_connection_of_its_own() {
    let Some(redis) = plangen_core::testing::redis_config() else {
        return;
    };
    let shared = SharedState::redis(&redis, &plangen_core::testing::unique_prefix());
    // Nothing is proxied here: the upstreams are never called.
    let state =
        plangen_gateway::GatewayState::with_shared(config(["http://127.0.0.1:9"; 3], &[]), shared);
    let token = token_for("worker");
    // One admission on a worker of its own (a thread with a single-threaded runtime, as the
    // server's workers are); the quota counted, if Redis answered.
    let counted_on_a_new_worker = || {
        let (state, token) = (state.clone(), token.clone());
        plangen_core::testing::on_own_runtime(async move {
            let worker = plangen_gateway::Gateway::new(state);
            let mut req = axum::http::Request::builder()
                .uri("/api/v1/plans")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let peer = "127.0.0.1".parse().unwrap();
            let admission = plangen_gateway::rate_limit::admit(&worker, &mut req, peer)
                .await
                .expect("admitted");
            let session_ok = admission.auth.is_some_and(|auth| auth.0.is_ok());
            (admission.quota.map(|q| q.count), session_ok)
        })
    };
    assert_eq!(counted_on_a_new_worker(), (Some(1), true));
    // The first worker's runtime is gone, and with it any connection that runtime drove.
    assert_eq!(
        counted_on_a_new_worker(),
        (Some(2), true),
        "counted and checked through the second worker's own connection, in the same budget"
    );
}
