//! A MongoDB for the tests: `MONGODB_URL` when set; else an `nx-27017` (a MongoDB
//! wire-protocol server; `PLANGEN_NX27017` names the command, else `nx-27017` on `PATH`)
//! started once per test binary on a free port; else the Mongo tests are skipped, or fail when
//! `PLANGEN_REQUIRE_SERVICES=1`.

use std::io::Write as _;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Which server the Mongo backend runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoServer {
    pub url: String,
    /// The nx-27017 stand-in (known gaps are skipped on it, and only on it).
    pub is_nx: bool,
}

impl MongoServer {
    /// The backend's name in test output.
    pub fn backend(&self) -> &'static str {
        if self.is_nx {
            "mongo(nx-27017)"
        } else {
            "mongo"
        }
    }
}

/// Kept for the life of the test binary. The child is a shell that starts nx-27017 and kills
/// it when its stdin closes — which happens when this process exits, however it exits, so no
/// server outlives the tests even though statics are never dropped.
struct Running {
    _guard: Mutex<Child>,
}

fn require_services() -> bool {
    std::env::var("PLANGEN_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(cmd).is_file()))
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn start_nx(command: &str) -> (Running, String) {
    let port = free_port();
    // nx-27017 keeps one pid file per machine unless told otherwise: one per instance here,
    // so test binaries running side by side each get their own server.
    let run = std::env::temp_dir().join(format!("plangen-nx-{port}-{}", std::process::id()));
    let script = format!(
        "{command} --db memory --host 127.0.0.1 -p {port} --pid-file {run}.pid \
         --log-file {run}.log >/dev/null 2>&1 & child=$!; \
         cat >/dev/null; kill $child 2>/dev/null; wait $child; rm -f {run}.pid {run}.log",
        run = run.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::piped())
        .spawn()
        .expect("start nx-27017");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "nx-27017 exited before accepting connections ({status}); see {}.log",
                run.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "nx-27017 did not accept connections on port {port} within 60s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Touch stdin so an early-closed pipe shows here, not as a vanished server later.
    let _ = child.stdin.as_mut().map(|s| s.flush());
    (
        Running {
            _guard: Mutex::new(child),
        },
        format!("mongodb://127.0.0.1:{port}"),
    )
}

/// The Mongo server for this test binary, or `None` (skip).
pub fn mongo_server() -> Option<MongoServer> {
    static SERVER: OnceLock<Option<(Option<Running>, MongoServer)>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("MONGODB_URL")
                && !url.trim().is_empty()
            {
                return Some((None, MongoServer { url, is_nx: false }));
            }
            let command = std::env::var("PLANGEN_NX27017")
                .ok()
                .filter(|c| !c.trim().is_empty())
                .or_else(|| on_path("nx-27017").then(|| "nx-27017".to_owned()));
            match command {
                Some(cmd) => {
                    let (running, url) = start_nx(&cmd);
                    Some((Some(running), MongoServer { url, is_nx: true }))
                }
                None => {
                    assert!(
                        !require_services(),
                        "MongoDB is required (PLANGEN_REQUIRE_SERVICES=1): set MONGODB_URL or \
                         install nx-27017 (pip install nx-27017)"
                    );
                    eprintln!("skipping MongoDB tests: no MONGODB_URL and no nx-27017");
                    None
                }
            }
        })
        .as_ref()
        .map(|(_, s)| s.clone())
}

/// A database name no other test uses.
pub fn fresh_database() -> String {
    format!("plangen_test_{}", uuid::Uuid::new_v4().simple())
}

/// The test MongoDB (as [`mongo_server`]) behind a [`TcpProxy`](super::TcpProxy) the test can
/// cut or stall: the server, a URL reaching it through the proxy (credentials and options
/// kept; `directConnection=true`, so the driver does not go round the proxy to the members a
/// replica set names), and the proxy. `None` as [`mongo_server`].
pub async fn mongo_behind_proxy() -> Option<(MongoServer, String, super::TcpProxy)> {
    let server = mongo_server()?;
    let mut url = reqwest::Url::parse(&server.url).expect("a mongodb:// URL with one host");
    let proxy = super::proxy_in_front(&mut url, 27017).await;
    url.query_pairs_mut()
        .append_pair("directConnection", "true");
    Some((server, url.to_string(), proxy))
}

/// What a service in front of `proxy` (see [`mongo_behind_proxy`]) does when MongoDB goes
/// silent — its open connections stop answering and stay open (a dropped NAT entry, a dead
/// peer): the next `request` is answered within 4 s with a 503 `timeout` problem that names no
/// address, and within 20 s requests pass again on new connections. Returns the body of the
/// first answer that passed. The service is expected to run with `MONGODB_TIMEOUT_MS` and
/// `REQUEST_TIMEOUT_MS` of about a second.
pub async fn silence_costs_one_timeout<F, Fut>(
    proxy: &super::TcpProxy,
    backend: &str,
    request: F,
) -> serde_json::Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    proxy.stall_open_connections();
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(10), request())
        .await
        .expect("answered, not left hanging");
    let waited = started.elapsed();
    let p = super::assert_problem(res, 503, "timeout").await;
    assert!(waited < Duration::from_secs(4), "bounded: {waited:?}");
    assert!(
        !p.to_string().contains("127.0.0.1"),
        "no internals leak: {p}"
    );

    // New connections pass: the driver gives up the silent ones.
    let started = Instant::now();
    loop {
        let res = request().await;
        if res.status() == 200 {
            eprintln!(
                "[{backend}] recovered {:?} after the first timeout",
                started.elapsed()
            );
            return res.json().await.expect("a JSON body");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still {} after {:?}",
            res.status(),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
