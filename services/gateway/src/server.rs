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
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use plangen_core::server::{DRAIN_TIMEOUT, Shutdown};
use tokio::net::TcpListener;

use crate::{Gateway, GatewayConfig, GatewayState};

/// How a worker serves its connections.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// Worker threads (at least one is started).
    pub workers: usize,
    /// How long a connection may go without a new request head while nothing is being served:
    /// a client that trickles its headers (Slowloris) or keeps an idle keep-alive connection
    /// is closed after this, at most a third more.
    pub client_header_timeout: Duration,
}

impl From<&GatewayConfig> for ServerOptions {
    fn from(config: &GatewayConfig) -> Self {
        Self {
            workers: config.workers,
            client_header_timeout: config.client_header_timeout,
        }
    }
}

/// Serves the gateway on `listener` with `state.config.workers` worker threads until
/// `shutdown` fires, then drains.
pub async fn serve(
    listener: TcpListener,
    state: GatewayState,
    shutdown: Shutdown,
) -> io::Result<()> {
    let options = ServerOptions {
        workers: state.config.workers,
        client_header_timeout: state.config.client_header_timeout,
    };
    serve_with(listener, options, shutdown, move || {
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
    options: ServerOptions,
    shutdown: Shutdown,
    make_handler: M,
) -> io::Result<()>
where
    M: Fn() -> H + Send + Clone + 'static,
    H: Fn(SocketAddr, Request) -> F + Clone + Send + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let listener = listener.into_std()?;
    let workers = options.workers.max(1);
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
                        runtime.block_on(worker(listener, options, make_handler(), shutdown))
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
    options: ServerOptions,
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
    // hyper's own header-read timeout arms and drops a timer for every request (~1 400
    // instructions, 3% of a proxied request); `watch_idle` checks the connection every few
    // seconds instead.
    http.timer(TokioTimer::new())
        .header_read_timeout(None)
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
        let activity = Arc::new(Activity::default());
        let counted = activity.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let serving = counted.request_started();
            // Boxed at once: hyper moves the future into its dispatcher, and an unboxed one is
            // kilobytes of state copied on every move.
            let response = Box::pin(handler(peer, req.map(Body::new)));
            async move {
                let response = response.await;
                Ok::<_, Infallible>(response.map(|body| ServingBody {
                    body,
                    _serving: serving,
                }))
            }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let timeout = options.client_header_timeout;
        tokio::spawn(async move {
            tokio::select! {
                biased;
                ended = connection => if let Err(e) = ended {
                    tracing::debug!(error = %e, "client connection ended with an error");
                },
                () = watch_idle(&activity, timeout) => {
                    tracing::debug!(%peer, "closing a client connection: no request head in time");
                }
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

/// What a client connection has been doing, for [`watch_idle`].
#[derive(Default)]
struct Activity {
    /// Request heads received and responses finished, so far.
    events: AtomicU64,
    /// Responses whose body has not ended (or been dropped) yet.
    serving: AtomicUsize,
}

impl Activity {
    fn request_started(self: &Arc<Self>) -> Serving {
        self.events.fetch_add(1, Ordering::Relaxed);
        self.serving.fetch_add(1, Ordering::Relaxed);
        Serving(self.clone())
    }
}

/// Counts a response as being served until its body is dropped.
struct Serving(Arc<Activity>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.events.fetch_add(1, Ordering::Relaxed);
        self.0.serving.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that counts as being served until hyper has dropped it.
struct ServingBody {
    body: Body,
    _serving: Serving,
}

impl http_body::Body for ServingBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Ends when the connection has gone `timeout` (to a third more) without a new request head
/// since its last response ended: a client trickling its headers (Slowloris), or an idle
/// keep-alive connection. Checked every third of `timeout`, so a request costs a few
/// uncontended atomic operations here instead of a timer.
async fn watch_idle(activity: &Activity, timeout: Duration) {
    const CHECKS: u32 = 3;
    let mut seen = activity.events.load(Ordering::Relaxed);
    let mut quiet_checks = 0;
    while quiet_checks < CHECKS {
        tokio::time::sleep(timeout / CHECKS).await;
        let events = activity.events.load(Ordering::Relaxed);
        if events != seen || activity.serving.load(Ordering::Relaxed) > 0 {
            seen = events;
            quiet_checks = 0;
        } else {
            quiet_checks += 1;
        }
    }
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
