//! One contract for the shared state, run against every backend available: in process always,
//! Redis when `REDIS_HOST` is set (required in CI).

use std::time::{Duration, Instant};

use plangen_core::shared_state::{OUTAGE_MEMORY, Ping, SharedState, SharedStateError};
use plangen_core::testing;

/// Hits `key` until it is counted again (commands failing at once meanwhile) and gives the
/// count; fails the test when that takes `limit` from `from`.
async fn count_once_answered(
    state: &SharedState,
    key: &str,
    from: Instant,
    limit: Duration,
) -> u64 {
    loop {
        match state.counters.hit(key, Duration::from_secs(60)).await {
            Ok(hit) => return hit.count,
            Err(_) if from.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("still failing {:?} on: {e}", from.elapsed()),
        }
    }
}

/// A Redis state (keys of its own) reaching the test Redis through a proxy the test controls.
async fn state_behind_proxy() -> Option<(SharedState, testing::TcpProxy)> {
    let (behind_proxy, proxy) = testing::redis_behind_proxy().await?;
    Some((
        SharedState::redis(&behind_proxy, &testing::unique_prefix()),
        proxy,
    ))
}

async fn backends() -> Vec<(&'static str, SharedState)> {
    let mut all = vec![("memory", SharedState::in_process())];
    if let Some(config) = testing::redis_config() {
        all.push((
            "redis",
            SharedState::redis(&config, &testing::unique_prefix()),
        ));
    }
    all
}

#[tokio::test]
async fn denied_sessions_are_denied_until_their_ttl_passes() {
    for (name, state) in backends().await {
        let deny = &state.deny_list;
        assert!(!deny.is_denied("s1").await.unwrap(), "{name}");
        deny.deny("s1", Duration::from_millis(300)).await.unwrap();
        assert!(deny.is_denied("s1").await.unwrap(), "{name}");
        assert!(!deny.is_denied("s2").await.unwrap(), "{name}");
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert!(
            !deny.is_denied("s1").await.unwrap(),
            "{name}: expired entries are gone"
        );
    }
}

#[tokio::test]
async fn window_counters_count_reset_and_expire() {
    for (name, state) in backends().await {
        let c = &state.counters;
        let window = Duration::from_millis(400);
        assert_eq!(c.peek("k").await.unwrap().count, 0, "{name}");
        for expected in 1..=3 {
            let hit = c.hit("k", window).await.unwrap();
            assert_eq!(hit.count, expected, "{name}");
            assert!(
                hit.resets_in <= window && hit.resets_in > Duration::ZERO,
                "{name}: {hit:?}"
            );
        }
        assert_eq!(c.peek("k").await.unwrap().count, 3, "{name}");
        assert_eq!(
            c.hit("other", window).await.unwrap().count,
            1,
            "{name}: keys are separate"
        );
        c.reset("k").await.unwrap();
        assert_eq!(c.peek("k").await.unwrap().count, 0, "{name}");
        c.hit("k", window).await.unwrap();
        tokio::time::sleep(Duration::from_millis(550)).await;
        assert_eq!(
            c.hit("k", window).await.unwrap().count,
            1,
            "{name}: a new window starts"
        );
    }
}

#[tokio::test]
async fn concurrent_hits_are_all_counted() {
    for (name, state) in backends().await {
        let hits = futures::future::join_all(
            (0..50).map(|_| state.counters.hit("burst", Duration::from_secs(5))),
        )
        .await;
        let mut counts: Vec<u64> = hits.into_iter().map(|h| h.unwrap().count).collect();
        counts.sort_unstable();
        assert_eq!(
            counts,
            (1..=50).collect::<Vec<_>>(),
            "{name}: every hit saw a distinct count"
        );
    }
}

#[tokio::test]
async fn an_unreachable_redis_gives_errors_not_hangs() {
    let config = testing::unreachable_redis_config().await;
    let state = SharedState::redis(&config, "down");
    let err = state.deny_list.is_denied("s1").await.unwrap_err();
    assert!(matches!(err, SharedStateError::Unreachable(_)), "{err}");
    assert!(
        state
            .counters
            .hit("k", Duration::from_secs(1))
            .await
            .is_err()
    );
    assert!(state.redis.unwrap().ping().await.is_err());
}

#[tokio::test]
async fn a_hanging_redis_costs_one_wait_per_outage_memory_not_one_per_command() {
    let hanging = testing::HangingServer::start().await;
    let state = SharedState::redis(&hanging.redis_config(), "hanging");
    // The server accepted and never answers: the first command waits for its timeout.
    let started = Instant::now();
    let err = state.deny_list.is_denied("s1").await.unwrap_err();
    assert!(matches!(err, SharedStateError::Unreachable(_)), "{err}");
    let one_wait = started.elapsed();
    assert!(one_wait >= Duration::from_millis(500), "{one_wait:?}");

    // The commands after it fail at once, a worker's own connection included (the outage is
    // the server's): ten of them together take less than that one wait.
    let worker = state.for_worker();
    let started = Instant::now();
    for _ in 0..5 {
        let err = state.deny_list.is_denied("s1").await.unwrap_err();
        assert!(matches!(err, SharedStateError::Unreachable(_)), "{err}");
        let err = worker.counters.hit("k", Duration::from_secs(1)).await;
        assert!(matches!(err, Err(SharedStateError::Unreachable(_))));
    }
    let ten = started.elapsed();
    assert!(
        ten < one_wait,
        "ten commands took {ten:?}, one wait {one_wait:?}"
    );

    // When the memory ends, one command probes (and waits) while the others still fail at once.
    tokio::time::sleep(OUTAGE_MEMORY + Duration::from_millis(100)).await;
    let answers = futures::future::join_all((0..8).map(|_| async {
        let started = Instant::now();
        let answer = state.deny_list.is_denied("s1").await;
        (started.elapsed(), answer.is_err())
    }))
    .await;
    assert!(answers.iter().all(|(_, failed)| *failed));
    let waited = answers.iter().filter(|(t, _)| *t >= one_wait / 2).count();
    assert_eq!(waited, 1, "one probe waits: {answers:?}");
}

#[tokio::test]
async fn a_probe_dropped_unanswered_lets_the_next_command_probe_at_once() {
    let hanging = testing::HangingServer::start().await;
    let state = SharedState::redis(&hanging.redis_config(), "hanging");
    let started = Instant::now();
    assert!(state.deny_list.is_denied("s1").await.is_err());
    let one_wait = started.elapsed();
    tokio::time::sleep(OUTAGE_MEMORY + Duration::from_millis(100)).await;

    // The probe's caller gives up (a cancelled request drops its future).
    let gave_up =
        tokio::time::timeout(Duration::from_millis(100), state.deny_list.is_denied("s1")).await;
    assert!(gave_up.is_err(), "the probe was still waiting");
    // The next command probes (and waits) instead of failing at once until the dropped probe's
    // window would have ended.
    let started = Instant::now();
    assert!(state.deny_list.is_denied("s1").await.is_err());
    let waited = started.elapsed();
    assert!(waited >= one_wait / 2, "it failed at once: {waited:?}");
}

#[tokio::test]
async fn after_an_outage_redis_is_asked_again_within_a_moment() {
    let Some((state, proxy)) = state_behind_proxy().await else {
        return;
    };
    let window = Duration::from_secs(5);
    assert_eq!(state.counters.hit("k", window).await.unwrap().count, 1);

    proxy.cut();
    assert!(state.counters.hit("k", window).await.is_err());
    proxy.restore().await;
    // Failing at once for a moment, then asked again: the count went on where it was.
    let count = count_once_answered(&state, "k", Instant::now(), OUTAGE_MEMORY * 5).await;
    assert_eq!(count, 2, "the hit that failed was not counted");
    assert!(state.redis.unwrap().ping().await.is_ok());
}

#[tokio::test]
async fn a_connection_that_went_silent_is_replaced_by_a_new_one() {
    let Some((state, proxy)) = state_behind_proxy().await else {
        return;
    };
    let window = Duration::from_secs(30);
    assert_eq!(state.counters.hit("k", window).await.unwrap().count, 1);

    // The open connection goes silent (a dropped NAT entry, say) while Redis itself is fine:
    // the command on it times out, and new connections would be answered.
    proxy.stall_open_connections();
    let lost = state.counters.hit("k", window).await;
    assert!(
        matches!(lost, Err(SharedStateError::Unreachable(_))),
        "{lost:?}"
    );
    // Within the outage memory and one more wait, a new connection answers, and it is the
    // same count: the hit sent into the silence never reached Redis.
    let count = count_once_answered(&state, "k", Instant::now(), OUTAGE_MEMORY * 5).await;
    assert_eq!(count, 2, "the hit lost in the silence was not counted");
    assert!(state.redis.unwrap().ping().await.is_ok());
}

#[tokio::test]
async fn after_an_outage_an_idle_siblings_connection_is_replaced_before_its_next_use() {
    let Some((state, proxy)) = state_behind_proxy().await else {
        return;
    };
    let idle = state.for_worker();
    let window = Duration::from_secs(30);
    assert_eq!(state.counters.hit("k", window).await.unwrap().count, 1);
    assert_eq!(idle.counters.hit("k", window).await.unwrap().count, 2);

    // Both connections go silent; only the busy one finds out (one timeout).
    proxy.stall_open_connections();
    let started = Instant::now();
    assert!(state.counters.hit("k", window).await.is_err());
    let one_wait = started.elapsed();
    tokio::time::sleep(OUTAGE_MEMORY + Duration::from_millis(100)).await;
    // The idle worker's next command does not wait on its silent connection (and start
    // another outage for everyone): it connects anew and is counted.
    let started = Instant::now();
    let count = idle.counters.hit("k", window).await;
    let took = started.elapsed();
    assert_eq!(count.unwrap().count, 3);
    assert!(took < one_wait / 2, "{took:?} (one wait: {one_wait:?})");
}

#[tokio::test]
async fn a_demoted_server_still_at_the_address_is_reconnected_to_once_a_second_not_per_command() {
    let (Some(primary), Some(replica)) = (
        testing::PrivateRedis::start().await,
        testing::PrivateRedis::start().await,
    ) else {
        return;
    };
    let address = testing::TcpProxy::start(primary.address()).await;
    let state = SharedState::redis(&address.redis_config(), "demoted");
    let window = Duration::from_secs(60);
    assert_eq!(state.counters.hit("k", window).await.unwrap().count, 1);
    let port = replica.port.to_string();
    primary
        .command(&["REPLICAOF", "127.0.0.1", &port])
        .await
        .unwrap();
    let connections = address.accepted();

    // The address has not moved yet: fifty counts in a row are refused, and the state
    // reconnects at most once a second (at the first refusal), not fifty times.
    let started = Instant::now();
    for _ in 0..50 {
        let refused = state.counters.hit("k", window).await;
        assert!(
            matches!(&refused, Err(SharedStateError::Command(e)) if e.contains("read only")),
            "{refused:?}"
        );
    }
    let made = address.accepted() - connections;
    let once_a_second = 1 + (started.elapsed().as_millis() / OUTAGE_MEMORY.as_millis()) as usize;
    assert!(
        (1..=once_a_second).contains(&made),
        "{made} connections in {:?}",
        started.elapsed()
    );
    // Reads are still answered by the demoted server meanwhile.
    assert!(!state.deny_list.is_denied("s1").await.unwrap());
}

/// Sixteen clients counting hits on one key without pause, through the state and a worker's
/// sibling: when each was answered.
async fn count_under_load(state: &SharedState, key: &str, until: Instant) -> Vec<Vec<Instant>> {
    let window = Duration::from_secs(60);
    let sibling = state.for_worker();
    let clients = (0..16).map(|i| {
        let counters = if i % 2 == 0 {
            state.counters.clone()
        } else {
            sibling.counters.clone()
        };
        async move {
            let mut answered = Vec::new();
            while Instant::now() < until {
                match counters.hit(key, window).await {
                    // A pause between hits: a steady load that leaves CPU to the other tests.
                    Ok(_) => {
                        answered.push(Instant::now());
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
            answered
        }
    });
    futures::future::join_all(clients).await
}

#[tokio::test]
async fn under_load_every_client_recovers_from_a_silence_and_a_cut_and_the_count_stays_true() {
    let Some((state, proxy)) = state_behind_proxy().await else {
        return;
    };
    let started = Instant::now();
    let at = |ms| started + Duration::from_millis(ms);
    let load = count_under_load(&state, "k", at(9_000));
    let outages = async {
        tokio::time::sleep_until(at(300).into()).await;
        proxy.stall_open_connections();
        tokio::time::sleep_until(at(5_000).into()).await;
        proxy.cut();
        tokio::time::sleep_until(at(5_500).into()).await;
        proxy.restore().await;
    };
    let (answered, ()) = tokio::join!(load, outages);

    // A silent connection costs the commands in flight one timeout (1.5 s), then the outage
    // memory, then a new connection answers; a closed port costs the time it is closed and the
    // memory. Every client was answered again after each, well before the next.
    let phases = [
        ("the silence", at(300 + 3_500), at(5_000)),
        ("the cut", at(5_500) + OUTAGE_MEMORY * 2, at(9_000)),
    ];
    for (client, times) in answered.iter().enumerate() {
        for (outage, from, to) in phases {
            assert!(
                times.iter().any(|t| (from..to).contains(t)),
                "client {client} was not answered between {:?} and {:?} after {outage}",
                from - started,
                to - started
            );
        }
    }
    // Every answered hit was counted; hits whose answer was lost may have been (at most one in
    // flight per client per outage), nothing more.
    let answered = answered.iter().map(Vec::len).sum::<usize>() as u64;
    let counted = state.counters.peek("k").await.unwrap().count;
    assert!(
        (answered..=answered + 2 * 16).contains(&counted),
        "answered {answered}, counted {counted}"
    );
}

#[tokio::test]
async fn a_redis_that_pauses_writes_costs_one_timeout_then_counts_again() {
    let Some(private) = testing::PrivateRedis::start().await else {
        return;
    };
    let state = SharedState::redis(&private.redis_config(), "paused");
    let redis = state.redis.clone().unwrap();
    let window = Duration::from_secs(60);
    assert!(!state.deny_list.is_denied("s1").await.unwrap());
    // Writes hang while reads answer (what a manual FAILOVER does for its duration): the
    // counting script, which may write, waits for its timeout and the pause is an outage.
    private
        .command(&["CLIENT", "PAUSE", "4000", "WRITE"])
        .await
        .unwrap();
    let paused = Instant::now();
    let (counted, denied) = redis.hit_and_is_denied("k", window, "s1").await;
    assert!(
        matches!(counted, Err(SharedStateError::Unreachable(_))),
        "{counted:?}"
    );
    assert!(denied.is_err());
    let waited = paused.elapsed();
    assert!(waited < Duration::from_millis(3_500), "bounded: {waited:?}");
    // The commands after it fail at once instead of each waiting.
    let started = Instant::now();
    assert!(state.counters.hit("k", window).await.is_err());
    let at_once = started.elapsed();
    assert!(at_once < Duration::from_millis(500), "{at_once:?}");

    // When the pause ends, counting goes on within the outage memory.
    let limit = Duration::from_secs(4) + OUTAGE_MEMORY * 5;
    let count = count_once_answered(&state, "k", paused, limit).await;
    // The script that timed out may have run when the pause ended (Redis queues it).
    assert!((1..=2).contains(&count), "{count}");
}

/// Waits until `server` holds `key` (replication is asynchronous).
async fn wait_for_key(server: &testing::PrivateRedis, key: &str) {
    let started = Instant::now();
    while server.command(&["EXISTS", key]).await.unwrap() != redis::Value::Int(1) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{key} never reached the replica"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn after_a_failover_behind_the_same_address_the_new_primary_counts_on() {
    let (Some(old), Some(new)) = (
        testing::PrivateRedis::start().await,
        testing::PrivateRedis::start().await,
    ) else {
        return;
    };
    let port = old.port.to_string();
    new.command(&["REPLICAOF", "127.0.0.1", &port])
        .await
        .unwrap();
    // The address the state knows (a Service, a DNS name) leads to the primary.
    let address = testing::TcpProxy::start(old.address()).await;
    let state = SharedState::redis(&address.redis_config(), "failover");
    let window = Duration::from_secs(60);
    assert_eq!(state.counters.hit("k", window).await.unwrap().count, 1);
    wait_for_key(&new, "failover:window:k").await;

    // The failover: the replica is promoted, the old primary becomes its replica, and the
    // address leads to the new primary; the open connection still reaches the old one.
    new.command(&["REPLICAOF", "NO", "ONE"]).await.unwrap();
    let port = new.port.to_string();
    old.command(&["REPLICAOF", "127.0.0.1", &port])
        .await
        .unwrap();
    address.retarget(new.address());

    // The first count meets the demoted server and is refused (an answer, not an outage) …
    let refused = state.counters.hit("k", window).await;
    assert!(
        matches!(&refused, Err(SharedStateError::Command(e)) if e.contains("read only replica")),
        "{refused:?}"
    );
    // … and the next one, on a new connection, is counted by the new primary, going on.
    assert_eq!(state.counters.hit("k", window).await.unwrap().count, 2);
}

#[test]
fn each_worker_sees_the_same_state_through_its_own_connection() {
    let states = tokio::runtime::Runtime::new().unwrap().block_on(backends());
    for (name, state) in states {
        let first = state.for_worker();
        let window = Duration::from_secs(5);
        let count = testing::on_own_runtime(async move {
            first
                .deny_list
                .deny("w1", Duration::from_secs(5))
                .await
                .unwrap();
            first.counters.hit("shared", window).await.unwrap().count
        });
        assert_eq!(count, 1, "{name}");
        // The first worker's runtime is gone; a connection it drove would be too.
        let second = state.for_worker();
        let (count, denied) = testing::on_own_runtime(async move {
            let count = second.counters.hit("shared", window).await.unwrap().count;
            (count, second.deny_list.is_denied("w1").await.unwrap())
        });
        assert_eq!(count, 2, "{name}: one budget across workers");
        assert!(
            denied,
            "{name}: a denial made by one worker is seen by another"
        );
    }
}

#[tokio::test]
async fn redis_counts_a_hit_and_answers_for_a_session_in_one_command() {
    let Some(config) = testing::redis_config() else {
        return;
    };
    let state = SharedState::redis(&config, &testing::unique_prefix());
    let redis = state.redis.clone().unwrap();
    let window = Duration::from_secs(5);
    let both = |(count, denied): (Result<_, _>, Result<_, _>)| (count.unwrap(), denied.unwrap());
    let (first, denied) = both(redis.hit_and_is_denied("k", window, "s1").await);
    assert_eq!((first.count, denied), (1, false));
    assert!(first.resets_in <= window && first.resets_in > Duration::ZERO);
    // The same counter as `hit`'s, the same deny-list as `deny`'s.
    assert_eq!(state.counters.hit("k", window).await.unwrap().count, 2);
    state.deny_list.deny("s1", window).await.unwrap();
    let (third, denied) = both(redis.hit_and_is_denied("k", window, "s1").await);
    assert_eq!((third.count, denied), (3, true));
    let (_, other_denied) = both(redis.hit_and_is_denied("k", window, "s2").await);
    assert!(!other_denied, "only the denied session");

    let down = SharedState::redis(&testing::unreachable_redis_config().await, "down");
    let (counted, denied) = down
        .redis
        .unwrap()
        .hit_and_is_denied("k", window, "s1")
        .await;
    assert!(
        matches!(counted, Err(SharedStateError::Unreachable(_))),
        "{counted:?}"
    );
    assert!(
        matches!(denied, Err(SharedStateError::Unreachable(_))),
        "{denied:?}"
    );
}

#[tokio::test]
async fn a_full_redis_refuses_the_count_and_still_answers_for_sessions() {
    let Some(private) = testing::PrivateRedis::start().await else {
        return;
    };
    let state = SharedState::redis(&private.redis_config(), "full");
    let redis = state.redis.clone().unwrap();
    let window = Duration::from_secs(60);
    state.deny_list.deny("s1", window).await.unwrap();
    // Full, with Redis's default policy (`noeviction`): whatever may write is refused.
    private
        .command(&["CONFIG", "SET", "maxmemory", "1"])
        .await
        .unwrap();

    let (counted, denied) = redis.hit_and_is_denied("k", window, "s1").await;
    assert!(
        matches!(&counted, Err(SharedStateError::Command(e)) if e.contains("OOM")),
        "{counted:?}"
    );
    assert!(denied.unwrap(), "the denied session is still denied");
    // Readiness counts too, so it says so (a ping would answer).
    let ready = plangen_core::ReadinessCheck::check(&*redis).await;
    assert!(ready.unwrap_err().contains("OOM"));
    let (counted, denied) = redis.hit_and_is_denied("k", window, "s2").await;
    assert!(counted.is_err());
    assert!(!denied.unwrap(), "another session is not");
    // A refusal is an answer, not an outage: the next commands are asked at once.
    assert!(state.deny_list.is_denied("s1").await.unwrap());
    assert!(redis.ping().await.is_ok());
}
