//! Prometheus metrics of the operator: reconciles, failures and reconcile duration.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub error: String,
}

/// Metrics shared by the reconciler and the `/metrics` endpoint.
#[derive(Clone)]
pub struct Metrics {
    pub reconciles: Counter,
    pub failures: Family<ErrorLabels, Counter>,
    pub duration: Histogram,
    pub leader: Gauge,
    pub registry: Arc<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("plangen_operator");
        let reconciles = Counter::default();
        let failures = Family::<ErrorLabels, Counter>::default();
        let duration = Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]);
        let leader = Gauge::default();
        registry.register(
            "reconciliations",
            "Reconciliations started",
            reconciles.clone(),
        );
        registry.register(
            "reconciliation_errors",
            "Reconciliations that failed, by error",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconciliation",
            duration.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease",
            leader.clone(),
        );
        Self {
            reconciles,
            failures,
            duration,
            leader,
            registry: Arc::new(registry),
        }
    }
}

impl Metrics {
    /// Count a reconcile and time it until the returned guard drops.
    pub fn reconcile_started(&self) -> ReconcileTimer {
        self.reconciles.inc();
        ReconcileTimer {
            start: Instant::now(),
            histogram: self.duration.clone(),
        }
    }

    pub fn reconcile_failed(&self, error: &crate::Error) {
        self.failures
            .get_or_create(&ErrorLabels {
                error: error.metric_label().to_string(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Observes the reconcile duration on drop, so early returns are timed too.
pub struct ReconcileTimer {
    start: Instant,
    histogram: Histogram,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reconciles_errors_and_durations() {
        let m = Metrics::default();
        drop(m.reconcile_started());
        m.reconcile_failed(&crate::Error::MissingField("metadata.name"));
        let text = m.encode();
        assert!(
            text.contains("plangen_operator_reconciliations_total 1"),
            "{text}"
        );
        assert!(
            text.contains("plangen_operator_reconciliation_errors_total{error=\"invalid\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("plangen_operator_reconcile_duration_seconds_count 1"),
            "{text}"
        );
    }
}
