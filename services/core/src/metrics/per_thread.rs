//! Counters and histograms that each thread counts into on its own, summed when scraped.
//!
//! prometheus-client's `Family` takes a read lock shared by every thread to find a series, and
//! its `Histogram` a mutex on every observation; a gateway worker counts four series per
//! request, so those locks' cache lines moved between cores on every request. Here a thread
//! finds its own cell for a label set in a thread-local map and updates it with plain atomic
//! loads and stores: a cell has exactly one writer, its thread, so nothing is locked and no
//! cache line is written by two cores. A scrape sums the cells of every thread.
//!
//! A thread's cells outlive it (what it counted stays in the totals, as counters must), so
//! memory grows with the threads that ever counted times the label sets they used: both are
//! bounded in the services (fixed worker threads, route templates as labels).

use std::cell::RefCell;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// A label set whose series a thread can find without hashing its text: its labels are
/// interned `&'static str`s (told apart by address and length) and small numbers.
pub trait SeriesLabels:
    EncodeLabelSet + Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static
{
    fn key(&self) -> SeriesKey;
}

/// The words that identify a label set within one family: at most two interned labels
/// (address and length each) and a number.
pub type SeriesKey = [usize; 5];

/// The key of a label set made of `labels` (interned `&'static str`s, at most two: equal
/// addresses and lengths are the same text) and `number` (a status code, or 0).
pub fn series_key<const N: usize>(labels: [&'static str; N], number: usize) -> SeriesKey {
    const { assert!(N <= 2, "a series key holds at most two labels") };
    let mut key = [0; 5];
    for (i, label) in labels.iter().enumerate() {
        key[2 * i] = label.as_ptr() as usize;
        key[2 * i + 1] = label.len();
    }
    key[4] = number;
    key
}

/// What one series counts: hits per bucket (a counter has one bucket) and, for a histogram,
/// the sum of the observed values.
#[derive(Debug)]
struct Cell {
    buckets: Box<[AtomicU64]>,
    sum_bits: AtomicU64,
}

impl Cell {
    fn new(buckets: usize) -> Self {
        Self {
            buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Only the cell's own thread writes it, so a load and a store are an increment (no
    /// locked read-modify-write); a scrape on another thread reads whole values.
    fn add(&self, bucket: usize, value: f64) {
        let count = &self.buckets[bucket];
        count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if value != 0.0 {
            let sum = f64::from_bits(self.sum_bits.load(Ordering::Relaxed)) + value;
            self.sum_bits.store(sum.to_bits(), Ordering::Relaxed);
        }
    }
}

#[derive(Debug)]
enum Kind {
    Counter,
    /// Upper bounds, the last one `+Inf`.
    Histogram(Box<[f64]>),
}

#[derive(Debug)]
struct Family<L> {
    id: u64,
    name: String,
    help: String,
    kind: Kind,
    /// Every cell of every thread, for scrapes and for a thread that lost its handle.
    cells: Mutex<foldhash::HashMap<(L, ThreadId), Arc<Cell>>>,
}

/// A counter or histogram family whose threads each count on their own. Cheap to clone.
#[derive(Debug)]
pub struct PerThreadFamily<L> {
    family: Arc<Family<L>>,
}

impl<L> Clone for PerThreadFamily<L> {
    fn clone(&self) -> Self {
        Self {
            family: self.family.clone(),
        }
    }
}

/// Bounds each thread's memory of cells (labels are bounded; families in tests are not).
const CELLS_PER_THREAD: usize = 4096;

thread_local! {
    /// This thread's handles on its cells, by family and label key.
    static CELLS: RefCell<foldhash::HashMap<(u64, SeriesKey), Arc<Cell>>> = RefCell::default();
}

fn next_family_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl<L: SeriesLabels> PerThreadFamily<L> {
    /// A counter family (`<name>_total` in the exposition).
    pub fn counter(name: &str, help: &str) -> Self {
        Self::new(name, help, Kind::Counter)
    }

    /// A histogram family with these upper bounds (`+Inf` is added).
    pub fn histogram(name: &str, help: &str, bounds: impl IntoIterator<Item = f64>) -> Self {
        let mut bounds: Vec<f64> = bounds.into_iter().collect();
        bounds.push(f64::INFINITY);
        Self::new(name, help, Kind::Histogram(bounds.into()))
    }

    fn new(name: &str, help: &str, kind: Kind) -> Self {
        Self {
            family: Arc::new(Family {
                id: next_family_id(),
                name: name.to_owned(),
                help: help.to_owned(),
                kind,
                cells: Mutex::default(),
            }),
        }
    }

    /// Counts one for `labels` (a counter family).
    pub fn inc(&self, labels: &L) {
        self.with_cell(labels, |cell| cell.add(0, 0.0));
    }

    /// Records `value` for `labels` (a histogram family).
    pub fn observe(&self, labels: &L, value: f64) {
        let Kind::Histogram(bounds) = &self.family.kind else {
            return self.inc(labels);
        };
        // The last bound is `+Inf`: every value finds a bucket (NaN goes there too).
        let bucket = bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(bounds.len() - 1);
        self.with_cell(labels, |cell| cell.add(bucket, value));
    }

    fn with_cell(&self, labels: &L, update: impl FnOnce(&Cell)) {
        let key = (self.family.id, labels.key());
        CELLS.with_borrow_mut(|cells| {
            if let Some(cell) = cells.get(&key) {
                return update(cell);
            }
            if cells.len() >= CELLS_PER_THREAD {
                cells.clear();
            }
            let cell = self.cell_of_this_thread(labels);
            update(&cell);
            cells.insert(key, cell);
        });
    }

    /// The cell of this thread for `labels`, made on first use. Found again (rather than
    /// made twice) after the thread's handles were cleared, so a cell keeps a single writer.
    fn cell_of_this_thread(&self, labels: &L) -> Arc<Cell> {
        let buckets = match &self.family.kind {
            Kind::Counter => 1,
            Kind::Histogram(bounds) => bounds.len(),
        };
        let mut cells = self.family.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells
            .entry((labels.clone(), std::thread::current().id()))
            .or_insert_with(|| Arc::new(Cell::new(buckets)))
            .clone()
    }

    /// Every label set with its totals over all threads: the bucket counts and the sum.
    fn totals(&self) -> Vec<(L, Vec<u64>, f64)> {
        let cells = self.family.cells.lock().unwrap_or_else(|p| p.into_inner());
        let mut totals: foldhash::HashMap<L, (Vec<u64>, f64)> = foldhash::HashMap::default();
        for ((labels, _thread), cell) in cells.iter() {
            let (buckets, sum) = totals
                .entry(labels.clone())
                .or_insert_with(|| (vec![0; cell.buckets.len()], 0.0));
            for (total, count) in buckets.iter_mut().zip(cell.buckets.iter()) {
                *total += count.load(Ordering::Relaxed);
            }
            *sum += f64::from_bits(cell.sum_bits.load(Ordering::Relaxed));
        }
        let mut totals: Vec<_> = totals
            .into_iter()
            .map(|(labels, (buckets, sum))| (labels, buckets, sum))
            .collect();
        // A stable order for readers of the exposition (and its tests).
        totals.sort_by_cached_key(|(labels, _, _)| format!("{labels:?}"));
        totals
    }
}

impl<L: SeriesLabels> Collector for PerThreadFamily<L> {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let family = &self.family;
        let totals = self.totals();
        match &family.kind {
            Kind::Counter => {
                let mut metric = encoder.encode_descriptor(
                    &family.name,
                    &family.help,
                    None,
                    MetricType::Counter,
                )?;
                for (labels, buckets, _) in &totals {
                    metric
                        .encode_family(labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&buckets[0], None)?;
                }
            }
            Kind::Histogram(bounds) => {
                let mut metric = encoder.encode_descriptor(
                    &family.name,
                    &family.help,
                    None,
                    MetricType::Histogram,
                )?;
                for (labels, buckets, sum) in &totals {
                    let count = buckets.iter().sum();
                    let buckets: Vec<(f64, u64)> = bounds
                        .iter()
                        .copied()
                        .zip(buckets.iter().copied())
                        .collect();
                    metric
                        .encode_family(labels)?
                        .encode_histogram::<NoLabelSet>(*sum, count, &buckets, None)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Labels {
        route: &'static str,
    }

    impl SeriesLabels for Labels {
        fn key(&self) -> SeriesKey {
            series_key([self.route], 0)
        }
    }

    fn exposition(collectors: Vec<Box<dyn Collector>>) -> String {
        let mut registry = Registry::with_prefix("t");
        for c in collectors {
            registry.register_collector(c);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn a_scrape_sums_what_every_thread_counted() {
        let hits = PerThreadFamily::<Labels>::counter("hits", "Hits");
        let latency = PerThreadFamily::<Labels>::histogram("latency", "Latency", [0.01, 0.1, 1.0]);
        let a = Labels { route: "/a" };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        hits.inc(&a);
                    }
                    latency.observe(&a, 0.005);
                    latency.observe(&a, 0.05);
                    latency.observe(&a, 5.0);
                });
            }
        });
        hits.inc(&Labels { route: "/b" });
        let text = exposition(vec![Box::new(hits.clone()), Box::new(latency.clone())]);
        assert!(text.contains("t_hits_total{route=\"/a\"} 4000\n"), "{text}");
        assert!(text.contains("t_hits_total{route=\"/b\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE t_latency histogram"), "{text}");
        assert!(
            text.contains("t_latency_count{route=\"/a\"} 12\n"),
            "{text}"
        );
        assert!(text.contains("t_latency_sum{route=\"/a\"} 20.22"), "{text}");
        // Cumulative buckets: 4 at or below 0.01, 8 at or below 0.1 and 1.0, 12 in all.
        assert!(
            text.contains("t_latency_bucket{le=\"0.01\",route=\"/a\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("t_latency_bucket{le=\"1.0\",route=\"/a\"} 8\n"),
            "{text}"
        );
        assert!(
            text.contains("t_latency_bucket{le=\"+Inf\",route=\"/a\"} 12\n"),
            "{text}"
        );
    }

    #[test]
    fn a_thread_that_lost_its_handles_keeps_counting_into_its_cell() {
        let hits = PerThreadFamily::<Labels>::counter("hits", "Hits");
        let a = Labels { route: "/a" };
        hits.inc(&a);
        CELLS.with_borrow_mut(|cells| cells.clear());
        hits.inc(&a);
        assert_eq!(
            hits.family.cells.lock().unwrap().len(),
            1,
            "one cell per thread"
        );
        let text = exposition(vec![Box::new(hits)]);
        assert!(text.contains("t_hits_total{route=\"/a\"} 2\n"), "{text}");
    }

    #[test]
    fn families_on_one_thread_count_apart() {
        let (one, two) = (
            PerThreadFamily::<Labels>::counter("one", "One"),
            PerThreadFamily::<Labels>::counter("two", "Two"),
        );
        let a = Labels { route: "/a" };
        one.inc(&a);
        one.inc(&a);
        two.inc(&a);
        let text = exposition(vec![Box::new(one), Box::new(two)]);
        assert!(text.contains("t_one_total{route=\"/a\"} 2\n"), "{text}");
        assert!(text.contains("t_two_total{route=\"/a\"} 1\n"), "{text}");
    }
}
