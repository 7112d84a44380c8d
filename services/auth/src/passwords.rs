//! Password hashing: argon2id with OWASP's parameters (m=19 MiB, t=2, p=1), run on the
//! blocking pool behind a semaphore so a login storm queues instead of starving the runtime.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified against when no user matches, so unknown accounts take as long as known ones.
    dummy_hash: String,
}

impl Passwords {
    pub fn new(max_concurrent: usize) -> Self {
        let dummy_hash = hash_now("plangen-dummy-password").expect("hashing a constant works");
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash,
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError)?;
        tokio::task::spawn_blocking(move || {
            // Held by the work, not the request: an abandoned request's hash still runs to
            // the end, and still counts against the limit until it does.
            let _permit = permit;
            hash_now(&password)
        })
        .await
        .map_err(|_| HashError)?
    }

    /// A turn at verifying a password: one of the permits, waited for. A brute-force check
    /// made with the turn in hand, and a failure counted before it is given back, can be
    /// raced by at most as many attempts as there are permits (attempts sent all at once
    /// would otherwise all pass the check before the first failure is counted).
    pub async fn turn(&self) -> Turn {
        Turn(
            self.permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed"),
        )
    }

    /// Whether `password` matches `hash`, in `turn`, which comes back for the caller to hold
    /// until the outcome is counted; with no hash, spends the same time and says no. `None`:
    /// the work itself failed (a panic), and the turn is gone with it.
    pub async fn verify(
        &self,
        turn: Turn,
        password: &str,
        hash: Option<&str>,
    ) -> (bool, Option<Turn>) {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        // The turn goes with the work: an abandoned request's check still holds it until done.
        let verified = tokio::task::spawn_blocking(move || {
            let matches = PasswordHash::new(&hash)
                .map(|parsed| {
                    argon2()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            (matches, turn)
        })
        .await;
        match verified {
            Ok((matches, turn)) => (known && matches, Some(turn)),
            Err(_) => (false, None),
        }
    }
}

/// See [`Passwords::turn`].
pub struct Turn(#[allow(dead_code)] OwnedSemaphorePermit);

fn hash_now(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let p = Passwords::new(2);
        let hash = p.hash("correct horse").await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let verify = |password: &'static str, hash: Option<String>| {
            let p = &p;
            async move {
                let (ok, turn) = p.verify(p.turn().await, password, hash.as_deref()).await;
                assert!(turn.is_some(), "the turn comes back");
                ok
            }
        };
        assert!(verify("correct horse", Some(hash.clone())).await);
        assert!(!verify("wrong horse", Some(hash.clone())).await);
        assert!(
            !verify("plangen-dummy-password", None).await,
            "the dummy never matches"
        );
        assert_ne!(hash, p.hash("correct horse").await.unwrap(), "salted");
    }

    async fn wait_for_permits(p: &Passwords, available: usize) {
        let started = std::time::Instant::now();
        while p.permits.available_permits() != available {
            assert!(started.elapsed() < std::time::Duration::from_secs(30));
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn an_abandoned_hash_counts_against_the_limit_until_its_work_really_ends() {
        let p = Arc::new(Passwords::new(1));
        for work in ["hash", "verify"] {
            let abandoned = tokio::spawn({
                let p = p.clone();
                async move {
                    if work == "hash" {
                        p.hash("correct horse").await.is_ok()
                    } else {
                        let turn = p.turn().await;
                        p.verify(turn, "correct horse", None).await.0
                    }
                }
            });
            wait_for_permits(&p, 0).await;
            // The request is abandoned (a timeout, a closed connection) while argon2 runs on
            // the blocking pool, where it cannot be stopped.
            abandoned.abort();
            assert!(abandoned.await.unwrap_err().is_cancelled());
            assert_eq!(
                p.permits.available_permits(),
                0,
                "[{work}] the running hash still holds the only permit"
            );
            wait_for_permits(&p, 1).await;
        }
    }
}
