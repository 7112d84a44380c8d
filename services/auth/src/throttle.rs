//! Brute-force protection: failed logins counted per account and per client IP in the shared
//! counters; past a limit, logins answer 429 until the window passes, right password or not.

use std::sync::Arc;

use plangen_core::shared_state::WindowCounter;
use plangen_core::{Problem, ProblemKind};
use sha2::{Digest, Sha256};

use crate::config::LoginThrottle as Limits;

pub struct LoginThrottle {
    counters: Arc<dyn WindowCounter>,
    limits: Limits,
}

/// Whose failures an attempt counts toward: the account when the login names one (by e-mail
/// or username alike, so both ways share one budget), else the login as typed.
pub enum Account<'a> {
    User(&'a str),
    Unknown(&'a str),
}

fn account_key(account: &Account<'_>) -> String {
    let (kind, value) = match account {
        Account::User(id) => ("user", *id),
        Account::Unknown(login) => ("login", *login),
    };
    // Hashed, so the counter store never holds e-mail addresses.
    let digest = Sha256::new()
        .chain_update(kind)
        .chain_update([0])
        .chain_update(value.to_lowercase())
        .finalize();
    format!("login-fail:account:{}", hex::encode(digest))
}

fn ip_key(ip: &str) -> String {
    format!("login-fail:ip:{ip}")
}

impl LoginThrottle {
    pub fn new(counters: Arc<dyn WindowCounter>, limits: Limits) -> Self {
        Self { counters, limits }
    }

    /// 429 with `Retry-After` when either budget is spent. If the counters cannot be read the
    /// login goes ahead (logged): an outage of Redis must not lock everyone out. Made with a
    /// password-verification turn in hand (`Passwords::turn`), and a failure recorded before
    /// the turn is given back, so attempts sent at once cannot all pass it.
    pub async fn check(&self, account: &Account<'_>, ip: Option<&str>) -> Result<(), Problem> {
        let mut keys = vec![(account_key(account), self.limits.max_failures_per_account)];
        if let Some(ip) = ip {
            keys.push((ip_key(ip), self.limits.max_failures_per_ip));
        }
        for (key, max) in keys {
            match self.counters.peek(&key).await {
                Ok(count) if count.count >= max => {
                    return Err(Problem::new(ProblemKind::TooManyRequests)
                        .detail("Too many failed logins; try again later")
                        .retry_after(count.resets_in.as_secs().max(1)));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "login throttle unavailable; not enforced"),
            }
        }
        Ok(())
    }

    pub async fn record_failure(&self, account: &Account<'_>, ip: Option<&str>) {
        let mut keys = vec![account_key(account)];
        if let Some(ip) = ip {
            keys.push(ip_key(ip));
        }
        for key in keys {
            if let Err(e) = self.counters.hit(&key, self.limits.window).await {
                tracing::warn!(error = %e, "could not count a failed login");
            }
        }
    }

    pub async fn record_success(&self, account: &Account<'_>) {
        if let Err(e) = self.counters.reset(&account_key(account)).await {
            tracing::warn!(error = %e, "could not reset the login failure count");
        }
    }
}
