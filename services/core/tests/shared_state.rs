//! One contract for the shared state, run against every backend available: in process always,
//! Redis when `REDIS_HOST` is set (required in CI).

use std::time::Duration;

use plangen_core::shared_state::{Ping, SharedState, SharedStateError};
use plangen_core::testing;

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
    let (first, denied) = redis.hit_and_is_denied("k", window, "s1").await.unwrap();
    assert_eq!((first.count, denied), (1, false));
    assert!(first.resets_in <= window && first.resets_in > Duration::ZERO);
    // The same counter as `hit`'s, the same deny-list as `deny`'s.
    assert_eq!(state.counters.hit("k", window).await.unwrap().count, 2);
    state.deny_list.deny("s1", window).await.unwrap();
    let (third, denied) = redis.hit_and_is_denied("k", window, "s1").await.unwrap();
    assert_eq!((third.count, denied), (3, true));
    let (_, other_denied) = redis.hit_and_is_denied("k", window, "s2").await.unwrap();
    assert!(!other_denied, "only the denied session");

    let down = SharedState::redis(&testing::unreachable_redis_config().await, "down");
    let err = down
        .redis
        .unwrap()
        .hit_and_is_denied("k", window, "s1")
        .await
        .unwrap_err();
    assert!(matches!(err, SharedStateError::Unreachable(_)), "{err}");
}
