//! Status conditions: `Ready`, `Progressing`, `Degraded` and `ReconciliationPaused`.
//!
//! `lastTransitionTime` moves only when a condition's status changes; every condition carries the
//! generation it describes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const PAUSED: &str = "ReconciliationPaused";

/// A condition as the reconciler wants it, before timestamps are settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Desired {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

fn status_str(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Merge `desired` into `current`: conditions not in `desired` are dropped, a condition whose
/// status did not change keeps its `lastTransitionTime`.
pub fn merge(
    current: &[Condition],
    desired: &[Desired],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    desired
        .iter()
        .map(|d| {
            let status = status_str(d.status).to_string();
            let last_transition_time = current
                .iter()
                .find(|c| c.type_ == d.type_ && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or(Time(now));
            Condition {
                type_: d.type_.to_string(),
                status,
                reason: d.reason.clone(),
                message: d.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// Whether a condition of the given type is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let first = merge(
            &[],
            &[Desired::new(READY, false, "Progressing", "starting")],
            Some(1),
            t(100),
        );
        assert_eq!(first[0].last_transition_time, Time(t(100)));
        assert_eq!(first[0].status, "False");

        // Same status, new message and generation: the time stays.
        let second = merge(
            &first,
            &[Desired::new(READY, false, "Progressing", "2/3 ready")],
            Some(2),
            t(200),
        );
        assert_eq!(second[0].last_transition_time, Time(t(100)));
        assert_eq!(second[0].message, "2/3 ready");
        assert_eq!(second[0].observed_generation, Some(2));

        // Real transition: the time moves.
        let third = merge(
            &second,
            &[Desired::new(READY, true, "AllReady", "ok")],
            Some(2),
            t(300),
        );
        assert_eq!(third[0].last_transition_time, Time(t(300)));
        assert!(is_true(&third, READY));
        assert!(!is_true(&third, DEGRADED));
    }

    #[test]
    fn conditions_not_desired_are_dropped() {
        let paused = merge(&[], &[Desired::new(PAUSED, true, "Paused", "")], None, t(1));
        let after = merge(
            &paused,
            &[Desired::new(READY, true, "AllReady", "")],
            None,
            t(2),
        );
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].type_, READY);
    }
}
