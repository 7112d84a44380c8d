//! The servers for `bench/load.sh`, on fixed ports, until SIGTERM. Not a test: the numbers it
//! leads to are in docs/GATEWAY.md.
//!
//! `bench_servers upstream` serves `GET /api/templates/bench` (a small JSON body, like a real
//! read) on `BENCH_UPSTREAM_PORT` (default 18081). `bench_servers gateway` runs, in front of
//! that upstream, the gateway with every edge layer on (request ids, security headers, CORS,
//! metrics, in-process rate limiting with a budget large enough not to trigger, JWT check) on
//! `BENCH_GATEWAY_PORT` (default 18080) and, on `BENCH_BARE_PORT` when set, the proxy alone (no
//! edge layer), to tell proxy cost from policy cost. Separate processes, as deployed, so the CPU
//! each one spends per request can be read from `/proc`.
//!
//! `BENCH_ACCESS_LOG=1` turns on the JSON access log (to stdout), as in production;
//! `BENCH_REDIS=1` keeps the rate-limit counters and the deny-list in Redis, as deployed.

use plangen_core::server::{Shutdown, bind, serve};
use plangen_core::{Env, Secret, TokenKeys};
use plangen_gateway::server::serve_with;
use plangen_gateway::{GatewayConfig, GatewayState};

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
        "gateway" => gateway(upstream_port, shutdown).await?,
        _ => {
            eprintln!("usage: bench_servers upstream|gateway");
            std::process::exit(2);
        }
    }
    Ok(())
}

async fn gateway(upstream_port: u16, shutdown: Shutdown) -> Result<(), Box<dyn std::error::Error>> {
    let _log_guard = std::env::var("BENCH_ACCESS_LOG")
        .is_ok_and(|v| v == "1")
        .then(plangen_core::telemetry::init_tracing);
    let gateway_port = port("BENCH_GATEWAY_PORT", 18080);
    // The same secret as the `plangen gateway` that load.sh measures beside this one, so the
    // token printed here is valid there too.
    let secret = std::env::var("ACCESS_TOKEN_SECRET")
        .unwrap_or_else(|_| "bench-secret-0123456789abcdef0123456789".to_owned());
    let mut env = vec![
        ("ACCESS_TOKEN_SECRET", secret.clone()),
        ("TEMPLATE", format!("http://127.0.0.1:{upstream_port}")),
        ("RATE_LIMIT_MAX_REQUESTS", "1000000000".to_owned()),
        ("ALLOWED_ORIGINS", "http://localhost:5173".to_owned()),
    ];
    // BENCH_REDIS=1: rate-limit counters and the session deny-list in Redis (REDIS_HOST/PORT,
    // default 127.0.0.1:6379), as every replica of a deployed gateway has them.
    if std::env::var("BENCH_REDIS").is_ok_and(|v| v == "1") {
        for var in ["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"] {
            if let Ok(value) = std::env::var(var) {
                env.push((var, value));
            }
        }
        if !env.iter().any(|(var, _)| *var == "REDIS_HOST") {
            env.push(("REDIS_HOST", "127.0.0.1".to_owned()));
        }
    }
    let config = GatewayConfig::from_env(Env::from_map(env))?;
    let keys = TokenKeys::new(
        &Secret::new(&secret),
        std::time::Duration::from_secs(86_400),
    );
    let token = keys.sign(&keys.claims_for("bench-user", "bench-session", "b@example.org", "user"));

    let gw_listener = bind("127.0.0.1", gateway_port).await?;
    if let Ok(bare_port) = std::env::var("BENCH_BARE_PORT") {
        // The proxy alone on the same worker threads: `proxy::forward` without any edge layer.
        let upstream = std::sync::Arc::new(plangen_gateway::proxy::Upstream::new(
            config.template.clone(),
            &config.breaker,
            config.workers,
        ));
        let budget = std::sync::Arc::new(plangen_gateway::breaker::RetryBudget::default());
        let listener = bind("127.0.0.1", bare_port.parse()?).await?;
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
                        Err(e) => {
                            axum::response::IntoResponse::into_response(e.problem("template", 0))
                        }
                    }
                }
            }
        };
        tokio::spawn(serve_with(
            listener,
            plangen_gateway::server::ServerOptions::from(&config),
            shutdown.clone(),
            make_handler,
        ));
    }
    // Printed on stderr: with the access log on, stdout is the log.
    eprintln!("TOKEN={token}");
    eprintln!("ready: gateway http://127.0.0.1:{gateway_port}");
    plangen_gateway::server::serve(gw_listener, GatewayState::new(config), shutdown).await?;
    Ok(())
}
