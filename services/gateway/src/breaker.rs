//! Resilience for upstream calls: a circuit breaker per upstream and a retry budget.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Stops calling an upstream after `threshold` consecutive transport failures; after
/// `cooldown` it lets one probe through per cooldown until one succeeds.
///
/// A probe is not tracked as "in flight": if its caller goes away, the next probe simply comes
/// one cooldown later, so the breaker can never get stuck half-open.
///
/// Every request asks it twice (may I? it worked), from every worker thread: while the upstream
/// is healthy both are one read of a flag no one writes, so the cores do not pass a lock's
/// cache line back and forth.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    /// Whether `state` holds anything but zero failures and a closed breaker.
    troubled: AtomicBool,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Default)]
struct BreakerState {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            troubled: AtomicBool::new(false),
            state: Mutex::default(),
        }
    }

    /// Whether a call may go out now; `Err` holds how long until the next probe.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        if !self.troubled.load(Ordering::Acquire) {
            return Ok(());
        }
        let now = Instant::now();
        let mut s = self.state.lock().expect("breaker lock");
        match s.open_until {
            None => Ok(()),
            Some(until) if until > now => Err(until - now),
            Some(_) => {
                // Half-open: this call is the probe; the next one waits another cooldown.
                s.open_until = Some(now + self.cooldown);
                Ok(())
            }
        }
    }

    pub fn record_success(&self) {
        if !self.troubled.load(Ordering::Acquire) {
            return;
        }
        let mut s = self.state.lock().expect("breaker lock");
        if s.open_until.is_some() {
            tracing::info!("upstream recovered; breaker closed");
        }
        *s = BreakerState::default();
        self.troubled.store(false, Ordering::Release);
    }

    pub fn record_failure(&self) {
        let mut s = self.state.lock().expect("breaker lock");
        self.troubled.store(true, Ordering::Release);
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        if s.consecutive_failures >= self.threshold {
            if s.open_until.is_none() {
                tracing::warn!(
                    failures = s.consecutive_failures,
                    "upstream failing; breaker opened"
                );
            }
            s.open_until = Some(Instant::now() + self.cooldown);
        }
    }

    pub fn is_open(&self) -> bool {
        self.troubled.load(Ordering::Acquire)
            && self
                .state
                .lock()
                .expect("breaker lock")
                .open_until
                .is_some()
    }
}

/// Retries may add at most ~20% to the traffic an upstream sees, plus a small reserve:
/// every request deposits 0.2 of a retry, every retry withdraws one, so a failing upstream is
/// not hit with a multiple of its normal load.
#[derive(Debug)]
pub struct RetryBudget {
    /// In thousandths of a retry.
    balance: AtomicI64,
}

const MILLI: i64 = 1000;
const DEPOSIT: i64 = 200;
const CAP: i64 = 10 * MILLI;

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            balance: AtomicI64::new(CAP),
        }
    }
}

impl RetryBudget {
    pub fn deposit(&self) {
        // Full (the usual state): no write, so no cache line bouncing between cores.
        if self.balance.load(Ordering::Relaxed) >= CAP {
            return;
        }
        let _ = self
            .balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some((b + DEPOSIT).min(CAP))
            });
    }

    pub fn try_withdraw(&self) -> bool {
        self.balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                (b >= MILLI).then_some(b - MILLI)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_the_threshold_and_probes_after_the_cooldown() {
        let b = Breaker::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            b.record_failure();
            assert!(b.try_acquire().is_ok());
        }
        b.record_failure();
        assert!(b.try_acquire().is_err(), "open after 3 failures");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.try_acquire().is_ok(), "one probe after the cooldown");
        assert!(b.try_acquire().is_err(), "only one probe");
        b.record_success();
        assert!(b.try_acquire().is_ok() && !b.is_open());
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        b.record_failure();
        b.record_success();
        b.record_failure();
        assert!(b.try_acquire().is_ok());
    }

    #[test]
    fn the_retry_budget_runs_out_and_refills_with_traffic() {
        let budget = RetryBudget::default();
        let mut granted = 0;
        while budget.try_withdraw() {
            granted += 1;
        }
        assert_eq!(granted, 10);
        for _ in 0..4 {
            budget.deposit();
        }
        assert!(!budget.try_withdraw(), "0.8 of a retry is not enough");
        budget.deposit();
        assert!(budget.try_withdraw());
    }
}
