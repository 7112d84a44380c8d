//! `pgo_workload <gateway URL> [users] [rounds]`: drives a running Plangen (usually `plangen
//! all` built instrumented, by `services/plangen/pgo-build.sh`) with the mix of
//! `workload.rs`, prints how many requests of each kind it made, and exits 1 at the first
//! unexpected answer. Here rather than beside the `plangen` binary because this crate's
//! dev-dependencies are light (the binary's include the operator, a long optimised build).

mod workload;

use std::process::ExitCode;

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(base) = std::env::args().nth(1) else {
        eprintln!("usage: pgo_workload <gateway URL> [users (8)] [rounds (200)]");
        return ExitCode::from(2);
    };
    let load = workload::Load {
        users: arg(2, 8),
        rounds: arg(3, 200),
    };
    let started = std::time::Instant::now();
    match workload::run(&base, load).await {
        Ok(tally) => {
            println!(
                "pgo_workload: {} requests in {:.1} s ({} reads, {} writes, {} auth, {} refused at the edge)",
                tally.total(),
                started.elapsed().as_secs_f64(),
                tally.reads,
                tally.writes,
                tally.auth,
                tally.refused
            );
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("pgo_workload: {why}");
            ExitCode::FAILURE
        }
    }
}
