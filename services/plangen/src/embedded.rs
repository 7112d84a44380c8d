//! `plangen all`: the whole platform in one process on the embedded default — one SQLite file,
//! shared state in process (one deny-list for every verifier), signing secrets generated once
//! and kept beside the data. The gateway is the front door; the services listen on loopback
//! ports of their own.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::Context as _;
use plangen_auth::config::SecretDefaults;
use plangen_core::server::{Shutdown, bind, serve};
use plangen_core::shared_state::SharedState;
use plangen_core::{Env, Secret};
use serde_json::json;

#[derive(Debug, Clone, clap::Args)]
pub struct AllArgs {
    /// Address every service listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port of the gateway, the front door; 0 picks a free one.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Where the SQLite file and generated secrets are kept.
    #[arg(long, env = "PLANGEN_DATA_DIR", default_value = ".plangen")]
    pub data_dir: PathBuf,
    /// The SPA's built files, served by the gateway.
    #[arg(long, env = "PLANGEN_SPA_DIR", default_value = "frontend/dist")]
    pub spa_dir: PathBuf,
}

impl Default for AllArgs {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 3000,
            data_dir: PathBuf::from(".plangen"),
            spa_dir: PathBuf::from("frontend/dist"),
        }
    }
}

/// Secrets for the embedded default: made on first start, reused after, so tokens survive a
/// restart. Environment variables still win.
fn embedded_secrets(dir: &Path) -> anyhow::Result<SecretDefaults> {
    let path = dir.join("secrets.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let v: serde_json::Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not valid JSON; delete it to regenerate",
                path.display()
            )
        })?;
        let get = |k: &str| v.get(k).and_then(|s| s.as_str()).map(Secret::new);
        if let (Some(access), Some(refresh)) = (get("accessTokenSecret"), get("refreshTokenSecret"))
        {
            return Ok(SecretDefaults {
                access: Some(access),
                refresh: Some(refresh),
            });
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (access, refresh) = (Secret::generate(), Secret::generate());
    let body =
        json!({ "accessTokenSecret": access.expose(), "refreshTokenSecret": refresh.expose() });
    write_private(&path, &serde_json::to_vec_pretty(&body)?)?;
    Ok(SecretDefaults {
        access: Some(access),
        refresh: Some(refresh),
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// The environment each embedded service sees: the process's, with storage pointed at the
/// embedded SQLite file, Redis switched off, and `extra` on top.
fn embedded_env(sqlite: &Path, extra: &[(&str, String)]) -> Env {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "DATABASE_URL" | "DATABASE_COLLECTION" | "REDIS_HOST" | "PORT"
            )
        })
        .collect();
    vars.push((
        "DATABASE_URL".into(),
        format!("sqlite:{}", sqlite.display()),
    ));
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push(((*k).to_owned(), v.clone()));
    }
    Env::from_map(vars)
}

type ServerFuture = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

pub async fn run(args: AllArgs) -> anyhow::Result<()> {
    let secrets = embedded_secrets(&args.data_dir)?;
    let access = secrets
        .access
        .clone()
        .expect("embedded secrets are always set");
    let sqlite = args.data_dir.join("plangen.db");
    // One in-process deny-list and counter store for every service: a logout seen by auth
    // must stop the token at the gateway and in every service.
    let shared = SharedState::in_process();
    let (trigger, shutdown) = Shutdown::on_signals();

    let auth_listener = bind(&args.host, 0).await?;
    let template_listener = bind(&args.host, 0).await?;
    let plan_listener = bind(&args.host, 0).await?;
    let gateway_listener = bind(&args.host, args.port).await?;
    let url = |l: &tokio::net::TcpListener| -> anyhow::Result<String> {
        Ok(format!("http://{}", l.local_addr()?))
    };
    let (auth_url, template_url, plan_url, gateway_url) = (
        url(&auth_listener)?,
        url(&template_listener)?,
        url(&plan_listener)?,
        url(&gateway_listener)?,
    );

    // The services sit behind the gateway on loopback: the client address is the one the
    // gateway forwards.
    let auth_config = plangen_auth::AuthConfig::from_env(
        embedded_env(&sqlite, &[("TRUST_FORWARDED_FOR", "true".into())]),
        &secrets,
    )?;
    let auth_store = plangen_auth::open_store(&auth_config.database)
        .await
        .context("opening the auth store")?;
    auth_store
        .migrate()
        .await
        .context("migrating the auth store")?;
    let auth = plangen_auth::AuthState::with_parts(auth_config, auth_store, shared.clone());

    let template_config =
        plangen_template::TemplateConfig::from_env_with(embedded_env(&sqlite, &[]), Some(&access))?;
    let template_store = plangen_template::open_store(&template_config.database)
        .await
        .context("opening the template store")?;
    template_store
        .migrate()
        .await
        .context("migrating the template store")?;
    let template = plangen_template::TemplateState::with_parts(
        template_config,
        template_store,
        shared.clone(),
    );

    let plan_config = plangen_plan::PlanConfig::from_env_with(
        embedded_env(&sqlite, &[("TEMPLATE", template_url.clone())]),
        Some(&access),
    )?;
    let plan_store = plangen_plan::open_store(&plan_config.database)
        .await
        .context("opening the plan store")?;
    plan_store
        .migrate()
        .await
        .context("migrating the plan store")?;
    let plan = plangen_plan::PlanState::with_parts(plan_config, plan_store, shared.clone());

    let gateway_config = plangen_gateway::GatewayConfig::from_env_with(
        embedded_env(
            &sqlite,
            &[
                ("AUTH", auth_url.clone()),
                ("PLAN", plan_url.clone()),
                ("TEMPLATE", template_url.clone()),
                ("PLANGEN_SPA_DIR", args.spa_dir.display().to_string()),
            ],
        ),
        Some(&access),
    )?;
    let gateway = plangen_gateway::GatewayState::with_shared(gateway_config, shared.clone());

    let servers: Vec<(&str, ServerFuture)> = vec![
        (
            "auth",
            Box::pin(serve(
                auth_listener,
                plangen_auth::app(auth),
                shutdown.clone(),
            )),
        ),
        (
            "template",
            Box::pin(serve(
                template_listener,
                plangen_template::app(template),
                shutdown.clone(),
            )),
        ),
        (
            "plan",
            Box::pin(serve(
                plan_listener,
                plangen_plan::app(plan),
                shutdown.clone(),
            )),
        ),
        (
            "gateway",
            Box::pin(plangen_gateway::server::serve(
                gateway_listener,
                gateway,
                shutdown.clone(),
            )),
        ),
    ];

    tracing::info!(data = %sqlite.display(), "embedded default: SQLite file and in-process shared state");
    println!(
        "plangen: auth service at {auth_url}, template service at {template_url}, plan service at {plan_url}"
    );
    println!("plangen: listening on {gateway_url}");

    // If one server fails, stop the others rather than run half a platform.
    let mut tasks = tokio::task::JoinSet::new();
    for (name, server) in servers {
        let trigger = trigger.clone();
        tasks.spawn(async move {
            let result = server.await;
            if let Err(e) = &result {
                tracing::error!(service = name, error = %e, "server failed; stopping the platform");
                trigger.trigger();
            }
            result.with_context(|| format!("the {name} service failed"))
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined.context("a server task panicked").and_then(|r| r)
            && first_error.is_none()
        {
            first_error = Some(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
