//! `plangen all`: the whole platform in one process on the embedded default — one SQLite file,
//! shared state in process, signing secrets generated once and kept beside the data.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use plangen_auth::config::SecretDefaults;
use plangen_core::server::{Shutdown, bind, serve};
use plangen_core::{Env, Secret};
use serde_json::json;

#[derive(Debug, Clone, clap::Args)]
pub struct AllArgs {
    /// Address every service listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port of the front door (the auth service until the gateway exists); 0 picks a free one.
    #[arg(long, env = "PORT", default_value_t = plangen_auth::config::DEFAULT_PORT)]
    pub port: u16,
    /// Where the SQLite file and generated secrets are kept.
    #[arg(long, env = "PLANGEN_DATA_DIR", default_value = ".plangen")]
    pub data_dir: PathBuf,
}

impl Default for AllArgs {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: plangen_auth::config::DEFAULT_PORT,
            data_dir: PathBuf::from(".plangen"),
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
/// embedded SQLite file and Redis switched off.
fn embedded_env(sqlite: &Path) -> Env {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| !matches!(k.as_str(), "DATABASE_URL" | "REDIS_HOST" | "PORT"))
        .collect();
    vars.push((
        "DATABASE_URL".into(),
        format!("sqlite:{}", sqlite.display()),
    ));
    Env::from_map(vars)
}

pub async fn run(args: AllArgs) -> anyhow::Result<()> {
    let secrets = embedded_secrets(&args.data_dir)?;
    let sqlite = args.data_dir.join("plangen.db");
    let (_trigger, shutdown) = Shutdown::on_signals();

    let auth_config = plangen_auth::AuthConfig::from_env(embedded_env(&sqlite), &secrets)?;
    let auth_state = plangen_auth::AuthState::new(auth_config)
        .await
        .context("starting the auth service")?;
    let auth_listener = bind(&args.host, args.port).await?;
    let auth_addr = auth_listener.local_addr()?;

    tracing::info!(data = %sqlite.display(), "embedded default: SQLite file and in-process shared state");
    println!("plangen: auth service at http://{auth_addr}");
    println!("plangen: listening on http://{auth_addr}");
    serve(auth_listener, plangen_auth::app(auth_state), shutdown).await?;
    Ok(())
}
