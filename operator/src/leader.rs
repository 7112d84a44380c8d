//! Leader election with a `coordination.k8s.io/v1` Lease, so two operator replicas are safe:
//! only the holder reconciles; a replica that loses the Lease exits and is restarted.
//!
//! kube-runtime 5 has no elector of its own; this follows client-go's algorithm (optimistic
//! concurrency on the Lease's resourceVersion).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// What to do with a Lease as observed.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease yet: create it holding it.
    Create,
    /// We hold it, or it is free or expired: take/renew it.
    Take {
        transitions: i32,
        acquired_now: bool,
    },
    /// Someone else holds a live Lease.
    Wait,
}

/// Pure decision of the election step (unit-tested).
pub fn decide(lease: Option<&Lease>, me: &str, now: Timestamp, duration: Duration) -> Decision {
    let Some(spec) = lease.and_then(|l| l.spec.as_ref()) else {
        return if lease.is_none() {
            Decision::Create
        } else {
            Decision::Take {
                transitions: 0,
                acquired_now: true,
            }
        };
    };
    let transitions = spec.lease_transitions.unwrap_or(0);
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == me {
        return Decision::Take {
            transitions,
            acquired_now: false,
        };
    }
    let valid_for = spec
        .lease_duration_seconds
        .map(|s| SignedDuration::from_secs(i64::from(s)))
        .unwrap_or_else(|| SignedDuration::try_from(duration).unwrap_or(SignedDuration::ZERO));
    let expired = match &spec.renew_time {
        Some(MicroTime(t)) => *t + valid_for < now,
        None => true,
    };
    if holder.is_empty() || expired {
        Decision::Take {
            transitions: transitions + 1,
            acquired_now: true,
        }
    } else {
        Decision::Wait
    }
}

#[derive(Clone, Debug)]
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl Elector {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            identity: identity.into(),
            duration,
        }
    }

    /// One election step: `Ok(true)` while we hold the Lease.
    pub async fn step(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let decision = decide(current.as_ref(), &self.identity, now, self.duration);
        let result = match decision {
            Decision::Wait => return Ok(false),
            Decision::Create => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(seconds),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                self.api
                    .create(&PostParams::default(), &lease)
                    .await
                    .map(|_| ())
            }
            Decision::Take {
                transitions,
                acquired_now,
            } => {
                let mut lease = current.unwrap_or_default();
                let spec = lease.spec.get_or_insert_with(Default::default);
                spec.holder_identity = Some(self.identity.clone());
                spec.lease_duration_seconds = Some(seconds);
                spec.renew_time = Some(MicroTime(now));
                spec.lease_transitions = Some(transitions);
                if acquired_now {
                    spec.acquire_time = Some(MicroTime(now));
                }
                // `replace` carries the resourceVersion we read: a concurrent taker gets 409.
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
                    .map(|_| ())
            }
        };
        match result {
            Ok(()) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Block until we hold the Lease.
    pub async fn acquire(&self) {
        loop {
            match self.step().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "leader election step failed"),
            }
            tokio::time::sleep(self.duration / 4).await;
        }
    }

    /// Renew until the Lease is lost (another holder, or no successful renewal within the lease
    /// duration); returns then, and the caller stops reconciling.
    pub async fn hold(&self) {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.duration / 3).await;
            match self.step().await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "renewing the leader Lease failed"),
            }
            if last_ok.elapsed() > self.duration {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed: i64, secs: i32) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
                lease_duration_seconds: Some(secs),
                lease_transitions: Some(2),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn election_decisions() {
        let now = Timestamp::from_second(1_000).unwrap();
        let d = Duration::from_secs(15);
        assert_eq!(decide(None, "a", now, d), Decision::Create);
        assert_eq!(
            decide(Some(&lease("a", 990, 15)), "a", now, d),
            Decision::Take {
                transitions: 2,
                acquired_now: false
            }
        );
        assert_eq!(
            decide(Some(&lease("b", 990, 15)), "a", now, d),
            Decision::Wait
        );
        assert_eq!(
            decide(Some(&lease("b", 900, 15)), "a", now, d),
            Decision::Take {
                transitions: 3,
                acquired_now: true
            }
        );
        assert_eq!(
            decide(Some(&lease("", 999, 15)), "a", now, d),
            Decision::Take {
                transitions: 3,
                acquired_now: true
            }
        );
    }
}
