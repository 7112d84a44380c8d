//! Test helpers for every service crate: a real server on an ephemeral port, its API called
//! as a user, and the local PostgreSQL/Redis when configured (required when
//! `PLANGEN_REQUIRE_SERVICES=1`).

mod api;
mod logs;
pub mod mongo;

pub use api::{ApiClient, access_token, assert_problem, problem_fields, test_env};
pub use logs::CapturedLogs;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use tokio::net::TcpListener;

use crate::config::{Env, RedisConfig, Secret};
use crate::server::{Shutdown, ShutdownTrigger, serve};

/// A router served on `127.0.0.1:0` until dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base_url: String,
    trigger: ShutdownTrigger,
}

impl TestServer {
    pub async fn spawn(app: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind ephemeral port");
        let addr = listener.local_addr().expect("local addr");
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(serve(listener, app, shutdown));
        Self {
            addr,
            base_url: format!("http://{addr}"),
            trigger,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn stop(&self) {
        self.trigger.trigger();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

fn require_services() -> bool {
    std::env::var("PLANGEN_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// Skips (returns `None`) or, when services are required, fails.
fn missing(what: &str) -> Option<std::convert::Infallible> {
    assert!(
        !require_services(),
        "{what} is required (PLANGEN_REQUIRE_SERVICES=1) but not configured"
    );
    eprintln!("skipping {what} tests: not configured");
    None
}

/// The PostgreSQL server URL for tests (`DATABASE_URL` when it is a postgres URL).
pub fn postgres_server_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Some(url),
        _ => missing("PostgreSQL (DATABASE_URL)").map(|never| match never {}),
    }
}

/// A fresh, empty database on the test PostgreSQL server, so tests never see each other's rows.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::Connection;
    let server = postgres_server_url()?;
    let name = format!("plangen_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("connect to the test PostgreSQL server");
    // The name is ours (a uuid), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (server.clone(), String::new()),
    };
    let without_db = match base.rfind('/') {
        Some(i) if base[..i].contains("@") || base[..i].matches('/').count() > 2 => {
            base[..i].to_owned()
        }
        _ => base,
    };
    Some(format!("{without_db}/{name}{query}"))
}

/// A fresh database (as [`fresh_postgres_database`]) reached through a [`TcpProxy`] the test
/// can cut or stall: the URL through the proxy, the direct URL (for the test's own queries),
/// and the proxy.
pub async fn postgres_behind_proxy() -> Option<(String, String, TcpProxy)> {
    let direct = fresh_postgres_database().await?;
    let mut url = reqwest::Url::parse(&direct).expect("DATABASE_URL is a URL");
    let proxy = proxy_in_front(&mut url, 5432).await;
    Some((url.to_string(), direct, proxy))
}

/// A [`TcpProxy`] in front of the (single) server `url` names, and `url` changed to reach it
/// through the proxy; everything else in `url` (credentials, path, options) is kept.
pub(crate) async fn proxy_in_front(url: &mut reqwest::Url, default_port: u16) -> TcpProxy {
    let host = url.host_str().expect("a URL with one host").to_owned();
    let target = tokio::net::lookup_host((host.as_str(), url.port().unwrap_or(default_port)))
        .await
        .expect("resolve the server's host")
        .next()
        .expect("an address for the server's host");
    let proxy = TcpProxy::start(target).await;
    url.set_host(Some("127.0.0.1")).expect("a host");
    url.set_port(Some(proxy.port)).expect("a port");
    proxy
}

/// The test Redis (`REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`).
pub fn redis_config() -> Option<RedisConfig> {
    let mut env = Env::from_process();
    match RedisConfig::from_env(&mut env) {
        Some(c) => Some(c),
        None => missing("Redis (REDIS_HOST)").map(|never| match never {}),
    }
}

/// A Redis config pointing at a port where nothing listens: an outage, without touching the
/// machine's Redis.
pub async fn unreachable_redis_config() -> RedisConfig {
    local_redis_config(free_port(), None)
}

/// A port nothing listens on at the moment (another may take it before it is used).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn local_redis_config(port: u16, password: Option<Secret>) -> RedisConfig {
    RedisConfig {
        host: "127.0.0.1".into(),
        port,
        password,
    }
}

/// The test Redis (as [`redis_config`]) behind a [`TcpProxy`] the test can cut and restore:
/// the config to reach it through the proxy, and the proxy.
pub async fn redis_behind_proxy() -> Option<(RedisConfig, TcpProxy)> {
    let redis = redis_config()?;
    let target = tokio::net::lookup_host((redis.host.as_str(), redis.port))
        .await
        .expect("the test Redis's address")
        .next()
        .expect("the test Redis has an address");
    let proxy = TcpProxy::start(target).await;
    Some((local_redis_config(proxy.port, redis.password), proxy))
}

/// A Redis server of the test's own — the machine's `redis-server` on a free port, keeping
/// nothing on disk, stopped when dropped — for what must not be done to the shared one
/// (filling it up, say). `None` (the test skips) without `redis-server`, unless services are
/// required.
pub struct PrivateRedis {
    pub port: u16,
    child: std::process::Child,
    /// Its working directory: a replica writes the data it receives there (`dump.rdb`), and
    /// a server loads what it finds there at start.
    dir: std::path::PathBuf,
}

impl PrivateRedis {
    pub async fn start() -> Option<Self> {
        // The free port may be taken before the server binds it: then another one.
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("plangen-redis-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir(&dir).expect("a directory for the private Redis");
            let spawned = std::process::Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .arg("--dir")
                .arg(&dir)
                .args(["--save", "", "--appendonly", "no"])
                // A new replica is sent the data at once, not after the default 5 s wait for
                // more replicas.
                .args(["--repl-diskless-sync-delay", "0"])
                .stdout(std::process::Stdio::null())
                .spawn();
            let Ok(child) = spawned else {
                let _ = std::fs::remove_dir_all(&dir);
                return missing("redis-server (a private Redis)").map(|never| match never {});
            };
            let mut server = Self { port, child, dir };
            for _ in 0..100 {
                if server.command(&["PING"]).await.is_ok() {
                    return Some(server);
                }
                if server.child.try_wait().is_ok_and(|exited| exited.is_some()) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        panic!("no private redis-server answered");
    }

    pub fn redis_config(&self) -> RedisConfig {
        local_redis_config(self.port, None)
    }

    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// One command on a connection of its own (what `redis-cli` would send).
    pub async fn command(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(self.redis_config().connection_info())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd(args[0])
            .arg(&args[1..])
            .query_async(&mut connection)
            .await
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server that accepts connections and never answers: a Redis (or any peer) that hangs,
/// which is a harder outage than a closed port (every command waits for its timeout).
pub struct HangingServer {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl HangingServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                held.push(connection);
            }
        });
        Self { port, task }
    }

    /// A Redis config pointing at this server.
    pub fn redis_config(&self) -> RedisConfig {
        local_redis_config(self.port, None)
    }
}

impl Drop for HangingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `work` to its end on a thread of its own with a single-threaded runtime of its own, as
/// the gateway's workers run: whatever that runtime drives (a connection, a task) is gone when
/// this returns.
pub fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a single-threaded runtime")
            .block_on(work)
    })
    .join()
    .expect("the work panicked")
}

/// A key prefix unique to one test, so parallel tests on one Redis do not share counters.
pub fn unique_prefix() -> String {
    format!("plangen-test-{}", uuid::Uuid::new_v4().simple())
}

/// A TCP proxy in front of a real server, that a test can cut and restore: an outage of
/// Redis or PostgreSQL without touching the machine's servers.
pub struct TcpProxy {
    pub port: u16,
    /// Where new connections go ([`TcpProxy::retarget`]).
    target: Arc<Mutex<SocketAddr>>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Bumped by [`TcpProxy::stall_open_connections`]: connections opened before the bump
    /// stop moving bytes.
    stalls: tokio::sync::watch::Sender<u64>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let proxy = Self {
            port,
            target: Arc::new(Mutex::new(target)),
            task: std::sync::Mutex::new(None),
            stalls: tokio::sync::watch::channel(0).0,
            accepted: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target.clone();
        let stalls = self.stalls.subscribe();
        let accepted = self.accepted.clone();
        let handle = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut stalls = stalls.clone();
                let born = *stalls.borrow_and_update();
                let target = *target.lock().expect("proxy target");
                connections.spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let stalled = tokio::select! {
                        biased;
                        stall = stalls.wait_for(|stall| *stall > born) => stall.is_ok(),
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => false,
                    };
                    if stalled {
                        // Both ends stay open and nothing moves: a black hole, as a dropped
                        // NAT entry or a dead peer behind a firewall looks.
                        std::future::pending::<()>().await;
                    }
                });
            }
        });
        *self.task.lock().expect("proxy lock") = Some(handle);
    }

    /// Closes the listener and every open connection.
    pub fn cut(&self) {
        if let Some(task) = self.task.lock().expect("proxy lock").take() {
            // Aborting drops the JoinSet, which aborts every forwarded connection.
            task.abort();
        }
    }

    /// A config reaching the Redis this proxy forwards to (one without a password).
    pub fn redis_config(&self) -> RedisConfig {
        local_redis_config(self.port, None)
    }

    /// How many connections it has accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every connection open now stops moving bytes and stays open (a peer that went silent
    /// without closing); connections made afterwards go through as before.
    pub fn stall_open_connections(&self) {
        self.stalls.send_modify(|stall| *stall += 1);
    }

    /// New connections go to `target` from now on; open ones stay where they are (as a
    /// Service or a DNS name that now leads to another server).
    pub fn retarget(&self, target: SocketAddr) {
        *self.target.lock().expect("proxy target") = target;
    }

    /// Listens again on the same port.
    pub async fn restore(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("rebinding the proxy port: {e}"),
            }
        };
        self.serve(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
