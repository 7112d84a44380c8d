//! `plangen`: every Plangen service as a subcommand, and `all` for the whole platform in one
//! process on the embedded default. Only wiring lives here.

mod embedded;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use plangen_auth::config::SecretDefaults;
use plangen_core::Env;
use plangen_core::server::{Shutdown, bind, serve};

#[derive(Debug, Parser)]
#[command(name = "plangen", version, about = "The Plangen planning platform")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every service in one process on the embedded default (SQLite file, in-process cache).
    All(embedded::AllArgs),
    /// The API gateway (PORT, default 3000).
    Gateway(ServeArgs),
    /// The auth service (PORT, default 3001).
    Auth(ServeArgs),
    /// The template service (PORT, default 3002).
    Template(ServeArgs),
    /// The plan service (PORT, default 3003).
    Plan(ServeArgs),
    /// The web app's built files alone (PORT, default 5173; PLANGEN_SPA_DIR), for an ingress
    /// that sends `/api` to the gateway and everything else here.
    Frontend(ServeArgs),
    /// Run database migrations for DATABASE_URL and exit.
    Migrate,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    host: String,
}

// mimalloc rather than glibc's malloc: per-request allocations dominated the gateway's CPU
// profile under load (docs/GATEWAY.md, "Benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let _log_guard = plangen_core::telemetry::init_tracing();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("start the tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            None => embedded::run(embedded::AllArgs::default()).await,
            Some(Command::All(args)) => embedded::run(args).await,
            Some(Command::Gateway(args)) => run_gateway(args).await,
            Some(Command::Auth(args)) => run_auth(args).await,
            Some(Command::Template(args)) => run_template(args).await,
            Some(Command::Plan(args)) => run_plan(args).await,
            Some(Command::Frontend(args)) => run_frontend(args).await,
            Some(Command::Migrate) => migrate().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Config errors list every problem; print them plainly for the operator.
            eprintln!("plangen: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Serves one service until SIGTERM/SIGINT.
async fn serve_one(
    name: &'static str,
    host: &str,
    port: u16,
    app: axum::Router,
) -> anyhow::Result<()> {
    let listener = bind(host, port).await?;
    tracing::info!(service = name, addr = %listener.local_addr()?, "listening");
    let (_trigger, shutdown) = Shutdown::on_signals();
    serve(listener, app, shutdown).await?;
    Ok(())
}

async fn run_auth(args: ServeArgs) -> anyhow::Result<()> {
    let config =
        plangen_auth::AuthConfig::from_env(Env::from_process(), &SecretDefaults::default())?;
    let port = config.port;
    let state = plangen_auth::AuthState::new(config)
        .await
        .context("starting the auth service")?;
    serve_one("auth", &args.host, port, plangen_auth::app(state)).await
}

async fn run_template(args: ServeArgs) -> anyhow::Result<()> {
    let config = plangen_template::TemplateConfig::from_env(Env::from_process())?;
    let port = config.port;
    let state = plangen_template::TemplateState::new(config)
        .await
        .context("starting the template service")?;
    serve_one("template", &args.host, port, plangen_template::app(state)).await
}

async fn run_plan(args: ServeArgs) -> anyhow::Result<()> {
    let config = plangen_plan::PlanConfig::from_env(Env::from_process())?;
    let port = config.port;
    let state = plangen_plan::PlanState::new(config)
        .await
        .context("starting the plan service")?;
    serve_one("plan", &args.host, port, plangen_plan::app(state)).await
}

async fn run_gateway(args: ServeArgs) -> anyhow::Result<()> {
    let config = plangen_gateway::GatewayConfig::from_env(Env::from_process())?;
    let port = config.port;
    let state = plangen_gateway::GatewayState::new(config);
    let listener = bind(&args.host, port).await?;
    tracing::info!(service = "gateway", addr = %listener.local_addr()?, workers = state.config.workers, "listening");
    let (_trigger, shutdown) = Shutdown::on_signals();
    plangen_gateway::server::serve(listener, state, shutdown).await?;
    Ok(())
}

/// The port of `plangen frontend` (the seed's frontend port).
const FRONTEND_PORT: u16 = 5173;

async fn run_frontend(args: ServeArgs) -> anyhow::Result<()> {
    let mut env = Env::from_process();
    let port = env.port("PORT", FRONTEND_PORT);
    let dir = env
        .get("PLANGEN_SPA_DIR")
        .unwrap_or_else(|| "frontend/dist".into());
    let request_timeout = plangen_core::config::request_timeout(&mut env);
    env.finish()?;
    let ops = plangen_core::ServiceOps::new("frontend", utoipa::openapi::OpenApi::default())
        .request_timeout(request_timeout);
    let app = plangen_core::service_router(plangen_gateway::spa::router(dir.into()), ops);
    serve_one("frontend", &args.host, port, app).await
}

/// Applies what each store needs for `DATABASE_URL`: SQL migrations for auth on PostgreSQL;
/// on the shared SQLite file, every service's tables. (MongoDB indexes are created by the plan
/// and template services at start.)
async fn migrate() -> anyhow::Result<()> {
    let mut env = Env::from_process();
    let url = env
        .required("DATABASE_URL")
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL is required"))?;
    if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") {
        tracing::info!("MongoDB: the plan and template services create their indexes at start");
        return Ok(());
    }
    if url.starts_with("sqlite:") {
        let path = plangen_core::sqlite::sqlite_path(&url);
        let auth = plangen_auth::open_store(&plangen_auth::Database::Sqlite(path.clone())).await?;
        auth.migrate()
            .await
            .context("running the auth migrations")?;
        let template =
            plangen_template::open_store(&plangen_template::Database::Sqlite(path.clone())).await?;
        template
            .migrate()
            .await
            .context("running the template migrations")?;
        let plan = plangen_plan::open_store(&plangen_plan::Database::Sqlite(path)).await?;
        plan.migrate()
            .await
            .context("running the plan migrations")?;
    } else {
        let store = plangen_auth::open_store(&plangen_auth::Database::Postgres(url))
            .await
            .context("connecting to the database")?;
        store
            .migrate()
            .await
            .context("running the auth migrations")?;
    }
    tracing::info!("migrations applied");
    Ok(())
}
