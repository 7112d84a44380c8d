//! List latency on the embedded backend: the first page (50 plans) and a deep keyset page of
//! one user's plans, with 100 000 plans stored (1 000 users × 100), through the store and
//! over HTTP. Prints p50/p99 of a plain sample first, then runs criterion.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use plangen_core::testing::TestServer;
use plangen_core::{Env, TokenKeys, config::Secret};
use plangen_plan::http::{Cursor, Direction};
use plangen_plan::model::{Item, Plan, Priority, Status};
use plangen_plan::store::{ListQuery, PlanStore, SortField};
use plangen_plan::{PlanConfig, PlanState};

const PLANS: usize = 100_000;
const USERS: usize = 1_000;
const SECRET: &str = "bench-secret-0123456789abcdef0123456789";

fn plan(i: usize) -> Plan {
    let now = Utc::now() - chrono::Duration::seconds((PLANS - i) as i64);
    let start =
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days((i % 365) as i64);
    Plan {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: format!("user-{}", i % USERS),
        title: format!("Plan {i}"),
        description: "A plan for the benchmark".into(),
        status: Status::Active,
        start_date: start,
        end_date: None,
        timezone: "Europe/Berlin".into(),
        tags: vec!["bench".into()],
        priority: Priority::Medium,
        template_id: None,
        template_version: None,
        items: (0..3)
            .map(|n| Item {
                id: uuid::Uuid::now_v7().to_string(),
                title: format!("Item {n}"),
                notes: None,
                due_at: Some(now),
                duration_minutes: Some(30),
                done_at: None,
                position: n,
            })
            .collect(),
        recurrence: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

fn query(after: Option<Cursor>) -> ListQuery {
    ListQuery {
        owner: "user-7".into(),
        q: None,
        status: None,
        tag: None,
        from: None,
        to: None,
        sort: SortField::CreatedAt,
        direction: Direction::Desc,
        after,
        limit: 51,
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let config = PlanConfig::from_env(Env::from_map([
        ("ACCESS_TOKEN_SECRET", SECRET),
        ("DATABASE_URL", url.as_str()),
    ]))
    .unwrap();
    let (state, store, server): (PlanState, Arc<dyn PlanStore>, TestServer) = rt.block_on(async {
        let state = PlanState::new(config).await.unwrap();
        let store = state.store.clone();
        let started = Instant::now();
        for chunk in (0..PLANS).collect::<Vec<_>>().chunks(5_000) {
            let plans: Vec<Plan> = chunk.iter().map(|&i| plan(i)).collect();
            store.insert_many(&plans).await.unwrap();
        }
        eprintln!("loaded {PLANS} plans in {:.1?}", started.elapsed());
        let server = TestServer::spawn(plangen_plan::app(state.clone())).await;
        (state, store, server)
    });
    drop(state);
    let keys = TokenKeys::new(&Secret::new(SECRET), Duration::from_secs(3600));
    let token = keys.sign(&keys.claims_for("user-7", "s", "u@example.org", "user"));
    let http = reqwest::Client::new();
    let page_url = server.url("/api/plans?limit=50");
    // A cursor 50 plans deep: the second page.
    let deep = rt.block_on(async {
        let first = store.list(&query(None)).await.unwrap();
        let last = &first[49];
        Cursor {
            s: "-createdAt".into(),
            k: SortField::CreatedAt.key_of(last),
            i: last.id.clone(),
        }
    });

    let sample = |f: &dyn Fn() -> Duration| -> (Duration, Duration) {
        percentiles((0..1_000).map(|_| f()).collect())
    };
    let store_first = sample(&|| {
        let t = Instant::now();
        let page = rt.block_on(store.list(&query(None))).unwrap();
        assert_eq!(page.len(), 51);
        t.elapsed()
    });
    let store_deep = sample(&|| {
        let t = Instant::now();
        let page = rt.block_on(store.list(&query(Some(deep.clone())))).unwrap();
        assert_eq!(page.len(), 50);
        t.elapsed()
    });
    let http_first = sample(&|| {
        let t = Instant::now();
        let res = rt
            .block_on(http.get(&page_url).bearer_auth(&token).send())
            .unwrap();
        assert_eq!(res.status(), 200);
        rt.block_on(res.bytes()).unwrap();
        t.elapsed()
    });
    for (name, (p50, p99)) in [
        ("store, first page of 50", store_first),
        ("store, second page (cursor)", store_deep),
        ("HTTP GET /api/plans?limit=50", http_first),
    ] {
        eprintln!("list latency, {name}, {PLANS} plans stored: p50 {p50:.2?}, p99 {p99:.2?}");
    }

    c.bench_function("store list 50 of 100k", |b| {
        b.iter(|| rt.block_on(store.list(&query(None))).unwrap())
    });
    c.bench_function("http list 50 of 100k", |b| {
        b.iter(|| {
            let res = rt
                .block_on(http.get(&page_url).bearer_auth(&token).send())
                .unwrap();
            rt.block_on(res.bytes()).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
