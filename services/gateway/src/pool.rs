//! Keep-alive HTTP/1.1 connections to one upstream, kept per gateway worker thread.
//!
//! Each worker thread of the gateway's server ([`crate::server`]) runs its own single-threaded
//! runtime; a connection opened by a worker is driven by that worker's runtime and is only ever
//! handed to requests on the same worker (its own shard of the pool). A request and the
//! upstream connection it uses therefore never wake each other across threads — the hand-off
//! between a request and a connection task on another core was most of what the general
//! client pool cost per request (docs/GATEWAY.md, "Benchmark").
//!
//! A connection goes back to its shard when the response body has been read to the end
//! ([`PooledBody`]); one whose body was abandoned is closed instead, so a connection in the
//! pool is always ready for the next request. Idle connections are used newest first and
//! closed once idle for [`IDLE_TIMEOUT`] (below the services' own keep-alive, so the gateway
//! and not the upstream closes them).

use std::cell::Cell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::Request;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long a connection may sit idle before it is closed instead of reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per upstream and worker; more are closed when they come back.
pub const MAX_IDLE_PER_WORKER: usize = 256;

thread_local! {
    /// The shard of the worker thread running on this thread (`None`: not a worker thread).
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Marks the current thread as gateway worker `index` (called once by each worker thread).
pub fn set_worker_index(index: usize) {
    WORKER.with(|w| w.set(Some(index)));
}

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connection refused or unreachable: {0}")]
    Io(#[source] std::io::Error),
    #[error("connecting took longer than {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("HTTP/1.1 handshake failed: {0}")]
    Handshake(#[source] hyper::Error),
}

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

/// The pooled connections to one upstream (`host:port`).
pub struct ConnPool {
    /// `host:port` as connected to (resolved on every new connection, like any HTTP client).
    address: String,
    connect_timeout: Duration,
    /// One per worker thread, and a last one for any other thread (tests, start-up checks).
    shards: Box<[Mutex<VecDeque<Idle>>]>,
}

/// A connection checked out of the pool for one request.
pub struct Conn {
    pub sender: SendRequest<Body>,
    /// Whether it served a request before (a reused connection may have been closed by the
    /// upstream in the meantime, which a request that was never sent may be retried after).
    pub reused: bool,
    shard: usize,
}

impl ConnPool {
    pub fn new(address: String, connect_timeout: Duration, workers: usize) -> Arc<Self> {
        Arc::new(Self {
            address,
            connect_timeout,
            shards: (0..=workers).map(|_| Mutex::default()).collect(),
        })
    }

    fn shard(&self) -> usize {
        let other = self.shards.len() - 1;
        WORKER.with(Cell::get).map_or(other, |w| w.min(other))
    }

    fn idle(&self, shard: usize) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        // A panic while holding the lock cannot leave the queue inconsistent: keep using it.
        self.shards[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connections idle in the pool now, over every shard (for tests and metrics).
    pub fn idle_count(&self) -> usize {
        (0..self.shards.len()).map(|s| self.idle(s).len()).sum()
    }

    /// An idle connection of this worker when one is ready, else a new one.
    pub async fn checkout(&self) -> Result<Conn, ConnectError> {
        let shard = self.shard();
        loop {
            let Some(Idle { mut sender, since }) = self.idle(shard).pop_back() else {
                break;
            };
            if since.elapsed() >= IDLE_TIMEOUT || sender.is_closed() {
                continue; // dropped: closes the connection
            }
            // Back in the pool only after its last response ended, so this is immediate; it
            // fails when the upstream closed the connection meanwhile.
            if sender.ready().await.is_ok() {
                return Ok(Conn {
                    sender,
                    reused: true,
                    shard,
                });
            }
        }
        self.connect(shard).await
    }

    /// A new connection, always (after a reused one turned out to be closed).
    pub async fn connect_new(&self) -> Result<Conn, ConnectError> {
        self.connect(self.shard()).await
    }

    async fn connect(&self, shard: usize) -> Result<Conn, ConnectError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.address))
            .await
            .map_err(|_| ConnectError::Timeout(self.connect_timeout))?
            .map_err(ConnectError::Io)?;
        stream.set_nodelay(true).map_err(ConnectError::Io)?;
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(ConnectError::Handshake)?;
        // Driven by this worker's runtime, next to the requests that will use it.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok(Conn {
            sender,
            reused: false,
            shard,
        })
    }

    /// Puts a connection whose exchange is complete back for the next request.
    fn give_back(&self, conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle(conn.shard);
        // Oldest first: connections that went unused through a whole idle timeout are closed.
        while idle
            .front()
            .is_some_and(|i| i.since.elapsed() >= IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        if idle.len() < MAX_IDLE_PER_WORKER {
            idle.push_back(Idle {
                sender: conn.sender,
                since: Instant::now(),
            });
        }
    }
}

impl Conn {
    /// Sends `request`; `Err` gives it back when it was never sent (the connection was
    /// already closed), so it can go out on another connection whatever its method.
    pub async fn send(
        &mut self,
        request: Request<Body>,
    ) -> Result<http::Response<Incoming>, (hyper::Error, Option<Request<Body>>)> {
        self.sender
            .try_send_request(request)
            .await
            .map_err(|mut e| {
                let unsent = e.take_message();
                (e.into_error(), unsent)
            })
    }

    /// The response body, returning this connection to `pool` once the body has ended.
    pub fn body(self, pool: &Arc<ConnPool>, body: Incoming) -> PooledBody {
        let mut pooled = PooledBody {
            inner: body,
            conn: Some((self, pool.clone())),
        };
        // An empty body (204, 304, `Content-Length: 0`) is complete already.
        if pooled.inner.is_end_stream() {
            pooled.release();
        }
        pooled
    }
}

/// An upstream response body that hands its connection back to the pool when it ends.
/// Dropped before the end (the client went away, the deadline cut it off), it closes the
/// connection: the rest of the body would still be on the wire.
pub struct PooledBody {
    inner: Incoming,
    conn: Option<(Conn, Arc<ConnPool>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((conn, pool)) = self.conn.take() {
            pool.give_back(conn);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.conn = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full, StreamBody};

    use super::*;

    /// An upstream on an ephemeral port that counts the connections it accepted. `/big`
    /// answers 64 chunks of 64 KiB; `keep_alive: false` closes every connection after one
    /// answer.
    async fn upstream(keep_alive: bool) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                        let body = if req.uri().path() == "/big" {
                            let chunks = (0..64).map(|_| {
                                Ok::<_, Infallible>(Frame::data(Bytes::from(vec![7u8; 64 * 1024])))
                            });
                            Body::new(StreamBody::new(futures::stream::iter(chunks)))
                        } else {
                            Body::new(Full::new(Bytes::from_static(b"hello")))
                        };
                        Ok::<_, Infallible>(http::Response::new(body))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(keep_alive)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (address, accepted)
    }

    fn get(path: &str) -> Request<Body> {
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = path.parse().unwrap();
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("upstream"),
        );
        request
    }

    /// One request on a checked-out connection; the body read to its end.
    async fn exchange(pool: &Arc<ConnPool>, path: &str) -> (bool, Bytes) {
        let mut conn = pool.checkout().await.unwrap();
        let reused = conn.reused;
        let response = conn.send(get(path)).await.map_err(|(e, _)| e).unwrap();
        let body = conn
            .body(pool, response.into_body())
            .collect()
            .await
            .unwrap();
        (reused, body.to_bytes())
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_response_has_ended() {
        let (address, accepted) = upstream(true).await;
        let pool = ConnPool::new(address, Duration::from_secs(1), 2);
        assert_eq!(
            exchange(&pool, "/a").await,
            (false, Bytes::from_static(b"hello"))
        );
        assert_eq!(
            pool.idle_count(),
            1,
            "back in the pool after the body ended"
        );
        for _ in 0..5 {
            assert_eq!(
                exchange(&pool, "/b").await,
                (true, Bytes::from_static(b"hello"))
            );
        }
        let (_, big) = exchange(&pool, "/big").await;
        assert_eq!(big.len(), 64 * 64 * 1024);
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for every request"
        );
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        let (address, accepted) = upstream(true).await;
        let pool = ConnPool::new(address, Duration::from_secs(1), 2);
        let mut conn = pool.checkout().await.unwrap();
        let response = conn.send(get("/big")).await.map_err(|(e, _)| e).unwrap();
        let mut body = conn.body(&pool, response.into_body());
        let first = body.frame().await.unwrap().unwrap();
        assert!(first.is_data());
        drop(body); // the rest of the body is still on the wire: not reusable
        assert_eq!(pool.idle_count(), 0);
        assert_eq!(
            exchange(&pool, "/a").await,
            (false, Bytes::from_static(b"hello"))
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn connections_the_upstream_closed_are_not_handed_out() {
        let (address, accepted) = upstream(false).await;
        let pool = ConnPool::new(address, Duration::from_secs(1), 2);
        for _ in 0..3 {
            let (_, body) = exchange(&pool, "/a").await;
            assert_eq!(body, Bytes::from_static(b"hello"));
            // Let the connection task see the upstream's close.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn each_worker_thread_keeps_its_own_connections() {
        // Multi-threaded: it serves while the worker threads below block on their own runtimes.
        let upstream_runtime = tokio::runtime::Runtime::new().unwrap();
        let (address, accepted) = upstream_runtime.block_on(upstream(true));
        let pool = ConnPool::new(address, Duration::from_secs(1), 2);
        for worker in 0..2 {
            let pool = pool.clone();
            plangen_core::testing::on_own_runtime(async move {
                set_worker_index(worker);
                assert!(!exchange(&pool, "/a").await.0, "a new connection");
                assert!(exchange(&pool, "/a").await.0, "reused on the same worker");
            });
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "one connection per worker"
        );
        let idle = |shard: usize| pool.shards[shard].lock().unwrap().len();
        assert_eq!(
            (idle(0), idle(1)),
            (1, 1),
            "each kept by the worker that opened it"
        );
        assert_eq!(idle(2), 0, "nothing from other threads");
    }
}
