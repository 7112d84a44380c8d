//! The training workload of the profile-guided build (`pgo-build.sh`) runs clean against the
//! real platform: `plangen all` on a fresh embedded store, every request answered as the
//! workload expects. A route renamed or a body refused fails here, instead of the build
//! quietly training the error paths.

#[path = "../../gateway/examples/pgo_workload/workload.rs"]
mod workload;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn the_training_workload_gets_the_answers_it_expects_from_plangen_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_plangen"))
        .args(["all", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_HOST")
        // As pgo-build.sh runs it: one client address, budgets that never bind.
        .env("RATE_LIMIT_MAX_REQUESTS", "1000000000")
        .env("AUTH_RATE_LIMIT_MAX_REQUESTS", "1000000")
        .env("ALLOWED_ORIGINS", "http://localhost:5173")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = stdout
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("plangen: listening on ").map(str::to_owned))
        .expect("plangen all prints where it listens");
    // The access log goes to stdout: keep reading so the pipe never fills.
    std::thread::spawn(move || stdout.for_each(drop));

    let load = workload::Load {
        users: 2,
        rounds: 10,
    };
    let result = workload::run(&url, load).await;
    let metrics = reqwest::get(format!("{url}/metrics")).await;
    let _ = child.kill();
    let _ = child.wait();
    let tally = result.unwrap();
    let metrics = metrics.unwrap().text().await.unwrap();
    // The gateway's own count: what reached each service went through the proxy (the app's
    // shell, two reads a round, is served by the gateway itself).
    let proxied = |upstream: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with("plangen_gateway_upstream_requests_total{"))
            .filter(|l| l.contains(&format!(r#"upstream="{upstream}""#)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let to_services = proxied("auth") + proxied("template") + proxied("plan");
    let shell = (2 * load.users * load.rounds) as u64;
    assert!(
        proxied("auth") > 0 && proxied("template") > 0 && proxied("plan") > 0,
        "{metrics}"
    );
    assert!(
        to_services >= tally.reads - shell + tally.writes + tally.auth
            && to_services <= tally.total(),
        "{tally:?} but {to_services} proxied:\n{metrics}"
    );
    // Two users, ten rounds: two rounds of writes each (rounds 5 and 10) besides the first
    // template and plan, so every kind of request was made.
    assert!(tally.reads >= 2 * 10 * 17, "{tally:?}");
    assert!(tally.writes >= 2 * (2 + 2 * 4), "{tally:?}");
    assert!(
        tally.auth >= 2 * 3 && tally.refused >= 2 * 10 * 4,
        "{tally:?}"
    );
}
