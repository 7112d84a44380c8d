//! The gateway's HTTP server: one thread per core, like nginx's worker processes.
//!
//! Each worker thread runs a single-threaded tokio runtime that accepts from the shared
//! listening socket, serves its connections (HTTP/1.1, keep-alive) and drives its own upstream
//! connections ([`crate::pool`]). A request is served start to finish on one thread: no task
//! hand-off between cores, no work stealing, no cross-thread wake-ups. What the workers share
//! (`GatewayState`: token memory, rate-limit counters, metrics, breakers) is behind locks and
//! atomics as before.
//!
//! Shutdown: when the [`Shutdown`] fires every worker stops accepting, lets in-flight requests
//! finish (at most [`DRAIN_TIMEOUT`]) and closes idle connections; [`serve`] returns when all
//! workers have.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use plangen_core::server::{DRAIN_TIMEOUT, Shutdown};
use tokio::net::TcpListener;

use crate::{Gateway, GatewayState};

/// How long a client may take to send a request's headers (Slowloris protection).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the gateway on `listener` with `state.config.workers` worker threads until
/// `shutdown` fires, then drains.
pub async fn serve(
    listener: TcpListener,
    state: GatewayState,
    shutdown: Shutdown,
) -> io::Result<()> {
    let workers = state.config.workers;
    serve_with(listener, workers, shutdown, move || {
        // Each worker's own handle: cloning it per request touches no cache line shared with
        // the other workers.
        let gateway = Arc::new(Gateway::new(state.clone()));
        move |peer, req| {
            let gateway = gateway.clone();
            async move { crate::edge::handle(&gateway, peer, req).await }
        }
    })
    .await
}

/// The worker threads around any request handler: `make_handler` runs once on each worker
/// thread, and the handler it returns serves that worker's requests.
pub async fn serve_with<M, H, F>(
    listener: TcpListener,
    workers: usize,
    shutdown: Shutdown,
    make_handler: M,
) -> io::Result<()>
where
    M: Fn() -> H + Send + Clone + 'static,
    H: Fn(SocketAddr, Request) -> F + Clone + Send + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let listener = listener.into_std()?;
    let workers = workers.max(1);
    let mut done = Vec::with_capacity(workers);
    for index in 0..workers {
        let listener = listener.try_clone()?;
        let (make_handler, shutdown) = (make_handler.clone(), shutdown.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("gateway-worker-{index}"))
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|runtime| {
                        crate::pool::set_worker_index(index);
                        runtime.block_on(worker(listener, make_handler(), shutdown))
                    });
                let _ = tx.send(result);
            })?;
        done.push(rx);
    }
    drop(listener);
    let mut first_error = None;
    for rx in done {
        let result = rx
            .await
            .unwrap_or_else(|_| Err(io::Error::other("a gateway worker thread panicked")));
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn worker<H, F>(
    listener: std::net::TcpListener,
    handler: H,
    shutdown: Shutdown,
) -> io::Result<()>
where
    H: Fn(SocketAddr, Request) -> F + Clone + Send + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let listener = TcpListener::from_std(listener)?;
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            // Boxed at once: hyper moves the future into its dispatcher, and an unboxed one is
            // kilobytes of state copied on every move.
            let response = Box::pin(handler(peer, req.map(Body::new)));
            async move { Ok::<_, Infallible>(response.await) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "client connection ended with an error");
            }
        });
    }
    // Other workers may still be accepting from the shared socket; this one stops here.
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("drain timeout reached; closing remaining connections");
        }
    }
    Ok(())
}

/// As axum's server: errors of one connection are skipped; others (out of file descriptors)
/// are logged and accepting pauses for a second.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
