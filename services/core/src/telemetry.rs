//! JSON logs through `tracing`, request ids, and the per-request access log.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// What every log line written while serving a request carries (its `span` object): set once
/// when the request arrives and kept in a task-local, rather than in a `tracing` span per
/// request — creating, recording into and serialising that span was most of what a JSON
/// log line cost (docs/GATEWAY.md, "Benchmark").
#[derive(Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub method: &'static str,
    /// The route template (a metric label, never the raw path).
    pub route: &'static str,
    /// The gateway's upstream for this route, if any.
    pub upstream: Option<&'static str>,
    /// The caller, once a token has been verified (its claims, shared: no copy of the id).
    caller: std::sync::OnceLock<Arc<crate::AccessClaims>>,
}

impl RequestContext {
    pub fn new(
        request_id: String,
        method: &Method,
        route: &'static str,
        upstream: Option<&'static str>,
    ) -> Arc<Self> {
        Arc::new(Self {
            request_id,
            method: crate::metrics::method_label(method),
            route,
            upstream,
            caller: std::sync::OnceLock::new(),
        })
    }

    pub fn user_id(&self) -> Option<&str> {
        self.caller.get().map(|claims| claims.sub.as_str())
    }
}

tokio::task_local! {
    static CONTEXT: Arc<RequestContext>;
}

/// The context of the request being served by this task, if any.
pub fn current_context() -> Option<Arc<RequestContext>> {
    CONTEXT.try_with(Arc::clone).ok()
}

/// The id of the request being served by this task, if any.
pub fn current_request_id() -> Option<String> {
    CONTEXT.try_with(|c| c.request_id.clone()).ok()
}

/// Names the caller on this request's log lines from here on (the first call counts).
pub fn record_caller(claims: &Arc<crate::AccessClaims>) {
    let _ = CONTEXT.try_with(|c| c.caller.set(claims.clone()));
}

/// Runs `fut` as the serving of the request `context` describes: its log lines carry the
/// context, and problem+json bodies quote its id.
pub async fn in_request<F: std::future::Future>(context: Arc<RequestContext>, fut: F) -> F::Output {
    CONTEXT.scope(context, fut).await
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
        .event_format(JsonLines)
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

/// A new UUIDv7, as the 36 characters of its hyphenated form.
fn new_request_id() -> [u8; uuid::fmt::Hyphenated::LENGTH] {
    let context = uuid::timestamp::context::ThreadLocalContext::new(&V7_CONTEXT);
    let id = uuid::Uuid::new_v7(uuid::Timestamp::now(context));
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text);
    text
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
    // Shared from the start: the value is cloned (sent upstream and echoed), and a clone of a
    // buffer made from a `Vec` would allocate once more to become shared.
    let header_value = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(new_request_id()))
        .expect("request ids are plain ascii");
    let id = header_value
        .to_str()
        .expect("request ids are plain ascii")
        .to_owned();
    (id, header_value)
}

/// The route template the request matched (`/api/plans/{id}`), or `unmatched`: a bounded label
/// for logs and metrics, interned (route templates are a fixed set).
pub fn matched_route(req: &Request) -> &'static str {
    req.extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| crate::metrics::label(p.as_str()))
}

/// Makes the one access-log line of a request be written when its response body is done:
/// `bytes` counts what was actually sent (streamed bodies included), `latency_ms` runs to the
/// last byte (like nginx's `$request_time`), and `aborted` tells a body cut off (an upstream
/// stalled, the client went away) from one sent in full.
pub fn log_access(context: Arc<RequestContext>, response: Response, started: Instant) -> Response {
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
                context,
                status,
                started,
            }),
        })
    })
}

struct AccessLine {
    context: Arc<RequestContext>,
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
            context,
            status,
            started,
        }) = self.line.take()
        else {
            return;
        };
        // An empty body (and any body of a HEAD answer) may be dropped unpolled; it was sent
        // in full all the same.
        let aborted = !(self.ended
            || http_body::Body::is_end_stream(&self.inner)
            || context.method == "HEAD");
        let bytes = self.bytes;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (method, route) = (context.method, context.route);
        // Written where hyper drops the body, outside the request's scope: entered again.
        CONTEXT.sync_scope(context, || {
            tracing::info!(target: "access", status, latency_ms, bytes, aborted, "{method} {route} {status}");
        });
    }
}

/// Outermost middleware: gives the request an id and its log context, echoes the id on the
/// response and writes the access log.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let (id, header_value) = assign_request_id(&mut req);
    let context = RequestContext::new(id, req.method(), matched_route(&req), None);
    let started = Instant::now();
    let mut response = in_request(context.clone(), next.run(req)).await;
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, header_value);
    log_access(context, response, started)
}

/// The JSON lines every service writes, one object per event:
/// `{"timestamp", "level", "message", <the event's fields>, "target", "span"}`, where `span` is
/// the request's context (`request_id`, `method`, `route`, `upstream`, `user_id`) for lines
/// written while serving one, and absent otherwise. The shape of tracing-subscriber's JSON
/// format with flattened events and the current span, written straight into the line: no
/// span to create per request, nothing parsed back per line. The fields of `tracing` spans are
/// not written: the services open none (the operator, whose spans matter, keeps
/// tracing-subscriber's formatter).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing_log::NormalizeEvent as _;
        let mut line = String::with_capacity(256);
        // A `log` record's own level and target rather than the bridge's.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        line.push_str("{\"timestamp\":\"");
        push_timestamp(&mut line);
        line.push_str("\",\"level\":\"");
        line.push_str(meta.level().as_str());
        line.push('"');
        event.record(&mut JsonFieldsVisitor(&mut line));
        line.push_str(",\"target\":");
        push_json_str(&mut line, meta.target());
        let _ = CONTEXT.try_with(|c| push_context(&mut line, c));
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

fn push_context(line: &mut String, c: &RequestContext) {
    line.push_str(",\"span\":{\"request_id\":");
    push_json_str(line, &c.request_id);
    line.push_str(",\"method\":");
    push_json_str(line, c.method);
    line.push_str(",\"route\":");
    push_json_str(line, c.route);
    if let Some(upstream) = c.upstream {
        line.push_str(",\"upstream\":");
        push_json_str(line, upstream);
    }
    if let Some(user) = c.user_id() {
        line.push_str(",\"user_id\":");
        push_json_str(line, user);
    }
    line.push('}');
}

/// RFC 3339 in UTC with microseconds, as tracing-subscriber writes it.
fn push_timestamp(line: &mut String) {
    use std::fmt::Write as _;
    let now = chrono::Utc::now();
    let _ = write!(line, "{}", now.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
}

/// `s` as a JSON string (quoted and escaped).
fn push_json_str(line: &mut String, s: &str) {
    line.push('"');
    push_escaped(line, s);
    line.push('"');
}

fn push_escaped(line: &mut String, s: &str) {
    use std::fmt::Write as _;
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        line.push_str(&s[plain..i]);
        if escape.is_empty() {
            let _ = write!(line, "\\u{:04x}", c as u32);
        } else {
            line.push_str(escape);
        }
        plain = i + c.len_utf8();
    }
    line.push_str(&s[plain..]);
}

/// Writes what `Debug`/`Display` produce, escaped for a JSON string, without a temporary.
struct Escaping<'a>(&'a mut String);

impl std::fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        push_escaped(self.0, s);
        Ok(())
    }
}

/// An event's fields as `,"name":value` pairs.
struct JsonFieldsVisitor<'a>(&'a mut String);

impl JsonFieldsVisitor<'_> {
    fn key(&mut self, field: &tracing::field::Field) -> bool {
        // The `log` bridge's bookkeeping (`log.target`, `log.file`...): already in the line.
        if field.name().starts_with("log.") {
            return false;
        }
        self.0.push(',');
        push_json_str(self.0, field.name());
        self.0.push(':');
        true
    }
}

impl tracing::field::Visit for JsonFieldsVisitor<'_> {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if !self.key(field) {
            return;
        }
        // JSON has no NaN or infinity; serde_json writes the shortest round-trip form.
        match serde_json::Number::from_f64(value) {
            Some(n) => {
                use std::fmt::Write as _;
                let _ = write!(self.0, "{n}");
            }
            None => self.0.push_str("null"),
        }
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        if !self.key(field) {
            return;
        }
        self.0.push_str(itoa::Buffer::new().format(value));
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if !self.key(field) {
            return;
        }
        self.0.push_str(itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        if !self.key(field) {
            return;
        }
        self.0.push_str(if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if !self.key(field) {
            return;
        }
        push_json_str(self.0, value);
    }

    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        use std::fmt::Write as _;
        if !self.key(field) {
            return;
        }
        self.0.push('"');
        let _ = write!(Escaping(self.0), "{value}");
        self.0.push('"');
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if !self.key(field) {
            return;
        }
        self.0.push('"');
        let _ = write!(Escaping(self.0), "{value:?}");
        self.0.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines written while `f` runs, with `JsonLines` as this thread's subscriber.
    fn lines_of(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || BufferWriter(writer.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    struct BufferWriter(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for BufferWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_json_whatever_the_fields_hold() {
        let error = std::io::Error::other("disk \"full\"\n");
        let lines = lines_of(|| {
            tracing::warn!(
                text = "quote \" backslash \\ tab \t bell \u{7} é",
                count = 3u64,
                delta = -2i64,
                ratio = 0.25f64,
                nan = f64::NAN,
                ok = true,
                error = &error as &(dyn std::error::Error + 'static),
                debug = ?vec!["a\nb"],
                "multi\nline {}", "message"
            );
        });
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "multi\nline message");
        assert_eq!(line["text"], "quote \" backslash \\ tab \t bell \u{7} é");
        assert_eq!(
            (line["count"].clone(), line["delta"].clone()),
            (3.into(), (-2).into())
        );
        assert_eq!(line["ratio"], 0.25);
        assert!(line["nan"].is_null(), "JSON has no NaN");
        assert_eq!(line["ok"], true);
        assert_eq!(line["error"], "disk \"full\"\n");
        assert_eq!(line["debug"], "[\"a\\nb\"]");
        assert_eq!(line["target"], module_path!());
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(line.get("span").is_none(), "not in a request");
    }

    #[tokio::test]
    async fn lines_inside_a_request_carry_its_context() {
        let context = RequestContext::new(
            "rid-1".into(),
            &Method::POST,
            "/api/things/{id}",
            Some("plan"),
        );
        let lines = lines_of(|| {
            CONTEXT.sync_scope(context.clone(), || {
                tracing::info!("before the token check");
                let keys = crate::TokenKeys::new(
                    &crate::Secret::new("k".repeat(32)),
                    std::time::Duration::from_secs(60),
                );
                record_caller(&Arc::new(keys.claims_for("u-7", "s-1", "a@b.c", "user")));
                tracing::info!("after it");
            });
        });
        assert_eq!(lines[0]["span"]["request_id"], "rid-1");
        assert_eq!(lines[0]["span"]["method"], "POST");
        assert_eq!(lines[0]["span"]["route"], "/api/things/{id}");
        assert_eq!(lines[0]["span"]["upstream"], "plan");
        assert!(lines[0]["span"].get("user_id").is_none());
        assert_eq!(lines[1]["span"]["user_id"], "u-7");
        assert_eq!(
            in_request(context, async { current_request_id() })
                .await
                .as_deref(),
            Some("rid-1")
        );
    }

    #[test]
    fn request_ids_with_control_characters_or_excess_length_are_refused() {
        assert!(is_well_formed_request_id("abc-123_x.y:z"));
        assert!(!is_well_formed_request_id(""));
        assert!(!is_well_formed_request_id("a b"));
        assert!(!is_well_formed_request_id("line\nbreak"));
        assert!(!is_well_formed_request_id(&"x".repeat(129)));
    }
}
