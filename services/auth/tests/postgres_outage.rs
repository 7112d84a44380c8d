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

const REQUEST_TIMEOUT_MS: &str = "1000";

async fn harness_behind_proxy() -> Option<(Harness, TcpProxy, String)> {
    let (via_proxy, direct, proxy) = testing::postgres_behind_proxy().await?;
    let extra = [("REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS)];
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

#[tokio::test]
async fn a_request_on_a_silent_connection_is_abandoned_and_the_service_recovers_by_itself() {
    let Some((h, proxy, _)) = harness_behind_proxy().await else {
        return;
    };
    let t = h.register("ada@example.org", "ada").await;
    assert_eq!(h.get_auth("/me", &t.access).await.status(), 200);

    proxy.stall_open_connections();
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(10), h.get_auth("/me", &t.access))
        .await
        .expect("answered, not left hanging");
    let waited = started.elapsed();
    let body = assert_problem(res, 503, "timeout").await;
    assert!(waited < Duration::from_secs(4), "bounded: {waited:?}");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no connection details leak: {body}"
    );

    // New connections pass: the pool drops its silent ones and opens new ones.
    let took = wait_for_recovery(&h, &t.access, Duration::from_secs(15)).await;
    eprintln!("recovered {took:?} after the first abandoned request");
    let ready = h.http.get(h.server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn queries_cut_off_mid_flight_do_not_keep_their_pool_slots() {
    let Some((h, proxy, direct)) = harness_behind_proxy().await else {
        return;
    };
    let t = h.register("grace@example.org", "grace").await;
    let database = direct
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();

    // Every one of the pool's 16 connections starts a query that waits on a lock the test
    // holds, so each is mid-query when its connection goes silent.
    let mut admin = sqlx::PgConnection::connect(&direct).await.unwrap();
    let mut lock = admin.begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let in_flight: Vec<_> = (0..20)
        .map(|_| {
            let (http, url, token) = (h.http.clone(), h.url("/me"), t.access.clone());
            tokio::spawn(async move {
                let res = http.get(url).bearer_auth(token).send().await.unwrap();
                res.status().as_u16()
            })
        })
        .collect();
    let mut observer = sqlx::PgConnection::connect(&direct).await.unwrap();
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
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{waiting} queries waiting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.stall_open_connections();
    lock.commit().await.unwrap();
    for request in in_flight {
        let status = tokio::time::timeout(Duration::from_secs(10), request)
            .await
            .expect("answered, not left hanging");
        assert_eq!(status.unwrap(), 503, "abandoned after the timeout");
    }

    // Were the silent connections kept, every slot would stay taken until TCP gave up
    // (~15 minutes), and every request would wait for a connection in vain.
    let took = wait_for_recovery(&h, &t.access, Duration::from_secs(15)).await;
    eprintln!("recovered {took:?} after 16 queries were cut off");
}
