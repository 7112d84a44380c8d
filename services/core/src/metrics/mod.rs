//! Prometheus metrics: requests by route and status, and a latency histogram.
//!
//! The per-request series are [`PerThreadFamily`]s: each thread counts into its own cells and
//! a scrape sums them, so counting a request takes no lock and writes no memory another core
//! writes too.

mod per_thread;

use std::sync::{Arc, LazyLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::registry::{Metric, Registry};

pub use per_thread::{PerThreadFamily, SeriesKey, SeriesLabels, series_key};

// Labels borrow interned strings: finding a series allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: &'static str,
    pub status: u16,
}

impl SeriesLabels for RequestLabels {
    fn key(&self) -> SeriesKey {
        series_key([self.method, self.route], usize::from(self.status))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: &'static str,
}

impl SeriesLabels for RouteLabels {
    fn key(&self) -> SeriesKey {
        series_key([self.method, self.route], 0)
    }
}

static LABELS: LazyLock<RwLock<foldhash::HashSet<&'static str>>> = LazyLock::new(Default::default);

/// `value` as a `&'static str`, stored once for the life of the process. Only for values from a
/// small fixed set (route templates, status codes, outcome names, upstream hosts, the
/// gateway's rate-limit policy values): each distinct value is kept forever.
pub fn label(value: &str) -> &'static str {
    if let Some(found) = LABELS.read().expect("label lock").get(value) {
        return found;
    }
    let mut labels = LABELS.write().expect("label lock");
    if let Some(found) = labels.get(value) {
        return found;
    }
    let leaked: &'static str = Box::leak(value.to_owned().into_boxed_str());
    labels.insert(leaked);
    leaked
}

/// A status code as an interned label, without the label set's lock for the usual ones.
pub fn status_label(status: u16) -> &'static str {
    const USUAL: [(u16, &str); 16] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (409, "409"),
        (412, "412"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    match USUAL.iter().find(|(code, _)| *code == status) {
        Some((_, text)) => text,
        None => label(itoa::Buffer::new().format(status)),
    }
}

/// The method as a label: the standard ones by name, any other as `other`, so a client cannot
/// create series (and memory) at will with made-up methods.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// 0.5 ms .. ~16 s
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 16)
}

/// A service's metrics registry with the HTTP metrics every service has.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<RwLock<Registry>>,
    requests: PerThreadFamily<RequestLabels>,
    latency: PerThreadFamily<RouteLabels>,
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_prefix("plangen");
        let requests = PerThreadFamily::counter("http_requests", "HTTP requests served");
        let latency = PerThreadFamily::histogram(
            "http_request_duration_seconds",
            "Time to serve an HTTP request",
            latency_buckets(),
        );
        let sub = registry.sub_registry_with_label(("service".into(), service.to_owned().into()));
        sub.register_collector(Box::new(requests.clone()));
        sub.register_collector(Box::new(latency.clone()));
        Self {
            registry: Arc::new(RwLock::new(registry)),
            requests,
            latency,
        }
    }

    /// Registers a service-specific metric next to the HTTP ones.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry
            .write()
            .expect("metrics registry lock")
            .register(name, help, metric);
    }

    /// Registers a service-specific collector (a [`PerThreadFamily`]) next to the HTTP ones.
    pub fn register_collector(&self, collector: impl Collector) {
        self.registry
            .write()
            .expect("metrics registry lock")
            .register_collector(Box::new(collector));
    }

    /// Counts one request. `route` is a route template (or `unmatched`), never a raw path:
    /// see [`label`].
    pub fn observe(&self, method: &Method, route: &'static str, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests.inc(&RequestLabels {
            method,
            route,
            status,
        });
        self.latency
            .observe(&RouteLabels { method, route }, seconds);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.read().expect("metrics registry lock");
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Middleware recording every request in the service's metrics.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| label(p.as_str()));
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.observe(
        &method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

pub async fn metrics_handler(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_on_one_thread_count_apart() {
        // Each thread remembers its series: a second registry must not count into the first.
        let (a, b) = (Metrics::new("a"), Metrics::new("b"));
        for _ in 0..3 {
            a.observe(&Method::GET, "/x", 200, 0.001);
        }
        b.observe(&Method::GET, "/x", 200, 0.001);
        let count = |m: &Metrics, service: &str| {
            let prefix = format!(
                r#"plangen_http_requests_total{{service="{service}",method="GET",route="/x",status="200"}} "#
            );
            m.encode()
                .lines()
                .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        };
        assert_eq!(count(&a, "a").as_deref(), Some("3"));
        assert_eq!(count(&b, "b").as_deref(), Some("1"));
    }

    #[test]
    fn observed_requests_appear_in_the_exposition() {
        let metrics = Metrics::new("test");
        metrics.observe(&Method::GET, "/api/things/{id}", 200, 0.003);
        metrics.observe(&Method::GET, "/api/things/{id}", 200, 0.004);
        let made_up = Method::from_bytes(b"BREW").unwrap();
        metrics.observe(&made_up, "/api/things/{id}", 405, 0.001);
        let text = metrics.encode();
        assert!(
            text.contains(r#"method="other",route="/api/things/{id}",status="405"} 1"#),
            "{text}"
        );
        assert!(!text.contains("BREW"), "{text}");
        assert!(text.contains(
            r#"plangen_http_requests_total{service="test",method="GET",route="/api/things/{id}",status="200"} 2"#
        ), "{text}");
        assert!(
            text.contains("plangen_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
