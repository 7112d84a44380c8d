//! PostgreSQL gone silent: a connection that stays open while nothing comes back (a dropped
//! NAT entry, a dead peer behind a firewall). Requests are abandoned after
//! `REQUEST_TIMEOUT_MS` with a 503 problem, and the service recovers by itself as soon as new
//! connections work, without losing pool slots to the silent ones.

mod common;

use std::time::{Duration, Instant};

use common::*;
use plangen_auth::{AuthConfig, AuthState};
use plangen_core::shared_state::SharedState;
use plangen_core::testing::{self, TcpProxy};
use sqlx::Connection;

/// Long enough for all 16 pool connections to be opened (through the proxy, on a loaded
/// machine) and reach the test's lock before the requests are abandoned.
const REQUEST_TIMEOUT_MS: &str = "5000";

async fn harness_behind_proxy() -> Option<(Harness, TcpProxy, String)> {
    harness_behind_proxy_with(REQUEST_TIMEOUT_MS).await
}

async fn harness_behind_proxy_with(
    request_timeout_ms: &str,
) -> Option<(Harness, TcpProxy, String)> {
    let (via_proxy, direct, proxy) = testing::postgres_behind_proxy().await?;
    let extra = [("REQUEST_TIMEOUT_MS", request_timeout_ms)];
    let config = AuthConfig::from_env(env(&via_proxy, &extra), &Default::default()).unwrap();
    let store = plangen_auth::open_store(&config.database).await.unwrap();
    store.migrate().await.unwrap();
    let state = AuthState::with_parts(config, store, SharedState::from_config(None));
    Some((
        Harness::start("postgres-proxy", state, None).await,
        proxy,
        direct,
    ))
}

/// Waits until `/me` answers 200 again; how long it took.
async fn wait_for_recovery(h: &Harness, token: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let res = h.get_auth("/me", token).await;
        if res.status() == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "still {} {} after {:?}",
            res.status(),
            res.text().await.unwrap(),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A request's status and, for a problem, its type.
type Answer = (u16, String);

/// Every one of the pool's 16 connections in a `/me` query that waits on a lock the test
/// holds (20 requests: the other 4 wait for a connection). [`release`] on the returned
/// connection lets them go on; the handles give each request's answer.
async fn every_connection_mid_query(
    h: &Harness,
    token: &str,
    direct: &str,
) -> (sqlx::PgConnection, Vec<tokio::task::JoinHandle<Answer>>) {
    let database = direct
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let mut lock = sqlx::PgConnection::connect(direct).await.unwrap();
    for step in ["BEGIN", "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"] {
        sqlx::query(step).execute(&mut lock).await.unwrap();
    }
    let in_flight = (0..20)
        .map(|_| {
            let (http, url, token) = (h.http.clone(), h.url("/me"), token.to_owned());
            tokio::spawn(async move {
                let res = http.get(url).bearer_auth(token).send().await.unwrap();
                let status = res.status().as_u16();
                let body: serde_json::Value = res.json().await.unwrap();
                (status, body["type"].as_str().unwrap_or_default().to_owned())
            })
        })
        .collect();
    let mut observer = sqlx::PgConnection::connect(direct).await.unwrap();
    let started = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(database)
        .fetch_one(&mut observer)
        .await
        .unwrap();
        if waiting == 16 {
            return (lock, in_flight);
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{waiting} queries waiting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn release(mut lock: sqlx::PgConnection) {
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
}

/// Each request's answer, none left hanging.
async fn answers(requests: Vec<tokio::task::JoinHandle<Answer>>) -> Vec<Answer> {
    let mut all = Vec::new();
    for request in requests {
        let answer = tokio::time::timeout(Duration::from_secs(15), request)
            .await
            .expect("answered, not left hanging");
        all.push(answer.unwrap());
    }
    all
}

#[tokio::test]
async fn idle_connections_gone_silent_cost_the_next_request_one_ping_not_an_error() {
    let Some((h, proxy, direct)) = harness_behind_proxy().await else {
        return;
    };
    let t = h.register("ada@example.org", "ada").await;
    // The pool opens all 16 connections; they go back to it idle and healthy.
    let (lock, warm) = every_connection_mid_query(&h, &t.access, &direct).await;
    release(lock).await;
    assert!(answers(warm).await.iter().all(|(status, _)| *status == 200));

    proxy.stall_open_connections();
    // The first idle connection's ping goes unanswered (2 s) and a new connection serves the
    // request.
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(15), h.get_auth("/me", &t.access))
        .await
        .expect("answered, not left hanging");
    let waited = started.elapsed();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert!(
        waited < Duration::from_millis(4500),
        "one ping, not several: {waited:?}"
    );
    eprintln!("the first request after the silence took {waited:?}");
    // The other 15, made before that silence, are dropped without a ping each: the requests
    // after it do not wait 2 s apiece.
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(h.get_auth("/me", &t.access).await.status(), 200);
    }
    let five = started.elapsed();
    assert!(
        five < Duration::from_millis(1500),
        "five more took {five:?}"
    );
    let ready = h.http.get(h.server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn queries_cut_off_mid_flight_are_abandoned_and_do_not_keep_their_pool_slots() {
    let Some((h, proxy, direct)) = harness_behind_proxy().await else {
        return;
    };
    let t = h.register("grace@example.org", "grace").await;
    let (lock, in_flight) = every_connection_mid_query(&h, &t.access, &direct).await;
    // Every connection goes silent mid-query; the server answers, nothing arrives.
    proxy.stall_open_connections();
    release(lock).await;
    let answers = answers(in_flight).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 503),
        "{answers:?}"
    );
    // The 16 mid-query are abandoned; the 4 waiting for a connection may give up on the
    // pool first, and say the database is unavailable.
    let kinds = |slug: &str| {
        let uri = format!("https://plangen.io/problems/{slug}");
        answers.iter().filter(|(_, kind)| *kind == uri).count()
    };
    assert!(kinds("timeout") >= 16, "{answers:?}");
    assert_eq!(
        kinds("timeout") + kinds("service-unavailable"),
        20,
        "{answers:?}"
    );

    // Were the silent connections kept, every slot would stay taken until TCP gave up
    // (~15 minutes), and every request would wait for a connection in vain.
    let took = wait_for_recovery(&h, &t.access, Duration::from_secs(15)).await;
    eprintln!("recovered {took:?} after 16 queries were cut off");
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_a_503_not_a_500_and_is_reconnected_to() {
    // Longer than the pool's 5 s wait for a connection, which answers first.
    let Some((h, proxy, _)) = harness_behind_proxy_with("8000").await else {
        return;
    };
    let t = h.register("linus@example.org", "linus").await;
    proxy.cut();
    let res = h.get_auth("/me", &t.access).await;
    assert_eq!(res.headers()["retry-after"], "1");
    let body = assert_problem(res, 503, "service-unavailable").await;
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no connection details leak: {body}"
    );
    let ready = h.http.get(h.server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    proxy.restore().await;
    let took = wait_for_recovery(&h, &t.access, Duration::from_secs(15)).await;
    eprintln!("reconnected {took:?} after the database came back");
}
