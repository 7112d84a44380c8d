//! The streaming reverse proxy: pooled keep-alive connections per upstream ([`crate::pool`]), path
//! rewrite, hop-by-hop and identity header hygiene, forwarding headers, timeouts, retries for
//! body-less idempotent requests within a budget, and a breaker per upstream.
//!
//! Bodies are never buffered: the client's body streams to the upstream (through a length
//! limit) and the upstream's body streams back.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri, Version};
use axum::response::Response;
use http::uri::{Authority, Scheme};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use plangen_core::metrics::{PerThreadFamily, SeriesKey, SeriesLabels, series_key};
use plangen_core::{Problem, ProblemKind};
use prometheus_client::encoding::EncodeLabelSet;

use crate::breaker::{Breaker, RetryBudget};
use crate::config::{BreakerConfig, UpstreamConfig};
use crate::pool::{Conn, ConnPool, ConnectError, PooledBody};

pub const USER_ID_HEADER: HeaderName = HeaderName::from_static("x-plangen-user-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// One upstream service: where it is, its pooled connections and its breaker.
pub struct Upstream {
    pub config: UpstreamConfig,
    scheme: Scheme,
    authority: Authority,
    /// Sent as `Host`: the upstream's own name, as a client calling it directly would.
    host: HeaderValue,
    /// The URL's own path without a trailing slash (usually empty).
    base_path: String,
    pub pool: Arc<ConnPool>,
    pub breaker: Breaker,
}

impl Upstream {
    /// `workers`: the gateway's worker threads, one connection shard each.
    pub fn new(config: UpstreamConfig, breaker: &BreakerConfig, workers: usize) -> Self {
        let scheme = config.url.scheme().cloned().unwrap_or(Scheme::HTTP);
        let authority = config
            .url
            .authority()
            .cloned()
            .expect("upstream URLs are validated to have a host");
        let address = match authority.port_u16() {
            Some(_) => authority.as_str().to_owned(),
            None => format!("{}:80", authority.host()),
        };
        // Static (interned; upstreams are a small fixed set): cloning it for every request
        // then touches no reference count shared by the worker threads.
        let host = HeaderValue::from_static(plangen_core::metrics::label(authority.as_str()));
        let base_path = config.url.path().trim_end_matches('/').to_owned();
        Self {
            breaker: Breaker::new(breaker.failure_threshold, breaker.cooldown),
            pool: ConnPool::new(address, config.connect_timeout, workers),
            config,
            scheme,
            authority,
            host,
            base_path,
        }
    }

    pub fn name(&self) -> &'static str {
        self.config.name
    }

    /// The request target on the upstream, in origin form: the base path, `prefix`, `rest`
    /// and the query.
    fn target(&self, prefix: &str, rest: &str, query: Option<&str>) -> Result<Uri, http::Error> {
        let query_len = query.map_or(0, |q| q.len() + 1);
        let mut target =
            String::with_capacity(self.base_path.len() + prefix.len() + rest.len() + query_len);
        target.push_str(&self.base_path);
        target.push_str(prefix);
        target.push_str(rest);
        if let Some(q) = query {
            target.push('?');
            target.push_str(q);
        }
        Ok(Uri::try_from(target)?)
    }

    fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// One exchange on a pooled connection. A request that never went out because a reused
    /// connection had been closed by the upstream goes out once more on a new connection
    /// (whatever its method: the upstream has not seen it).
    async fn exchange(
        &self,
        request: Request,
    ) -> Result<(Conn, Response<hyper::body::Incoming>), SendError> {
        let mut conn = self.pool.checkout().await.map_err(SendError::Connect)?;
        match conn.send(request).await {
            Ok(response) => Ok((conn, response)),
            Err((_, Some(unsent))) if conn.reused => {
                let mut fresh = self.pool.connect_new().await.map_err(SendError::Connect)?;
                match fresh.send(unsent).await {
                    Ok(response) => Ok((fresh, response)),
                    Err((e, _)) => Err(SendError::Http(e)),
                }
            }
            Err((e, _)) => Err(SendError::Http(e)),
        }
    }

    /// A small GET for the gateway's own use (readiness, OpenAPI), with a timeout.
    pub async fn get_small(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<(StatusCode, bytes::Bytes), String> {
        let work = async {
            let mut request = Request::new(Body::empty());
            *request.uri_mut() = self.target(path, "", None).map_err(|e| e.to_string())?;
            request
                .headers_mut()
                .insert(header::HOST, self.host.clone());
            let (conn, response) = self.exchange(request).await.map_err(|e| e.describe())?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(conn.body(&self.pool, body), 8 << 20)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((parts.status, body))
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| "timed out".to_owned())?
    }
}

/// Why an exchange with an upstream failed.
#[derive(Debug)]
enum SendError {
    /// No connection: nothing reached the upstream.
    Connect(ConnectError),
    Http(hyper::Error),
}

impl SendError {
    /// A short, safe description (there are no credentials in upstream URLs to leak).
    fn describe(&self) -> String {
        let error: &(dyn std::error::Error + 'static) = match self {
            Self::Connect(e) => e,
            Self::Http(e) => e,
        };
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }

    /// The client's request body went over the limit while streaming out.
    fn exceeded_body_limit(&self) -> bool {
        self.caused_by::<LengthLimitError>()
    }

    /// Reading the client's request body failed while streaming out (the client closed the
    /// connection mid-body, or sent malformed chunked encoding).
    fn client_body_failed(&self) -> bool {
        self.caused_by::<ClientBodyFailed>()
    }

    fn caused_by<E: std::error::Error + 'static>(&self) -> bool {
        let Self::Http(e) = self else { return false };
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if s.is::<E>() {
                return true;
            }
            source = s.source();
        }
        false
    }
}

/// Why a request could not be proxied; each maps to one problem+json answer.
#[derive(Debug)]
pub enum ProxyError {
    PayloadTooLarge,
    /// The client's body could not be read to the end (see [`ClientBody`]).
    ClientBody(String),
    /// The route's timeout passed while the exchange was waiting for the client's body.
    ClientBodyTimeout(Duration),
    BadPath,
    BreakerOpen(Duration),
    Connect(String),
    Timeout(Duration),
    Upstream(String),
}

impl ProxyError {
    /// The metric label.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::PayloadTooLarge => "payload_too_large",
            Self::ClientBody(_) => "client_body_error",
            Self::ClientBodyTimeout(_) => "client_body_timeout",
            Self::BadPath => "bad_path",
            Self::BreakerOpen(_) => "breaker_open",
            Self::Connect(_) => "connect_error",
            Self::Timeout(_) => "timeout",
            Self::Upstream(_) => "upstream_error",
        }
    }

    /// The answer for the client; the cause is logged by the caller, not shown.
    pub fn problem(&self, upstream: &str, max_body: u64) -> Problem {
        match self {
            Self::PayloadTooLarge => Problem::new(ProblemKind::PayloadTooLarge)
                .detail(format!("Request bodies are limited to {max_body} bytes")),
            Self::ClientBody(_) => Problem::new(ProblemKind::MalformedRequest)
                .detail("The request body ended early or was malformed"),
            Self::ClientBodyTimeout(after) => {
                Problem::new(ProblemKind::RequestTimeout).detail(format!(
                    "The request body was not received within {} ms",
                    after.as_millis()
                ))
            }
            Self::BadPath => {
                Problem::new(ProblemKind::MalformedRequest).detail("The request path is not valid")
            }
            Self::BreakerOpen(wait) => Problem::new(ProblemKind::ServiceUnavailable)
                .detail(format!(
                    "The {upstream} service is failing; requests are paused briefly"
                ))
                // Rounded up: a client that waits this long finds the probe allowed.
                .retry_after(wait.as_secs_f64().ceil().max(1.0) as u64),
            Self::Connect(_) => Problem::new(ProblemKind::ServiceUnavailable)
                .detail(format!("The {upstream} service is unavailable"))
                .retry_after(1),
            Self::Timeout(after) => Problem::new(ProblemKind::GatewayTimeout).detail(format!(
                "The {upstream} service did not answer within {} ms",
                after.as_millis()
            )),
            Self::Upstream(_) => Problem::new(ProblemKind::BadGateway).detail(format!(
                "The {upstream} service closed the connection or answered malformed HTTP"
            )),
        }
    }
}

/// What the proxy needs to know about the request beyond the request itself.
pub struct ForwardContext<'a> {
    pub request_id: &'a str,
    /// Set only after the gateway verified the token.
    pub user_id: Option<&'a str>,
    pub peer_ip: Option<IpAddr>,
    pub trust_forwarded: bool,
    pub max_body: u64,
    pub retries: u32,
    pub budget: &'a RetryBudget,
    /// `(upstream prefix, public prefix)` for every upstream, to rewrite `Location` and `Link`.
    pub rewrites: &'a [(&'static str, &'static str)],
    pub upstreams: &'a [Arc<Upstream>],
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// `.` and `..` segments (also percent-encoded) are refused so a path cannot climb out of its
/// route family on an upstream that normalises paths.
fn has_dot_segment(path: &str) -> bool {
    // A segment of one or two dots, each written `.` or `%2e`/`%2E`.
    fn dots(mut seg: &[u8]) -> usize {
        let mut n = 0;
        while !seg.is_empty() {
            if seg[0] == b'.' {
                seg = &seg[1..];
            } else if seg.len() >= 3 && seg[0] == b'%' && seg[1] == b'2' && seg[2] | 0x20 == b'e' {
                seg = &seg[3..];
            } else {
                return 0;
            }
            n += 1;
        }
        n
    }
    path.split('/')
        .any(|seg| matches!(dots(seg.as_bytes()), 1 | 2))
}

/// Proxies `req` (whose path starts with the upstream's public prefix) to `up`.
pub async fn forward(
    up: &Upstream,
    req: Request,
    ctx: &ForwardContext<'_>,
) -> Result<Response, ProxyError> {
    let (mut parts, body) = req.into_parts();
    let rest = parts
        .uri
        .path()
        .strip_prefix(up.config.public_prefix)
        .unwrap_or("");
    if has_dot_segment(rest) || !(rest.is_empty() || rest.starts_with('/')) {
        return Err(ProxyError::BadPath);
    }
    let mut uri = up
        .target(up.config.upstream_prefix, rest, parts.uri.query())
        .map_err(|_| ProxyError::BadPath)?;

    let declared_len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > ctx.max_body) {
        return Err(ProxyError::PayloadTooLarge);
    }
    let has_body = match declared_len {
        Some(n) => n > 0,
        None => parts.headers.contains_key(header::TRANSFER_ENCODING),
    };

    prepare_request_headers(&mut parts.headers, &up.host, ctx);
    let idempotent = is_idempotent(&parts.method);

    up.breaker.try_acquire().map_err(ProxyError::BreakerOpen)?;
    ctx.budget.deposit();

    let deadline = tokio::time::Instant::now() + up.config.timeout;
    // One timer for the whole exchange: it bounds the attempts, then the response body.
    let mut timer = Box::pin(tokio::time::sleep_until(deadline));
    // The body goes out once; retries are only for body-less requests.
    let awaiting_client = has_body.then(|| Arc::new(AtomicBool::new(false)));
    let mut body = awaiting_client.as_ref().map(|waiting| {
        Body::new(ClientBody {
            inner: Limited::new(body, ctx.max_body as usize),
            awaiting_client: waiting.clone(),
        })
    });
    // A failure while the exchange waits for the client's body is the client's, not the
    // upstream's: a 4xx, and no breaker failure (else a few clients that stall or hang up
    // mid-upload would open the breaker for everyone). Waiting on an upstream that stopped
    // reading is not waiting on the client: that stays a 504 and a failure.
    let client_still_sending = || {
        awaiting_client
            .as_ref()
            .is_some_and(|waiting| waiting.load(Ordering::Acquire))
    };
    let mut attempt = 0;
    loop {
        let mut request = Request::new(body.take().unwrap_or_else(Body::empty));
        *request.method_mut() = parts.method.clone();
        *request.version_mut() = Version::HTTP_11;
        // Kept for another attempt only when there can be one.
        if !has_body && attempt < ctx.retries {
            *request.uri_mut() = uri.clone();
            *request.headers_mut() = parts.headers.clone();
        } else {
            *request.uri_mut() = std::mem::take(&mut uri);
            *request.headers_mut() = std::mem::take(&mut parts.headers);
        }

        let exchanged = tokio::select! {
            biased;
            exchanged = up.exchange(request) => exchanged,
            () = timer.as_mut() => {
                if client_still_sending() {
                    return Err(ProxyError::ClientBodyTimeout(up.config.timeout));
                }
                up.breaker.record_failure();
                return Err(ProxyError::Timeout(up.config.timeout));
            }
        };
        let error = match exchanged {
            Ok((conn, response)) => {
                up.breaker.record_success();
                return Ok(finish_response(response, conn, ctx, up, timer));
            }
            Err(e) => e,
        };
        if error.exceeded_body_limit() {
            // The client's fault, not the upstream's: no breaker failure.
            return Err(ProxyError::PayloadTooLarge);
        }
        if error.client_body_failed() {
            return Err(ProxyError::ClientBody(error.describe()));
        }
        let connect = matches!(error, SendError::Connect(_));
        up.breaker.record_failure();
        // A refused connection never reached the upstream, so any body-less request may be
        // retried; otherwise only idempotent ones.
        let may_retry = !has_body
            && (idempotent || connect)
            && attempt < ctx.retries
            && tokio::time::Instant::now() + Duration::from_millis(25) < deadline
            && ctx.budget.try_withdraw()
            && up.breaker.try_acquire().is_ok();
        if may_retry {
            attempt += 1;
            tracing::info!(upstream = up.name(), attempt, error = %error.describe(), "retrying upstream request");
            tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            continue;
        }
        return Err(if connect {
            ProxyError::Connect(error.describe())
        } else {
            ProxyError::Upstream(error.describe())
        });
    }
}

/// The hop-by-hop headers of RFC 9110 §7.6.1 (plus the non-standard `Proxy-Connection`).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    *name == header::CONNECTION
        || *name == header::TE
        || *name == header::TRAILER
        || *name == header::TRANSFER_ENCODING
        || *name == header::UPGRADE
        || *name == header::PROXY_AUTHENTICATE
        || *name == header::PROXY_AUTHORIZATION
        || matches!(name.as_str(), "keep-alive" | "proxy-connection")
}

/// Hop-by-hop headers and whatever `Connection` names. One pass to find out whether there
/// is anything to remove: most messages have none, and a lookup per name costs a hash each.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    let hop_by_hop: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    for name in hop_by_hop {
        headers.remove(name);
    }
}

/// `ip` in its usual text form; IPv4 (nearly every peer) without `core::fmt`.
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(digits.format(octet));
            }
        }
        IpAddr::V6(v6) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{v6}");
        }
    }
}

/// Client-supplied identity headers: only the gateway may assert who the caller is.
pub fn is_identity_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    n.starts_with("x-plangen-") || n.starts_with("x-user-") || n == "x-forwarded-user"
}

/// The request's headers as the upstream gets them; `host` is the upstream's own `Host`.
fn prepare_request_headers(headers: &mut HeaderMap, host: &HeaderValue, ctx: &ForwardContext<'_>) {
    // One pass to see what is there: most requests carry nothing to strip, and each removal
    // of an absent header would still cost a lookup.
    let (mut strip, mut has_xff) = (false, false);
    for name in headers.keys() {
        strip |= is_hop_by_hop(name) || is_identity_header(name) || *name == header::EXPECT;
        has_xff |= *name == X_FORWARDED_FOR;
    }
    if strip {
        remove_hop_by_hop(headers);
        let identity: Vec<HeaderName> = headers
            .keys()
            .filter(|n| is_identity_header(n))
            .cloned()
            .collect();
        for name in identity {
            headers.remove(name);
        }
        // The gateway's server already answered any `Expect: 100-continue`; the connection to
        // the upstream does not wait for one.
        headers.remove(header::EXPECT);
    }
    // The upstream's own name as `Host`; the client's becomes `X-Forwarded-Host`.
    let client_host = headers.insert(header::HOST, host.clone());

    // Room for an IPv4 peer without growing; an incoming chain grows it as needed.
    let mut xff = String::with_capacity(16);
    if has_xff {
        if ctx.trust_forwarded {
            for v in headers.get_all(&X_FORWARDED_FOR) {
                if let Ok(v) = v.to_str() {
                    if !xff.is_empty() {
                        xff.push_str(", ");
                    }
                    xff.push_str(v);
                }
            }
        }
        headers.remove(&X_FORWARDED_FOR);
    }
    if let Some(ip) = ctx.peer_ip {
        if !xff.is_empty() {
            xff.push_str(", ");
        }
        push_ip(&mut xff, ip);
    }
    if !xff.is_empty()
        && let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from(xff))
    {
        headers.insert(X_FORWARDED_FOR, v);
    }
    if !(ctx.trust_forwarded && headers.contains_key(&X_FORWARDED_PROTO)) {
        // The gateway itself only speaks plain HTTP; TLS ends at the ingress in front of it.
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !(ctx.trust_forwarded && headers.contains_key(&X_FORWARDED_HOST)) {
        match client_host {
            Some(h) => {
                headers.insert(X_FORWARDED_HOST, h);
            }
            None => {
                headers.remove(&X_FORWARDED_HOST);
            }
        }
    }
    // The edge has usually set it already.
    let id_header = plangen_core::telemetry::REQUEST_ID_HEADER;
    if headers.get(&id_header).map(HeaderValue::as_bytes) != Some(ctx.request_id.as_bytes())
        && let Ok(v) = HeaderValue::from_str(ctx.request_id)
    {
        headers.insert(id_header, v);
    }
    if let Some(user) = ctx.user_id
        && let Ok(v) = HeaderValue::from_str(user)
    {
        headers.insert(USER_ID_HEADER, v);
    }
}

fn finish_response(
    response: Response<hyper::body::Incoming>,
    conn: Conn,
    ctx: &ForwardContext<'_>,
    up: &Upstream,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
) -> Response {
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    // CORS is the gateway's job at the edge; an upstream's own CORS answer would conflict.
    let cors: Vec<HeaderName> = parts
        .headers
        .keys()
        .filter(|n| n.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in cors {
        parts.headers.remove(name);
    }
    if let Some(location) = parts
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        && let Some(rewritten) = rewrite_url(location, ctx)
        && let Ok(v) = HeaderValue::from_str(&rewritten)
    {
        parts.headers.insert(header::LOCATION, v);
    }
    let links: Vec<HeaderValue> = parts
        .headers
        .get_all(header::LINK)
        .iter()
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| rewrite_link(s, ctx))
                .and_then(|s| HeaderValue::from_str(&s).ok())
                .unwrap_or_else(|| v.clone())
        })
        .collect();
    if !links.is_empty() {
        parts.headers.remove(header::LINK);
        for link in links {
            parts.headers.append(header::LINK, link);
        }
    }
    Response::from_parts(
        parts,
        Body::new(DeadlineBody {
            inner: conn.body(&up.pool, body),
            deadline,
            upstream: up.name(),
            timeout: up.config.timeout,
        }),
    )
}

/// The client's request body on its way upstream. Its read errors are marked as the client's
/// ([`ClientBodyFailed`]; going over the size limit stays a [`LengthLimitError`]), and
/// `awaiting_client` says whether the last read found nothing yet from the client — so a
/// timeout then is the client's too. When hyper is not reading it (the upstream's socket is
/// full, or the body has ended, trailers included), the wait is not the client's.
struct ClientBody {
    inner: Limited<Body>,
    awaiting_client: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("reading the client's request body failed")]
pub struct ClientBodyFailed(#[source] Box<dyn std::error::Error + Send + Sync>);

impl http_body::Body for ClientBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        self.awaiting_client
            .store(polled.is_pending(), Ordering::Release);
        match std::task::ready!(polled) {
            Some(Err(e)) if !e.is::<LengthLimitError>() => {
                std::task::Poll::Ready(Some(Err(ClientBodyFailed(e).into())))
            }
            frame => std::task::Poll::Ready(frame),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The upstream's response body, cut off at the route's deadline: the timeout covers the
/// whole exchange, so an upstream that sends its headers and then stalls cannot hold a client
/// (and a pooled connection) forever. The status has been sent by then, so the cut shows as
/// an aborted response (the connection is closed mid-body), never as a complete one.
struct DeadlineBody {
    inner: PooledBody,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    upstream: &'static str,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("the {upstream} service's response did not complete within {} ms", timeout.as_millis())]
pub struct BodyDeadlineExceeded {
    upstream: &'static str,
    timeout: Duration,
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future as _;
        use std::task::Poll;
        // What has already arrived is passed on; the deadline only matters while waiting.
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let error = BodyDeadlineExceeded {
                        upstream: self.upstream,
                        timeout: self.timeout,
                    };
                    tracing::warn!(upstream = self.upstream, error = %error, "response body cut off");
                    Poll::Ready(Some(Err(error.into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// An upstream URL (relative, or absolute on an upstream's origin) as the public URL.
fn rewrite_url(url: &str, ctx: &ForwardContext<'_>) -> Option<String> {
    let mut path = url;
    for up in ctx.upstreams {
        let origin = up.origin();
        if let Some(rest) = url.strip_prefix(&origin)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            path = rest.strip_prefix(up.base_path.as_str()).unwrap_or(rest);
            break;
        }
    }
    for (upstream_prefix, public_prefix) in ctx.rewrites {
        if let Some(rest) = path.strip_prefix(upstream_prefix)
            && (rest.is_empty() || rest.starts_with(['/', '?', '#']))
        {
            return Some(format!("{public_prefix}{rest}"));
        }
    }
    (path != url).then(|| path.to_owned())
}

/// `Link: <url>; rel=next, <url>; rel=prev` with each URL rewritten.
fn rewrite_link(value: &str, ctx: &ForwardContext<'_>) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 8);
    let mut rest = value;
    let mut changed = false;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>')? + start;
        out.push_str(&rest[..=start]);
        let url = &rest[start + 1..end];
        match rewrite_url(url, ctx) {
            Some(r) => {
                changed = true;
                out.push_str(&r);
            }
            None => out.push_str(url),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamOutcome {
    pub upstream: &'static str,
    /// The upstream's status code, or why there was none (`timeout`, `connect_error`, ...).
    pub outcome: &'static str,
}

impl SeriesLabels for UpstreamOutcome {
    fn key(&self) -> SeriesKey {
        series_key([self.upstream, self.outcome], 0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabel {
    pub upstream: &'static str,
}

impl SeriesLabels for UpstreamLabel {
    fn key(&self) -> SeriesKey {
        series_key([self.upstream], 0)
    }
}

/// Per-upstream metrics, next to the per-route HTTP metrics (counted per thread, like them).
#[derive(Clone)]
pub struct ProxyMetrics {
    pub requests: PerThreadFamily<UpstreamOutcome>,
    pub latency: PerThreadFamily<UpstreamLabel>,
}

impl ProxyMetrics {
    pub fn register(metrics: &plangen_core::metrics::Metrics) -> Self {
        let this = Self {
            requests: PerThreadFamily::counter(
                "gateway_upstream_requests",
                "Requests proxied, by upstream and outcome",
            ),
            latency: PerThreadFamily::histogram(
                "gateway_upstream_duration_seconds",
                "Time until the upstream's response headers arrived",
                plangen_core::metrics::latency_buckets(),
            ),
        };
        metrics.register_collector(this.requests.clone());
        metrics.register_collector(this.latency.clone());
        this
    }

    /// `outcome`: a status code (`plangen_core::metrics::status_label`) or a [`ProxyError::outcome`].
    pub fn observe(&self, upstream: &'static str, outcome: &'static str, seconds: f64) {
        self.requests.inc(&UpstreamOutcome { upstream, outcome });
        self.latency.observe(&UpstreamLabel { upstream }, seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_refused_even_when_encoded() {
        assert!(has_dot_segment("/../auth/me"));
        assert!(has_dot_segment("/x/%2E%2e/y"));
        assert!(has_dot_segment("/./x"));
        assert!(!has_dot_segment("/a.b/..c"));
        assert!(!has_dot_segment("/.../x"));
        assert!(!has_dot_segment("/%2/x"));
        assert!(has_dot_segment("/a/.%2E"));
        assert!(!has_dot_segment(""));
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_by_connection_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key(header::ETAG));
    }

    #[test]
    fn identity_headers_are_recognised() {
        for n in [
            "x-plangen-user-id",
            "x-user-id",
            "x-user-role",
            "x-forwarded-user",
        ] {
            assert!(is_identity_header(&HeaderName::from_static(n)), "{n}");
        }
        for n in ["x-request-id", "x-forwarded-for", "authorization"] {
            assert!(!is_identity_header(&HeaderName::from_static(n)), "{n}");
        }
    }
}
