//! Edge policy around every request: the request id and its span, CORS, rate limiting, the
//! token check, then the route (an upstream, or the gateway's own pages); on the way out the
//! request id echo, the security headers Helmet sets by default, the per-route metrics and
//! one access-log line.
//!
//! One function rather than a stack of middleware layers: each layer cost a service clone and
//! a boxed future per request, on the path every proxied request takes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use plangen_core::telemetry::{
    REQUEST_ID_HEADER, RequestContext, in_request, log_access, request_id_for,
};
use tower::{Layer as _, ServiceExt as _};

use crate::Gateway;
use crate::rate_limit::{
    QuotaHeaders, RATELIMIT, RATELIMIT_LIMIT, RATELIMIT_POLICY, RATELIMIT_REMAINING,
    RATELIMIT_RESET,
};

/// The `Vary` the CORS layer (tower-http) puts on every answer.
const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// Serves one request that arrived from `peer`.
pub async fn handle(gw: &Gateway, peer: SocketAddr, mut req: Request) -> Response {
    let started = Instant::now();
    let tls = is_tls(&req, gw.config.forwarded_hops > 0);
    // Room for what the proxy adds (forwarding headers, the request id, the user id) in one
    // allocation rather than a couple of doublings.
    req.headers_mut().reserve(8);
    // Sent upstream; problems quote it through the task-local scope below.
    let (id, header_value) = request_id_for(req.headers());
    req.headers_mut()
        .insert(REQUEST_ID_HEADER, header_value.clone());
    let peer = peer.ip();
    let method = req.method().clone();
    let route = gw.state.route(req.uri().path());
    let upstream = route.upstream.map(|i| gw.upstreams[i].name());
    let context = RequestContext::new(id, &method, route.label, upstream);
    let request_id = context.request_id.as_str();
    let served = async move {
        if req.headers().contains_key(header::ORIGIN) {
            // CORS outside rate limiting: a preflight is answered here and never counted.
            let inner = tower::service_fn(|req: Request| async move {
                // Boxed: the CORS future holds it, and moving kilobytes of future state costs
                // more than one allocation.
                let routed = Box::pin(crate::dispatch(gw, route, request_id, peer, req)).await;
                let mut response = routed.response;
                if let Some(quota) = routed.quota {
                    response.extensions_mut().insert(quota);
                }
                Ok::<_, Infallible>(response)
            });
            match gw.cors.layer(inner).oneshot(req).await {
                Ok(mut response) => {
                    let quota = response.extensions_mut().remove();
                    crate::Routed { response, quota }
                }
                Err(never) => match never {},
            }
        } else {
            // No `Origin`: not a CORS request (API clients, same-origin navigation), so
            // there is nothing for the CORS layer to decide; its `Vary` is still added (by
            // `edge_headers`), so caches keep this answer apart from the CORS answers.
            Box::pin(crate::dispatch(gw, route, request_id, peer, req)).await
        }
    };
    let crate::Routed {
        mut response,
        quota,
    } = in_request(context.clone(), served).await;
    let quota = quota.map(|q| q.header_values());
    edge_headers(response.headers_mut(), tls, header_value, quota);
    let status = response.status().as_u16();
    gw.metrics.observe(
        &method,
        route.label,
        status,
        started.elapsed().as_secs_f64(),
    );
    log_access(context, response, started)
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

/// The headers the edge sets on every answer, built once and cloned per answer: a clone of a
/// small map is far cheaper than a dozen hashed inserts.
struct Templates {
    /// Helmet's headers, by TLS mode (what the SPA served alone carries).
    security: [HeaderMap; 2],
    /// What every answer of the gateway starts from, by TLS mode and by whether it reports a
    /// rate-limit quota: slots for the per-answer values (request id, rate-limit headers)
    /// first, then Helmet's headers and the CORS `Vary`.
    edge: [[HeaderMap; 2]; 2],
}

/// The per-answer headers, in the order of their slots at the front of a template. A
/// `static`: a `const` array would be built (and dropped) at every use.
static SLOTS: [HeaderName; 6] = [
    REQUEST_ID_HEADER,
    RATELIMIT_POLICY,
    RATELIMIT,
    RATELIMIT_LIMIT,
    RATELIMIT_REMAINING,
    RATELIMIT_RESET,
];

static TEMPLATES: LazyLock<Templates> = LazyLock::new(|| {
    let security = |h: &mut HeaderMap, tls: bool| {
        if tls {
            h.insert(CONTENT_SECURITY_POLICY, CSP_TLS_VALUE);
            h.insert(HSTS.0, HSTS.1);
        } else {
            h.insert(CONTENT_SECURITY_POLICY, CSP_PLAIN_VALUE);
        }
        for (name, value) in ALWAYS {
            h.insert(name, value);
        }
    };
    let security_only = |tls: bool| {
        let mut h = HeaderMap::with_capacity(16);
        security(&mut h, tls);
        h
    };
    let edge = |tls: bool, quota: bool| {
        let mut h = HeaderMap::with_capacity(32);
        let slots = if quota { &SLOTS[..] } else { &SLOTS[..1] };
        for name in slots {
            h.insert(name, HeaderValue::from_static("-"));
        }
        security(&mut h, tls);
        h.insert(header::VARY, CORS_VARY);
        h
    };
    Templates {
        security: [security_only(false), security_only(true)],
        edge: [
            [edge(false, false), edge(false, true)],
            [edge(true, false), edge(true, true)],
        ],
    }
});

/// Headers the edge decides, whatever the route answered: Helmet's, and the two that only
/// tell attackers what runs here.
fn is_edge_owned(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-security-policy"
            | "strict-transport-security"
            | "cross-origin-opener-policy"
            | "cross-origin-resource-policy"
            | "origin-agent-cluster"
            | "referrer-policy"
            | "x-content-type-options"
            | "x-dns-prefetch-control"
            | "x-download-options"
            | "x-frame-options"
            | "x-permitted-cross-domain-policies"
            | "x-xss-protection"
            | "x-powered-by"
            | "server"
    )
}

fn is_rate_limit_header(name: &HeaderName) -> bool {
    name.as_str().starts_with("ratelimit")
}

/// `headers` appended to `merged` (a template's clone), except those `owned` says the edge
/// decides; a `Vary` the template already has is not repeated.
fn merge_onto(
    mut merged: HeaderMap,
    headers: &mut HeaderMap,
    template: &HeaderMap,
    owned: impl Fn(&HeaderName) -> bool,
) {
    let route = std::mem::take(headers);
    let mut keep = false;
    let mut current: Option<HeaderName> = None;
    for (name, value) in route {
        if let Some(name) = name {
            keep = !owned(&name);
            current = Some(name);
        }
        let Some(name) = current.as_ref() else {
            continue;
        };
        let repeated_vary = *name == header::VARY && template.get(header::VARY) == Some(&value);
        if keep && !repeated_vary {
            merged.append(name, value);
        }
    }
    *headers = merged;
}

/// Helmet's default headers (HSTS only when the client came over TLS).
pub fn security_headers(headers: &mut HeaderMap, tls: bool) {
    let template = &TEMPLATES.security[usize::from(tls)];
    merge_onto(template.clone(), headers, template, is_edge_owned);
}

/// What every answer of the gateway carries: the request id, the rate-limit headers when a
/// quota was counted, Helmet's headers and the CORS `Vary`; the route's own headers after
/// them, except those the edge decides.
fn edge_headers(
    headers: &mut HeaderMap,
    tls: bool,
    request_id: HeaderValue,
    quota: Option<QuotaHeaders>,
) {
    let reports_quota = quota.is_some();
    let template = &TEMPLATES.edge[usize::from(tls)][usize::from(reports_quota)];
    let mut merged = template.clone();
    // The per-answer values, in the order of `SLOTS`.
    let mut values = [Some(request_id), None, None, None, None, None];
    if let Some(q) = quota {
        let [_, rest @ ..] = &mut values;
        *rest = [q.policy, q.combined, q.limit, q.remaining, q.reset].map(Some);
    }
    // Each slot found by its name (no hashing), at the front where the template put it.
    let mut unfilled = values.iter().flatten().count();
    for (name, value) in merged.iter_mut() {
        if let Some(slot) = SLOTS.iter().position(|slot| slot == name)
            && let Some(filled) = values[slot].take()
        {
            *value = filled;
            unfilled -= 1;
            if unfilled == 0 {
                break;
            }
        }
    }
    merge_onto(merged, headers, template, |name| {
        is_edge_owned(name)
            || *name == REQUEST_ID_HEADER
            || (reports_quota && is_rate_limit_header(name))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_hold_only_edge_owned_headers_and_win_over_the_route() {
        let [security, security_tls] = &TEMPLATES.security;
        for template in [security, security_tls] {
            assert!(template.keys().all(is_edge_owned), "{template:?}");
        }
        assert!(security_tls.contains_key(HSTS.0));
        assert!(!security.contains_key(HSTS.0));

        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-frame-options", HeaderValue::from_static("ALLOWALL"));
        h.insert("x-powered-by", HeaderValue::from_static("Express"));
        h.insert(header::SERVER, HeaderValue::from_static("upstream/1.0"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("a=1"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("b=2"));
        h.append(header::VARY, CORS_VARY);
        h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_static("upstream-echo"));
        h.insert(RATELIMIT_REMAINING, HeaderValue::from_static("5"));
        edge_headers(&mut h, false, HeaderValue::from_static("rid-1"), None);
        assert_eq!(h[REQUEST_ID_HEADER], "rid-1", "the edge's request id, once");
        assert_eq!(h.get_all(REQUEST_ID_HEADER).iter().count(), 1);
        assert_eq!(
            h[RATELIMIT_REMAINING], "5",
            "no quota counted here: the route's own rate-limit headers stay"
        );
        assert_eq!(h["x-frame-options"], "SAMEORIGIN", "the edge's value wins");
        assert!(!h.contains_key("x-powered-by") && !h.contains_key(header::SERVER));
        assert_eq!(h["content-type"], "application/json");
        let cookies: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(
            cookies,
            ["a=1", "b=2"],
            "every value of a repeated header is kept"
        );
        let vary: Vec<_> = h.get_all(header::VARY).iter().collect();
        assert_eq!(
            vary,
            [CORS_VARY, HeaderValue::from_static("accept-encoding")]
        );
        assert!(!h.contains_key(HSTS.0), "no HSTS over plain HTTP");
    }

    #[test]
    fn every_slot_of_a_template_is_filled_and_the_edge_quota_wins() {
        use crate::rate_limit::{Policy, Quota};
        let quota = Quota {
            policy: Policy::new(300, std::time::Duration::from_secs(60)),
            count: 4,
            resets_in: std::time::Duration::from_millis(59_500),
        };
        for tls in [false, true] {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            h.insert(RATELIMIT_REMAINING, HeaderValue::from_static("5"));
            h.insert(REQUEST_ID_HEADER, HeaderValue::from_static("upstream-echo"));
            edge_headers(
                &mut h,
                tls,
                HeaderValue::from_static("rid-2"),
                Some(quota.header_values()),
            );
            assert_eq!(h[REQUEST_ID_HEADER], "rid-2");
            assert_eq!(h["ratelimit-policy"], "300;w=60");
            assert_eq!(h["ratelimit"], "limit=300, remaining=296, reset=60");
            assert_eq!(h["ratelimit-limit"], "300");
            assert_eq!(
                h.get_all(RATELIMIT_REMAINING).iter().collect::<Vec<_>>(),
                ["296"]
            );
            assert_eq!(h["ratelimit-reset"], "60");
            assert_eq!(h["content-type"], "text/plain");
            assert_eq!(h.contains_key(HSTS.0), tls);
            assert!(h.values().all(|v| v != "-"), "no placeholder left: {h:?}");
            assert_eq!(h.len(), 6 + 11 + usize::from(tls) + 1 + 1, "{h:?}");
        }
    }
}
