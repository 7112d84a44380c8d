//! The `plangen` binary: `all` starts on the embedded default, answers, and exits cleanly on
//! SIGTERM; a misconfigured service names every bad variable.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn plangen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plangen"))
}

/// The child's exit status once it has exited, or `None` (and the child killed) when it is
/// still running after `limit`.
fn exit_within(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn all_starts_on_the_embedded_default_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = plangen()
        .args(["all", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in stdout.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("plangen: listening on ") {
            url = Some(rest.trim().to_owned());
            break;
        }
    }
    let url = url.expect("plangen all prints where it listens");

    let health = reqwest::blocking::get(format!("{url}/healthz")).unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        dir.path().join("plangen.db").exists(),
        "the SQLite file is created"
    );
    let secrets = std::fs::read_to_string(dir.path().join("secrets.json")).unwrap();
    assert!(secrets.contains("accessTokenSecret"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("secrets.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secrets are private to their owner");
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = exit_within(&mut child, Duration::from_secs(5))
        .expect("plangen all did not stop on SIGTERM");
    assert!(exited.success(), "{exited:?}");
    // Log lines go out through a writer thread; what it still held at SIGTERM is written
    // before the process exits: the access line of the health check is there.
    let rest: Vec<String> = stdout.map(Result::unwrap).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains(r#""target":"access""#) && l.contains("GET /healthz 200")),
        "no access line for the health check in: {rest:#?}"
    );
}

#[test]
fn a_misconfigured_service_lists_every_problem_and_exits_2() {
    let out = plangen()
        .arg("auth")
        .env("ACCESS_TOKEN_SECRET", "short")
        .env_remove("REFRESH_TOKEN_SECRET")
        .env("PORT", "not-a-port")
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "ACCESS_TOKEN_SECRET is too short",
        "REFRESH_TOKEN_SECRET is required",
        "PORT=\"not-a-port\"",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in: {stderr}");
    }
    assert!(
        !stderr.contains("\"short\""),
        "the secret's value is not echoed"
    );
}

#[test]
fn the_frontend_server_checks_its_request_timeout_too() {
    let mut child = plangen()
        .arg("frontend")
        .env("PORT", "0")
        .env("REQUEST_TIMEOUT_MS", "soon")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a server that accepted the setting would run until killed.
    let status = exit_within(&mut child, Duration::from_secs(20))
        .expect("plangen frontend started with REQUEST_TIMEOUT_MS=soon");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("REQUEST_TIMEOUT_MS"), "{stderr}");
}

#[test]
fn migrate_brings_a_sqlite_file_up_to_date_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    for _ in 0..2 {
        let out = plangen()
            .arg("migrate")
            .env("DATABASE_URL", format!("sqlite:{}", db.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tables: Vec<(String,)> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap()
    });
    let names: Vec<&str> = tables.iter().map(|(n,)| n.as_str()).collect();
    for table in [
        "users",
        "sessions",
        "refresh_tokens",
        "_sqlx_migrations_auth",
    ] {
        assert!(names.contains(&table), "{table} missing from {names:?}");
    }
}

#[test]
fn migrate_without_a_database_url_says_so() {
    let out = plangen()
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

#[test]
fn frontend_serves_the_built_app_with_its_client_routes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Plangen</title>",
    )
    .unwrap();
    std::fs::write(dir.path().join("assets/app-1a2b.js"), "console.log(1)").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = plangen()
        .arg("frontend")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("PLANGEN_SPA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if reqwest::blocking::get(format!("{base}/healthz")).is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let checks = || -> Result<(), String> {
        if !ready {
            return Err("plangen frontend did not start".into());
        }
        let deep = reqwest::blocking::get(format!("{base}/plans/123")).unwrap();
        if deep.status() != 200 || deep.headers()["cache-control"] != "no-cache" {
            return Err(format!(
                "client route: {} {:?}",
                deep.status(),
                deep.headers()
            ));
        }
        if !deep.headers().contains_key("content-security-policy") {
            return Err("security headers missing".into());
        }
        if !deep.text().unwrap().contains("<title>Plangen</title>") {
            return Err("client routes get index.html".into());
        }
        let asset = reqwest::blocking::get(format!("{base}/assets/app-1a2b.js")).unwrap();
        if asset.headers()["cache-control"] != "public, max-age=31536000, immutable" {
            return Err(format!("hashed assets are cached: {:?}", asset.headers()));
        }
        let missing = reqwest::blocking::get(format!("{base}/missing.png")).unwrap();
        if missing.status() != 404 {
            return Err(format!("a missing file is 404, got {}", missing.status()));
        }
        Ok(())
    };
    let result = checks();
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
}
