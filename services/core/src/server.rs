//! Serving with graceful shutdown: on SIGTERM/SIGINT stop accepting, drain in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A shutdown signal shared by every server in the process.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// Triggers a [`Shutdown`] by hand (tests, `plangen all` when one service fails).
#[derive(Clone)]
pub struct ShutdownTrigger {
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
}

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Self) {
        let (tx, rx) = watch::channel(false);
        (
            ShutdownTrigger {
                tx: std::sync::Arc::new(tx),
            },
            Self { rx },
        )
    }

    /// A shutdown that fires on SIGTERM or SIGINT.
    pub fn on_signals() -> (ShutdownTrigger, Self) {
        let (trigger, shutdown) = Self::new();
        let t = trigger.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown signal received; draining in-flight requests");
            t.trigger();
        });
        (trigger, shutdown)
    }

    pub async fn wait(mut self) {
        let _ = self.rx.wait_for(|stop| *stop).await;
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// How long in-flight requests get to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// Serves `app` on `listener` until `shutdown` fires, then drains for at most [`DRAIN_TIMEOUT`].
pub async fn serve(listener: TcpListener, app: Router, shutdown: Shutdown) -> std::io::Result<()> {
    let drain_deadline = {
        let s = shutdown.clone();
        async move {
            s.wait().await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        }
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.wait());
    tokio::select! {
        result = server => result,
        () = drain_deadline => {
            tracing::warn!("drain timeout reached; closing remaining connections");
            Ok(())
        }
    }
}

/// Binds `host:port`, with a message that names the address on failure.
pub async fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {host}:{port}: {e}")))
}

/// Runs `fut` and logs a failure with the service name: for spawning servers side by side.
pub async fn log_failure<F: Future<Output = std::io::Result<()>>>(
    name: &str,
    fut: F,
) -> std::io::Result<()> {
    let result = fut.await;
    if let Err(e) = &result {
        tracing::error!(service = name, error = %e, "server failed");
    }
    result
}
