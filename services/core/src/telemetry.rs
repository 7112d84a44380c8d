//! JSON logs through `tracing`, request ids, and the per-request access log.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served by this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The request id as a request extension, for handlers and proxies.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Keeps the log writer thread alive; dropping it (at the end of `main`) writes out what is
/// still queued.
#[must_use = "logs queued when this is dropped are written out; hold it until exit"]
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// Installs the global JSON subscriber (level from `RUST_LOG`, default `info`). `None` when a
/// subscriber was already installed.
///
/// Lines are formatted on the request's thread and written by a dedicated thread through a
/// 64 KiB buffer, flushed whenever the queue runs empty: under load many lines share one
/// `write` instead of one system call each (docs/GATEWAY.md, "Benchmark"), and a slow stdout
/// does not stall request threads until the queue is full. Not lossy: a full queue waits
/// rather than dropping lines.
pub fn init_tracing() -> Option<LogGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("plangen-log-writer")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init()
        .ok()
        .map(|()| LogGuard(guard))
}

/// A client-supplied id is kept only when it is short and plain, so it cannot forge log lines.
pub fn is_well_formed_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

thread_local! {
    /// Each thread's own UUIDv7 counter: ids stay ordered within a thread, without the
    /// process-wide lock `Uuid::now_v7` takes (one per request, from every worker thread).
    static V7_CONTEXT: uuid::ContextV7 = const { uuid::ContextV7::new() };
}

pub fn new_request_id() -> String {
    let context = uuid::timestamp::context::ThreadLocalContext::new(&V7_CONTEXT);
    let id = uuid::Uuid::new_v7(uuid::Timestamp::now(context));
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text).to_owned()
}

/// Gives the request its id — the client's `X-Request-Id` when well formed, else a new UUIDv7 —
/// as a header (for upstreams) and an extension (for handlers). Returns the id and the header
/// value to echo on the response.
pub fn assign_request_id(req: &mut Request) -> (String, HeaderValue) {
    let (id, header_value) = request_id_for(req.headers());
    req.headers_mut()
        .insert(REQUEST_ID_HEADER, header_value.clone());
    req.extensions_mut().insert(RequestId(id.clone()));
    (id, header_value)
}

/// The id a request with these headers gets (the client's when well formed, else a new
/// UUIDv7), and as a header value.
pub fn request_id_for(headers: &axum::http::HeaderMap) -> (String, HeaderValue) {
    if let Some(client) = headers.get(&REQUEST_ID_HEADER)
        && let Ok(id) = client.to_str()
        && is_well_formed_request_id(id)
    {
        return (id.to_owned(), client.clone());
    }
    let id = new_request_id();
    let header_value = HeaderValue::from_str(&id).expect("request ids are plain ascii");
    (id, header_value)
}

/// The route template the request matched (`/api/plans/{id}`), or `unmatched`: a bounded label
/// for logs and metrics, interned (route templates are a fixed set).
pub fn matched_route(req: &Request) -> &'static str {
    req.extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| crate::metrics::label(p.as_str()))
}

/// Runs `fut` with `id` as the current request id (what problem+json bodies quote).
pub async fn scope_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// Makes the one access-log line of a request be written when its response body is done:
/// `bytes` counts what was actually sent (streamed bodies included), `latency_ms` runs to the
/// last byte (like nginx's `$request_time`), and `aborted` tells a body cut off (an upstream
/// stalled, the client went away) from one sent in full.
pub fn log_access(
    span: tracing::Span,
    method: Method,
    route: &'static str,
    response: Response,
    started: Instant,
) -> Response {
    // Logging off (`RUST_LOG=off`, or no subscriber): nothing to count or write.
    if !tracing::enabled!(target: "access", tracing::Level::INFO) {
        return response;
    }
    let status = response.status().as_u16();
    response.map(|inner| {
        axum::body::Body::new(AccessLogBody {
            inner,
            bytes: 0,
            ended: false,
            line: Some(AccessLine {
                span,
                method,
                route,
                status,
                started,
            }),
        })
    })
}

struct AccessLine {
    span: tracing::Span,
    method: Method,
    route: &'static str,
    status: u16,
    started: Instant,
}

/// A response body that counts what passes through it and writes the access line when it is
/// dropped (hyper drops it after the last frame, or when the exchange is abandoned).
struct AccessLogBody {
    inner: axum::body::Body,
    bytes: u64,
    ended: bool,
    line: Option<AccessLine>,
}

impl http_body::Body for AccessLogBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
            }
            std::task::Poll::Ready(None) => self.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AccessLogBody {
    fn drop(&mut self) {
        let Some(AccessLine {
            span,
            method,
            route,
            status,
            started,
        }) = self.line.take()
        else {
            return;
        };
        // An empty body (and any body of a HEAD answer) may be dropped unpolled; it was sent
        // in full all the same.
        let aborted =
            !(self.ended || http_body::Body::is_end_stream(&self.inner) || method == Method::HEAD);
        let bytes = self.bytes;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        span.in_scope(|| {
            tracing::info!(target: "access", status, latency_ms, bytes, aborted, "{method} {route} {status}");
        });
    }
}

/// Outermost middleware: gives the request an id, runs the rest inside a span carrying it,
/// echoes it on the response and writes the access log.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let (id, header_value) = assign_request_id(&mut req);
    let method = req.method().clone();
    let route = matched_route(&req);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route,
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = scope_request_id(id, next.run(req).instrument(span.clone())).await;
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, header_value);
    log_access(span, method, route, response, started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_with_control_characters_or_excess_length_are_refused() {
        assert!(is_well_formed_request_id("abc-123_x.y:z"));
        assert!(!is_well_formed_request_id(""));
        assert!(!is_well_formed_request_id("a b"));
        assert!(!is_well_formed_request_id("line\nbreak"));
        assert!(!is_well_formed_request_id(&"x".repeat(129)));
    }
}
