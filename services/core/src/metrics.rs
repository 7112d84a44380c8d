//! Prometheus metrics: requests by route and status, and a latency histogram.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

// Labels borrow interned strings: building a key to look a series up allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: &'static str,
}

static LABELS: LazyLock<RwLock<foldhash::HashSet<&'static str>>> = LazyLock::new(Default::default);

/// `value` as a `&'static str`, stored once for the life of the process. Only for values from a
/// small fixed set (route templates, status codes, outcome names): each distinct value is kept
/// forever.
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

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// A series of one registry, by its labels: static strings, told apart by address and
/// length without reading them (two with the same text are at worst two handles on one series).
#[derive(PartialEq, Eq, Hash)]
struct SeriesKey {
    metrics: u64,
    method: (usize, usize),
    route: (usize, usize),
    status: u16,
}

/// Bounds each thread's memory of series (labels are bounded, registries in tests are not).
const SERIES_PER_THREAD: usize = 4096;

thread_local! {
    /// Each thread's handles on the series it counted into: a request then counts without
    /// `Family::get_or_create`, which takes a read lock every worker thread shares and hashes
    /// the label set on every call.
    static SERIES: RefCell<foldhash::HashMap<SeriesKey, (Counter, Histogram)>> =
        RefCell::default();
}

/// A service's metrics registry with the HTTP metrics every service has.
#[derive(Clone)]
pub struct Metrics {
    /// Tells apart the registries in one process (each service has one; tests make many).
    id: u64,
    registry: Arc<RwLock<Registry>>,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_prefix("plangen");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let sub = registry.sub_registry_with_label(("service".into(), service.to_owned().into()));
        sub.register("http_requests", "HTTP requests served", requests.clone());
        sub.register(
            "http_request_duration_seconds",
            "Time to serve an HTTP request",
            latency.clone(),
        );
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
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

    /// Counts one request. `route` is a route template (or `unmatched`), never a raw path:
    /// see [`label`].
    pub fn observe(&self, method: &Method, route: &'static str, status: u16, seconds: f64) {
        let method = method_label(method);
        let key = SeriesKey {
            metrics: self.id,
            method: (method.as_ptr() as usize, method.len()),
            route: (route.as_ptr() as usize, route.len()),
            status,
        };
        let (requests, latency) = SERIES.with_borrow_mut(|series| {
            if let Some(found) = series.get(&key) {
                return found.clone();
            }
            if series.len() >= SERIES_PER_THREAD {
                series.clear();
            }
            let found = (
                self.requests
                    .get_or_create(&RequestLabels {
                        method,
                        route,
                        status,
                    })
                    .clone(),
                self.latency
                    .get_or_create(&RouteLabels { method, route })
                    .clone(),
            );
            series.insert(key, found.clone());
            found
        });
        requests.inc();
        latency.observe(seconds);
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
