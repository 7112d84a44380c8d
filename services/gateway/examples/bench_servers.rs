//! The servers for `bench/load.sh` beside the gateway it measures (`plangen gateway`), on fixed
//! ports, until SIGTERM. Not a test: the numbers it leads to are in docs/GATEWAY.md.
//!
//! `bench_servers upstream` serves `GET /api/templates/bench` (a small JSON body, like a real
//! read) on `BENCH_UPSTREAM_PORT` (default 18081). `bench_servers proxy` runs, in front of that
//! upstream on `BENCH_BARE_PORT` (default 18083), the gateway's proxy alone (no edge layer), to
//! tell proxy cost from policy cost, and prints a bearer token signed with `ACCESS_TOKEN_SECRET`
//! for every target to be sent. Separate processes, as deployed, so the CPU each one spends per
//! request can be read from `/proc`.

use plangen_core::server::{Shutdown, bind, serve};
use plangen_core::{Env, Secret, TokenKeys};
use plangen_gateway::GatewayConfig;
use plangen_gateway::server::serve_with;

// The allocator the `plangen` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn port(var: &str, default: u16) -> u16 {
    std::env::var(var)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let role = std::env::args().nth(1).unwrap_or_default();
    let upstream_port = port("BENCH_UPSTREAM_PORT", 18081);
    let (_trigger, shutdown) = Shutdown::on_signals();
    match role.as_str() {
        "upstream" => {
            let upstream = axum::Router::new().route(
                "/api/templates/bench",
                axum::routing::get(|| async {
                    axum::Json(
                        serde_json::json!({"id": "bench", "name": "Weekly review", "steps": 5}),
                    )
                }),
            );
            let listener = bind("127.0.0.1", upstream_port).await?;
            println!("ready: upstream http://127.0.0.1:{upstream_port}");
            serve(listener, upstream, shutdown).await?;
        }
        "proxy" => proxy(upstream_port, shutdown).await?,
        _ => {
            eprintln!("usage: bench_servers upstream|proxy");
            std::process::exit(2);
        }
    }
    Ok(())
}

async fn proxy(upstream_port: u16, shutdown: Shutdown) -> Result<(), Box<dyn std::error::Error>> {
    // The secret of the `plangen gateway` load.sh measures, so the token is valid there.
    let secret = std::env::var("ACCESS_TOKEN_SECRET")
        .unwrap_or_else(|_| "bench-secret-0123456789abcdef0123456789".to_owned());
    let config = GatewayConfig::from_env(Env::from_map([
        ("ACCESS_TOKEN_SECRET", secret.clone()),
        ("TEMPLATE", format!("http://127.0.0.1:{upstream_port}")),
    ]))?;
    let keys = TokenKeys::new(
        &Secret::new(&secret),
        std::time::Duration::from_secs(86_400),
    );
    let token = keys.sign(&keys.claims_for("bench-user", "bench-session", "b@example.org", "user"));

    // `proxy::forward` without any edge layer, on the gateway's own server and worker threads.
    let upstream = std::sync::Arc::new(plangen_gateway::proxy::Upstream::new(
        config.template.clone(),
        &config.breaker,
        config.workers,
    ));
    let budget = std::sync::Arc::new(plangen_gateway::breaker::RetryBudget::default());
    let bare_port = port("BENCH_BARE_PORT", 18083);
    let listener = bind("127.0.0.1", bare_port).await?;
    let make_handler = move || {
        let (upstream, budget) = (upstream.clone(), budget.clone());
        move |_peer, req: axum::extract::Request| {
            let (upstream, budget) = (upstream.clone(), budget.clone());
            async move {
                let ctx = plangen_gateway::proxy::ForwardContext {
                    request_id: "bench",
                    user_id: None,
                    peer_ip: None,
                    trust_forwarded: false,
                    max_body: 1 << 20,
                    retries: 0,
                    budget: &budget,
                    rewrites: &[],
                    upstreams: &[],
                };
                match plangen_gateway::proxy::forward(&upstream, req, &ctx).await {
                    Ok(r) => r,
                    Err(e) => axum::response::IntoResponse::into_response(e.problem("template", 0)),
                }
            }
        }
    };
    eprintln!("TOKEN={token}");
    eprintln!("ready: proxy http://127.0.0.1:{bare_port}");
    serve_with(
        listener,
        plangen_gateway::server::ServerOptions::from(&config),
        shutdown,
        make_handler,
    )
    .await?;
    Ok(())
}
