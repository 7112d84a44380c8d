//! Edge policy around every request: the request id and its span, CORS, rate limiting, the
//! token check, then the route (an upstream, or the gateway's own pages); on the way out the
//! request id echo, the security headers Helmet sets by default, the per-route metrics and
//! one access-log line.
//!
//! One function rather than a stack of middleware layers: each layer cost a service clone and
//! a boxed future per request, on the path every proxied request takes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use plangen_core::telemetry::{REQUEST_ID_HEADER, assign_request_id, log_access, scope_request_id};
use tower::{Layer as _, ServiceExt as _};
use tracing::Instrument;

use crate::Gateway;

/// The `Vary` the CORS layer (tower-http) puts on every answer.
const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// Serves one request that arrived from `peer`.
pub async fn handle(gw: &Gateway, peer: SocketAddr, mut req: Request) -> Response {
    let started = Instant::now();
    let tls = is_tls(&req, gw.config.trust_forwarded_for);
    let (id, header_value) = assign_request_id(&mut req);
    req.extensions_mut().insert(ConnectInfo(peer));
    let method = req.method().clone();
    let route = gw.state.route(req.uri().path());
    // Known from the route, so set when the span is made: recording a field later makes the
    // JSON formatter parse and re-serialise the span's fields.
    let upstream = route.upstream.map(|i| gw.upstreams[i].name());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route.label,
        user_id = tracing::field::Empty,
        upstream,
    );
    let served = async move {
        if req.headers().contains_key(header::ORIGIN) {
            // CORS outside rate limiting: a preflight is answered here and never counted.
            let inner = tower::service_fn(|req: Request| async move {
                // Boxed: the CORS future holds it, and moving kilobytes of future state costs
                // more than one allocation.
                Ok::<_, Infallible>(Box::pin(crate::dispatch(gw, route, req)).await)
            });
            match gw.cors.layer(inner).oneshot(req).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        } else {
            // No `Origin`: not a CORS request (API clients, same-origin navigation), so
            // there is nothing for the CORS layer to decide; only its `Vary` is added, so
            // caches keep this answer apart from the CORS answers to the same URL.
            let mut response = Box::pin(crate::dispatch(gw, route, req)).await;
            response.headers_mut().append(header::VARY, CORS_VARY);
            response
        }
    };
    let mut response = scope_request_id(id, served.instrument(span.clone())).await;
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, header_value);
    security_headers(response.headers_mut(), tls);
    let status = response.status().as_u16();
    gw.metrics.observe(
        &method,
        route.label,
        status,
        started.elapsed().as_secs_f64(),
    );
    log_access(span, method, route.label, response, started)
}

/// Helmet's default CSP, tightened where the SPA allows: no inline scripts, no plugins, no
/// framing by other sites. `upgrade-insecure-requests` only when served over TLS, so
/// `make run` on plain http://localhost keeps working.
const CSP: &str = "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; \
form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; \
script-src 'self'; script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'";
const CSP_TLS: &str = "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; \
form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; \
script-src 'self'; script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'; \
upgrade-insecure-requests";

/// Names and values checked at compile time: every response gets them, so nothing is parsed
/// per request.
const fn pair(name: &'static str, value: &'static str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

const CONTENT_SECURITY_POLICY: HeaderName = HeaderName::from_static("content-security-policy");
const CSP_PLAIN_VALUE: HeaderValue = HeaderValue::from_static(CSP);
const CSP_TLS_VALUE: HeaderValue = HeaderValue::from_static(CSP_TLS);
const HSTS: (HeaderName, HeaderValue) = pair(
    "strict-transport-security",
    "max-age=31536000; includeSubDomains",
);
const X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");
const ALWAYS: [(HeaderName, HeaderValue); 10] = [
    pair("cross-origin-opener-policy", "same-origin"),
    pair("cross-origin-resource-policy", "same-origin"),
    pair("origin-agent-cluster", "?1"),
    pair("referrer-policy", "no-referrer"),
    pair("x-content-type-options", "nosniff"),
    pair("x-dns-prefetch-control", "off"),
    pair("x-download-options", "noopen"),
    pair("x-frame-options", "SAMEORIGIN"),
    pair("x-permitted-cross-domain-policies", "none"),
    pair("x-xss-protection", "0"),
];

/// Whether the client reached us over TLS: only knowable from a trusted ingress's
/// `X-Forwarded-Proto`, since the gateway itself serves plain HTTP.
pub fn is_tls(req: &Request, trust_forwarded: bool) -> bool {
    trust_forwarded
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// Helmet's default headers (HSTS only when the client came over TLS).
pub fn security_headers(h: &mut HeaderMap, tls: bool) {
    if tls {
        h.insert(CONTENT_SECURITY_POLICY, CSP_TLS_VALUE);
        h.insert(HSTS.0, HSTS.1);
    } else {
        h.insert(CONTENT_SECURITY_POLICY, CSP_PLAIN_VALUE);
    }
    for (name, value) in &ALWAYS {
        h.insert(name.clone(), value.clone());
    }
    h.remove(X_POWERED_BY);
    h.remove(header::SERVER);
}
