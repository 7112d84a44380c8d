//! `make bench`: access-token verification, and a login over real HTTP on the embedded
//! backend (known user with the right password, and an unknown user: the two should cost the
//! same, since the unknown one is verified against a dummy hash).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use plangen_auth::{AuthConfig, AuthState, app};
use plangen_core::shared_state::MemoryState;
use plangen_core::testing::TestServer;
use plangen_core::{Authenticator, Env, Secret, TokenKeys};
use serde_json::json;

fn token_verification(c: &mut Criterion) {
    let keys = TokenKeys::new(&Secret::new("b".repeat(40)), Duration::from_secs(900));
    let token = keys.sign(&keys.claims_for("user-1", "session-1", "ada@example.org", "user"));
    c.bench_function("access_token/verify", |b| {
        b.iter(|| keys.verify(&token).unwrap())
    });

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let auth = Authenticator::new(
        std::sync::Arc::new(keys),
        std::sync::Arc::new(MemoryState::default()),
        false,
    );
    let header = format!("Bearer {token}");
    c.bench_function("access_token/authenticate_with_deny_list", |b| {
        b.to_async(&runtime)
            .iter(|| auth.authenticate_header(Some(&header)))
    });
}

fn login(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = runtime.block_on(async {
        let env = Env::from_map([
            ("ACCESS_TOKEN_SECRET", "a".repeat(40)),
            ("REFRESH_TOKEN_SECRET", "r".repeat(40)),
            ("DATABASE_URL", format!("sqlite:{}", dir.path().join("bench.db").display())),
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "1000000000".into()),
            ("LOGIN_MAX_FAILURES_PER_IP", "1000000000".into()),
        ]);
        let state = AuthState::new(AuthConfig::from_env(env, &Default::default()).unwrap()).await.unwrap();
        let server = TestServer::spawn(app(state)).await;
        let client = reqwest::Client::new();
        let res = client
            .post(server.url("/api/auth/register"))
            .json(&json!({"email": "ada@example.org", "username": "ada", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        (server, client)
    });
    let mut group = c.benchmark_group("login_http");
    group.sample_size(20);
    for (name, login, password, status) in [
        ("right_password", "ada", "correct horse battery", 200),
        ("wrong_password", "ada", "wrong horse battery", 401),
        ("unknown_user", "nobody", "correct horse battery", 401),
    ] {
        let url = server.url("/api/auth/login");
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let res = client
                    .post(&url)
                    .json(&json!({"login": login, "password": password}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), status);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, token_verification, login);
criterion_main!(benches);
