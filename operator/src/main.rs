//! `plangen-operator`: run the controller, print the CRD, or render a Plangen offline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use plangen_operator::{
    Plangen, controller, crd, leader, metrics::Metrics, render, secrets, server, yaml,
};

#[derive(Parser, Debug)]
#[command(
    name = "plangen-operator",
    version,
    about = "Kubernetes operator for Plangen"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the controller against the cluster of the current kubeconfig / service account.
    Run {
        /// Namespace to watch, or `all`.
        #[arg(long, env = "WATCH_NAMESPACE", default_value = "all")]
        namespace: String,
        /// Hold a Lease before reconciling, so several replicas are safe.
        #[arg(long, env = "LEADER_ELECTION")]
        leader_election: bool,
        /// Namespace of the leader Lease (defaults to the pod's namespace).
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        lease_namespace: String,
        /// Address of `/healthz` and `/metrics`.
        #[arg(long, env = "LISTEN", default_value = "0.0.0.0:8080")]
        listen: SocketAddr,
    },
    /// Print the CustomResourceDefinition as YAML.
    Crd,
    /// Print every object the operator would apply for a Plangen, without a cluster.
    /// Secret values are freshly generated on every run.
    Render {
        /// A YAML file with one or more Plangen documents.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
}

fn init_tracing() {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,kube=warn"));
    fmt()
        .json()
        .with_current_span(true)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", crd::crd_yaml()?);
            Ok(())
        }
        Command::Render { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            print!("{}", render_stream(&text)?);
            Ok(())
        }
        Command::Run {
            namespace,
            leader_election,
            lease_namespace,
            listen,
        } => {
            init_tracing();
            run(namespace, leader_election, lease_namespace, listen).await
        }
    }
}

/// Render every Plangen document of a YAML stream.
fn render_stream(text: &str) -> anyhow::Result<String> {
    let plangens: Vec<Plangen> = yaml::from_yaml_stream(text)?;
    anyhow::ensure!(!plangens.is_empty(), "no Plangen document found");
    let mut docs = Vec::new();
    for p in &plangens {
        let name = p
            .metadata
            .name
            .clone()
            .context("a Plangen has no metadata.name")?;
        let inputs = render::Inputs {
            secrets: secrets::ensure(p, &name, &Default::default()),
            // Offline there is no Secret to read: external URLs are shown as placeholders.
            external: secrets::ExternalValues {
                postgres_url: p
                    .spec
                    .postgres
                    .external
                    .as_ref()
                    .map(|e| format!("postgres://from-secret-{}", e.secret_name)),
                mongodb_url: p
                    .spec
                    .mongodb
                    .external
                    .as_ref()
                    .map(|e| format!("mongodb://from-secret-{}", e.secret_name)),
                redis_url: p
                    .spec
                    .redis
                    .external
                    .as_ref()
                    .map(|e| format!("redis://from-secret-{}", e.secret_name)),
            },
        };
        let children = render::render(p, &inputs).with_context(|| format!("rendering {name}"))?;
        docs.extend(children.into_iter().map(|c| c.object));
    }
    Ok(yaml::to_yaml_stream(&docs)?)
}

async fn run(
    namespace: String,
    leader_election: bool,
    lease_namespace: String,
    listen: SocketAddr,
) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Metrics::default();
    let instance = std::env::var("POD_NAME").ok();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let listener = server::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let http = tokio::spawn(server::serve(
        listener,
        metrics.clone(),
        stopped(stop_rx.clone()),
    ));
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });

    let ns = (namespace != "all").then_some(namespace);
    let mut lost_lease = None;
    if leader_election {
        let identity = instance
            .clone()
            .unwrap_or_else(|| format!("plangen-operator-{}", std::process::id()));
        let elector = leader::Elector::new(
            client.clone(),
            &lease_namespace,
            "plangen-operator-leader",
            &identity,
            Duration::from_secs(15),
        );
        tracing::info!(%identity, "waiting for the leader Lease");
        tokio::select! {
            _ = elector.acquire() => {}
            _ = stopped(stop_rx.clone()) => return Ok(()),
        }
        tracing::info!("acquired the leader Lease");
        metrics.leader.set(1);
        lost_lease = Some(tokio::spawn(async move { elector.hold().await }));
    }

    let controller = controller::run(
        client,
        ns,
        metrics.clone(),
        instance,
        stopped(stop_rx.clone()),
    );
    let result = match lost_lease {
        Some(lost) => tokio::select! {
            r = controller => r,
            _ = lost => {
                metrics.leader.set(0);
                // Exiting is the safe way to stop every in-flight reconcile at once.
                anyhow::bail!("lost the leader Lease")
            }
        },
        None => controller.await,
    };
    let _ = http.await;
    result
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_stream_of_plangens() {
        let out = render_stream("apiVersion: plangen.io/v1alpha1\nkind: Plangen\nmetadata: {name: a, namespace: x}\nspec: {}\n").unwrap();
        assert!(out.contains("name: a-gateway"));
        assert!(render_stream("").is_err());
        let bad = "kind: Plangen\nmetadata: {name: a}\nspec: {gateway: {replicas: lots}}\n";
        let err = render_stream(bad).unwrap_err().to_string();
        assert!(err.contains("document 1") && err.contains("lots"), "{err}");
    }
}
