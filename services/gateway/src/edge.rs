//! Edge policy that wraps every response: request ids and the access log, and the security
//! headers Helmet sets by default.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use plangen_core::telemetry::{
    REQUEST_ID_HEADER, assign_request_id, log_access, matched_route, scope_request_id,
};
use tracing::Instrument;

use crate::GatewayState;

/// Outermost middleware: the request id (the client's when well formed, else a UUIDv7), a span
/// carrying it (and, once known, the user and upstream), the echo, the security headers, the
/// per-route metrics and one access-log line. One layer rather than two: every layer costs a clone and a boxed future
/// per request.
///
/// The gateway's own rather than `plangen_core::telemetry::request_context` because its access
/// line also names the upstream.
pub async fn edge(State(gw): State<GatewayState>, mut req: Request, next: Next) -> Response {
    let tls = is_tls(&req, gw.config.trust_forwarded_for);
    let (id, header_value) = assign_request_id(&mut req);
    let method = req.method().clone();
    let route = matched_route(&req);
    // Known from the route, so set when the span is made: recording a field later makes the
    // JSON formatter parse and re-serialise the span's fields.
    let upstream = gw
        .upstreams
        .iter()
        .find(|u| route.starts_with(u.config.public_prefix))
        .map(|u| u.name());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route,
        user_id = tracing::field::Empty,
        upstream,
    );
    let started = Instant::now();
    let mut response = scope_request_id(id, next.run(req).instrument(span.clone())).await;
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, header_value);
    security_headers(response.headers_mut(), tls);
    let status = response.status().as_u16();
    gw.metrics
        .observe(&method, route, status, started.elapsed().as_secs_f64());
    log_access(span, method, route, response, started)
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
