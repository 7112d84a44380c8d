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
    /// The auth service (PORT, default 3001).
    Auth(ServeArgs),
    /// Run database migrations for DATABASE_URL and exit.
    Migrate,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    host: String,
}

fn main() -> ExitCode {
    plangen_core::telemetry::init_tracing();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("start the tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            None => embedded::run(embedded::AllArgs::default()).await,
            Some(Command::All(args)) => embedded::run(args).await,
            Some(Command::Auth(args)) => run_auth(args).await,
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

async fn run_auth(args: ServeArgs) -> anyhow::Result<()> {
    let config =
        plangen_auth::AuthConfig::from_env(Env::from_process(), &SecretDefaults::default())?;
    let port = config.port;
    let state = plangen_auth::AuthState::new(config)
        .await
        .context("starting the auth service")?;
    let listener = bind(&args.host, port).await?;
    tracing::info!(service = "auth", addr = %listener.local_addr()?, "listening");
    let (_trigger, shutdown) = Shutdown::on_signals();
    serve(listener, plangen_auth::app(state), shutdown).await?;
    Ok(())
}

async fn migrate() -> anyhow::Result<()> {
    let mut env = Env::from_process();
    let url = env
        .required("DATABASE_URL")
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL is required"))?;
    let database = if url.starts_with("sqlite:") {
        plangen_auth::Database::Sqlite(plangen_core::sqlite::sqlite_path(&url))
    } else {
        plangen_auth::Database::Postgres(url)
    };
    let store = plangen_auth::open_store(&database)
        .await
        .context("connecting to the database")?;
    store
        .migrate()
        .await
        .context("running the auth migrations")?;
    tracing::info!("migrations applied");
    Ok(())
}
