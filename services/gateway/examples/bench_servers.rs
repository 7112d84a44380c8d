//! The servers for `bench/load.sh`: a minimal upstream and the gateway in front of it, on
//! fixed ports, until Ctrl-C. Not a test: the numbers it leads to are in docs/GATEWAY.md.
//!
//! `BENCH_UPSTREAM_PORT` (default 18081) serves `GET /api/templates/bench` (a small JSON body,
//! like a real read); `BENCH_GATEWAY_PORT` (default 18080) is the gateway with every edge layer
//! on (request ids, security headers, CORS, metrics, in-process rate limiting with a budget
//! large enough not to trigger, JWT check on the route).

use plangen_core::server::{Shutdown, bind, serve};
use plangen_core::{Env, Secret, TokenKeys};
use plangen_gateway::{GatewayConfig, GatewayState, app};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream_port: u16 = std::env::var("BENCH_UPSTREAM_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18081);
    let gateway_port: u16 = std::env::var("BENCH_GATEWAY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18080);
    let secret = "bench-secret-0123456789abcdef0123456789";

    let upstream = axum::Router::new().route(
        "/api/templates/bench",
        axum::routing::get(|| async {
            axum::Json(serde_json::json!({"id": "bench", "name": "Weekly review", "steps": 5}))
        }),
    );
    let config = GatewayConfig::from_env(Env::from_map([
        ("ACCESS_TOKEN_SECRET", secret.to_owned()),
        ("TEMPLATE", format!("http://127.0.0.1:{upstream_port}")),
        ("RATE_LIMIT_MAX_REQUESTS", "1000000000".to_owned()),
        ("ALLOWED_ORIGINS", "http://localhost:5173".to_owned()),
    ]))?;
    let keys = TokenKeys::new(&Secret::new(secret), std::time::Duration::from_secs(86_400));
    let token = keys.sign(&keys.claims_for("bench-user", "bench-session", "b@example.org", "user"));

    let (_trigger, shutdown) = Shutdown::on_signals();
    let up_listener = bind("127.0.0.1", upstream_port).await?;
    let gw_listener = bind("127.0.0.1", gateway_port).await?;
    tokio::spawn(serve(up_listener, upstream, shutdown.clone()));
    // The access log is one line per request; the bench measures the proxy, not the terminal.
    // The bare proxy (no edge layers) on BENCH_BARE_PORT, to tell proxy cost from policy cost.
    if let Some(bare_port) = std::env::var("BENCH_BARE_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        let upstream = std::sync::Arc::new(plangen_gateway::proxy::Upstream::new(
            config.template.clone(),
            &config.breaker,
        ));
        let budget = std::sync::Arc::new(plangen_gateway::breaker::RetryBudget::default());
        let bare = axum::Router::new().fallback(move |req: axum::extract::Request| {
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
        });
        let listener = bind("127.0.0.1", bare_port).await?;
        tokio::spawn(serve(listener, bare, shutdown.clone()));
    }
    println!("TOKEN={token}");
    println!(
        "ready: upstream http://127.0.0.1:{upstream_port} gateway http://127.0.0.1:{gateway_port}"
    );
    serve(gw_listener, app(GatewayState::new(config)), shutdown).await?;
    Ok(())
}
