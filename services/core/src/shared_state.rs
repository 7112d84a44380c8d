//! State shared by every replica of every service: the session deny-list and windowed
//! counters (login throttles, rate limits). Redis when configured, else in process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, ServerErrorKind};
use tokio::sync::OnceCell;

use crate::config::RedisConfig;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SharedStateError {
    #[error("redis is unreachable: {0}")]
    Unreachable(String),
    #[error("redis command failed: {0}")]
    Command(String),
}

/// Sessions whose access tokens must stop working before they expire.
#[async_trait]
pub trait SessionDenyList: Send + Sync {
    /// Deny `session_id` for `ttl` (the access-token lifetime: after it no token can be valid).
    async fn deny(&self, session_id: &str, ttl: Duration) -> Result<(), SharedStateError>;
    async fn is_denied(&self, session_id: &str) -> Result<bool, SharedStateError>;
    /// The answer without awaiting, when the backend has it at hand (in process); `None`
    /// means ask [`is_denied`](Self::is_denied). Asked on every authenticated request, so
    /// the in-process answer skips the boxed future.
    fn is_denied_now(&self, _session_id: &str) -> Option<Result<bool, SharedStateError>> {
        None
    }
}

/// One hit of a fixed-window counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Hits in the current window, this one included.
    pub count: u64,
    /// Until the window resets.
    pub resets_in: Duration,
}

/// Fixed-window counters keyed by string: atomic increments shared by every replica.
#[async_trait]
pub trait WindowCounter: Send + Sync {
    /// Counts one hit on `key`; a new window of length `window` starts with the first hit.
    async fn hit(&self, key: &str, window: Duration) -> Result<WindowCount, SharedStateError>;
    /// [`hit`](Self::hit) without awaiting, when the backend counts in process; `None` means
    /// call `hit` (nothing was counted).
    fn hit_now(&self, _key: &str, _window: Duration) -> Option<WindowCount> {
        None
    }
    /// The current count without counting.
    async fn peek(&self, key: &str) -> Result<WindowCount, SharedStateError>;
    async fn reset(&self, key: &str) -> Result<(), SharedStateError>;
}

/// Whether a dependency answers, for `/readyz`.
#[async_trait]
pub trait Ping: Send + Sync {
    async fn ping(&self) -> Result<(), SharedStateError>;
}

/// Both kinds of shared state from one backend.
#[derive(Clone)]
pub struct SharedState {
    pub deny_list: Arc<dyn SessionDenyList>,
    pub counters: Arc<dyn WindowCounter>,
    /// `None` for the in-process backend, which is always there.
    pub redis: Option<Arc<RedisState>>,
}

impl SharedState {
    pub fn in_process() -> Self {
        let memory = Arc::new(MemoryState::default());
        Self {
            deny_list: memory.clone(),
            counters: memory,
            redis: None,
        }
    }

    pub fn redis(config: &RedisConfig, key_prefix: &str) -> Self {
        let redis = Arc::new(RedisState::new(config, key_prefix));
        Self {
            deny_list: redis.clone(),
            counters: redis.clone(),
            redis: Some(redis),
        }
    }

    pub fn from_config(config: Option<&RedisConfig>) -> Self {
        match config {
            Some(c) => Self::redis(c, "plangen"),
            None => Self::in_process(),
        }
    }

    /// The same state for one worker thread with a runtime of its own (the gateway's
    /// workers): with Redis, the same server and keys through a connection of the worker's
    /// own, made on its first use and driven by the worker's runtime — a shared connection
    /// is driven by one thread, which every other worker's command would wake and wait on;
    /// in process, the very same memory.
    pub fn for_worker(&self) -> Self {
        match &self.redis {
            Some(redis) => {
                let own = Arc::new(redis.sibling());
                Self {
                    deny_list: own.clone(),
                    counters: own.clone(),
                    redis: Some(own),
                }
            }
            None => self.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// In process

#[derive(Default)]
pub struct MemoryState {
    denied: Mutex<Expiring<Instant>>,
    /// When the last denial ends (milliseconds after [`EPOCH`]), read without the lock: while
    /// no session is denied (the usual state) a check takes no lock at all.
    denials_end: AtomicU64,
    windows: Mutex<Expiring<(u64, Instant)>>,
}

/// A map whose entries expire, pruned when it has doubled since the last prune (at least
/// [`PRUNE_FLOOR`] entries): memory stays bounded by live keys, and a map full of live keys
/// costs one scan per doubling, not one per request.
struct Expiring<V> {
    map: foldhash::HashMap<String, V>,
    prune_at: usize,
}

const PRUNE_FLOOR: usize = 10_000;

impl<V> Default for Expiring<V> {
    fn default() -> Self {
        Self {
            map: foldhash::HashMap::default(),
            prune_at: PRUNE_FLOOR,
        }
    }
}

impl<V> Expiring<V> {
    fn prune(&mut self, now: Instant, expiry: impl Fn(&V) -> Instant) {
        if self.map.len() >= self.prune_at {
            self.map.retain(|_, v| expiry(v) > now);
            self.prune_at = (self.map.len() * 2).max(PRUNE_FLOOR);
        }
    }
}

#[async_trait]
impl SessionDenyList for MemoryState {
    async fn deny(&self, session_id: &str, ttl: Duration) -> Result<(), SharedStateError> {
        let now = Instant::now();
        let mut denied = self.denied.lock().expect("deny-list lock");
        denied.prune(now, |t| *t);
        denied.map.insert(session_id.to_owned(), now + ttl);
        let ends = millis_since_epoch(now + ttl) + 1;
        self.denials_end.fetch_max(ends, Ordering::Release);
        Ok(())
    }

    async fn is_denied(&self, session_id: &str) -> Result<bool, SharedStateError> {
        self.denied_now(session_id)
    }

    fn is_denied_now(&self, session_id: &str) -> Option<Result<bool, SharedStateError>> {
        Some(self.denied_now(session_id))
    }
}

/// The in-process state's clock origin.
static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

fn millis_since_epoch(t: Instant) -> u64 {
    t.saturating_duration_since(*EPOCH).as_millis() as u64
}

impl MemoryState {
    fn denied_now(&self, session_id: &str) -> Result<bool, SharedStateError> {
        // Raised after every insert: a session denied before this check started is seen.
        if millis_since_epoch(Instant::now()) >= self.denials_end.load(Ordering::Acquire) {
            return Ok(false);
        }
        let denied = self.denied.lock().expect("deny-list lock");
        Ok(denied
            .map
            .get(session_id)
            .is_some_and(|until| *until > Instant::now()))
    }

    fn count_hit(&self, key: &str, window: Duration) -> WindowCount {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("counter lock");
        windows.prune(now, |(_, until)| *until);
        // No key allocation for a known key (the common case).
        if !windows.map.contains_key(key) {
            windows.map.insert(key.to_owned(), (0, now + window));
        }
        let entry = windows.map.get_mut(key).expect("inserted above");
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += 1;
        WindowCount {
            count: entry.0,
            resets_in: entry.1 - now,
        }
    }
}

#[async_trait]
impl WindowCounter for MemoryState {
    async fn hit(&self, key: &str, window: Duration) -> Result<WindowCount, SharedStateError> {
        Ok(self.count_hit(key, window))
    }

    fn hit_now(&self, key: &str, window: Duration) -> Option<WindowCount> {
        Some(self.count_hit(key, window))
    }

    async fn peek(&self, key: &str) -> Result<WindowCount, SharedStateError> {
        let now = Instant::now();
        let windows = self.windows.lock().expect("counter lock");
        Ok(match windows.map.get(key) {
            Some((count, until)) if *until > now => WindowCount {
                count: *count,
                resets_in: *until - now,
            },
            _ => WindowCount {
                count: 0,
                resets_in: Duration::ZERO,
            },
        })
    }

    async fn reset(&self, key: &str) -> Result<(), SharedStateError> {
        self.windows.lock().expect("counter lock").map.remove(key);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Redis

/// Increments a counter (`KEYS[1]`) and starts its window on the first hit, atomically;
/// returns the count, the milliseconds left in the window and, when a session's deny-list key
/// is given as `KEYS[2]`, whether it exists (else 0).
const HIT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local denied = 0
if KEYS[2] then
  denied = redis.call('EXISTS', KEYS[2])
end
return {count, ttl, denied}
";

/// A Redis connection made on first use and re-made after an outage, so a service starts
/// and stays up while Redis is down (its `/readyz` says so) and recovers by itself.
pub struct RedisState {
    client: redis::Client,
    /// Made by the first command that needs it (a failed attempt leaves it empty for the next
    /// one); then every command only clones it — no async lock that every request would queue
    /// on. Replaced by an empty one when it was made before the latest outage (the client
    /// never gives up a connection that went silent — a dropped NAT entry, a dead peer — by
    /// itself, and a sibling that was idle during the outage may hold one), or when it found a
    /// read-only replica behind it (a failover), at most once per [`OUTAGE_MEMORY`].
    connection: RwLock<Arc<Connection>>,
    /// Shared with every sibling: an outage is the server's, not one connection's.
    outage: Arc<OutageMemory>,
    /// From when a `READONLY` answer may replace this connection again ([`outage_clock`]).
    demotion_replaceable_from: AtomicU64,
    prefix: String,
    hit: redis::Script,
}

const REDIS_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long commands fail at once after Redis was found unreachable.
pub const OUTAGE_MEMORY: Duration = Duration::from_secs(1);

/// Longer than one command can take (its connection's and its own timeout), so the probe
/// after an outage answers before another command probes.
const PROBE_WINDOW: Duration = Duration::from_millis(REDIS_TIMEOUT.as_millis() as u64 * 4 + 500);

/// Remembers for [`OUTAGE_MEMORY`] that Redis was unreachable: meanwhile every command fails
/// at once instead of waiting for a connection attempt or a timeout of its own (against a
/// Redis that hangs, each would wait seconds). When the memory ends, one command probes the
/// server while the others keep failing fast, so an outage costs one wait per second, not one
/// per request.
#[derive(Default)]
struct OutageMemory {
    /// Until when commands fail at once (milliseconds after [`EPOCH`], plus one); 0: no outage
    /// known, the usual state, read with one load.
    until: AtomicU64,
    /// Outages found so far: a connection made before the latest one is not used again.
    outages: AtomicU64,
}

/// A connection cell and the number of outages known when it was made.
#[derive(Default)]
struct Connection {
    after_outages: u64,
    cell: OnceCell<ConnectionManager>,
}

/// A command let through by the [`OutageMemory`]: tell it how the command went. A probe that
/// is dropped unanswered (its request was cancelled) lets the next command probe at once.
struct Asking<'a> {
    memory: &'a OutageMemory,
    probing: bool,
}

fn outage_clock() -> u64 {
    millis_since_epoch(Instant::now()) + 1
}

impl OutageMemory {
    fn ask(&self) -> Result<Asking<'_>, SharedStateError> {
        let until = self.until.load(Ordering::Relaxed);
        if until == 0 {
            return Ok(Asking {
                memory: self,
                probing: false,
            });
        }
        let now = outage_clock();
        let probe_ends = now + PROBE_WINDOW.as_millis() as u64;
        if now >= until
            && self
                .until
                .compare_exchange(until, probe_ends, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Ok(Asking {
                memory: self,
                probing: true,
            });
        }
        Err(SharedStateError::Unreachable(
            "unreachable moments ago; asking again shortly".into(),
        ))
    }
}

impl Asking<'_> {
    fn answered(mut self, reachable: bool) {
        self.probing = false;
        let memory = &self.memory.until;
        if !reachable {
            let until = outage_clock() + OUTAGE_MEMORY.as_millis() as u64;
            memory.store(until, Ordering::Relaxed);
            self.memory.outages.fetch_add(1, Ordering::Relaxed);
        } else if memory.load(Ordering::Relaxed) != 0 {
            memory.store(0, Ordering::Relaxed);
        }
    }
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        if self.probing {
            self.memory.until.store(outage_clock(), Ordering::Relaxed);
        }
    }
}

impl RedisState {
    pub fn new(config: &RedisConfig, key_prefix: &str) -> Self {
        let client = redis::Client::open(config.connection_info())
            .expect("a TCP connection info always opens a client");
        Self {
            client,
            connection: RwLock::default(),
            demotion_replaceable_from: AtomicU64::new(0),
            outage: Arc::default(),
            prefix: key_prefix.to_owned(),
            hit: redis::Script::new(HIT_SCRIPT),
        }
    }

    /// The same server and keys (and memory of its outage) through a connection of its own
    /// (made on first use).
    pub fn sibling(&self) -> Self {
        Self {
            client: self.client.clone(),
            connection: RwLock::default(),
            demotion_replaceable_from: AtomicU64::new(0),
            outage: self.outage.clone(),
            prefix: self.prefix.clone(),
            hit: self.hit.clone(),
        }
    }

    async fn connect(
        &self,
        cell: &OnceCell<ConnectionManager>,
    ) -> Result<ConnectionManager, SharedStateError> {
        cell.get_or_try_init(|| async {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_response_timeout(Some(REDIS_TIMEOUT))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(2));
            tokio::time::timeout(
                REDIS_TIMEOUT * 2,
                ConnectionManager::new_with_config(self.client.clone(), config),
            )
            .await
            .map_err(|_| SharedStateError::Unreachable("connection timed out".into()))?
            .map_err(|e| SharedStateError::Unreachable(e.to_string()))
        })
        .await
        .cloned()
    }

    /// `<prefix>:<kind>:<key>`, joined without `core::fmt` (two keys per gateway request:
    /// `format!` cost ~1 200 instructions each, a third of what the script's own call costs).
    fn key(&self, kind: &str, key: &str) -> String {
        [self.prefix.as_str(), ":", kind, ":", key].concat()
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: impl FnOnce(
            ConnectionManager,
        ) -> futures::future::BoxFuture<'static, redis::RedisResult<T>>,
    ) -> Result<T, SharedStateError> {
        let asking = self.outage.ask()?;
        let mut connection = self
            .connection
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let outages = self.outage.outages.load(Ordering::Relaxed);
        if connection.after_outages < outages {
            connection = self.replace_connection(&connection, outages);
        }
        let mut demoted = false;
        let answer = async {
            let conn = self.connect(&connection.cell).await?;
            match tokio::time::timeout(REDIS_TIMEOUT * 2, cmd(conn)).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                    Err(SharedStateError::Unreachable(e.to_string()))
                }
                Ok(Err(e)) => {
                    // A replica answers where the primary was: after a failover the server
                    // this connection reached was demoted, while the address (a Service, a
                    // DNS name) now leads to the new primary.
                    demoted = e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly);
                    Err(SharedStateError::Command(e.to_string()))
                }
                Err(_) => Err(SharedStateError::Unreachable("command timed out".into())),
            }
        }
        .await;
        if demoted {
            // Once a second at most: while the address still leads to the demoted server
            // (a DNS record or a Service not yet moved), every command would reconnect.
            let now = outage_clock();
            let from = self.demotion_replaceable_from.load(Ordering::Relaxed);
            let next = now + OUTAGE_MEMORY.as_millis() as u64;
            if now >= from
                && self
                    .demotion_replaceable_from
                    .compare_exchange(from, next, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.replace_connection(&connection, outages);
            }
        }
        // An unreachable answer counts an outage: this connection and every sibling's made
        // before it are replaced before their next use.
        asking.answered(!matches!(answer, Err(SharedStateError::Unreachable(_))));
        answer
    }

    /// A new, empty connection in place of `stale` — unless another command already replaced
    /// it — and the one in place now.
    fn replace_connection(&self, stale: &Arc<Connection>, outages: u64) -> Arc<Connection> {
        let mut current = self
            .connection
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if Arc::ptr_eq(&current, stale) {
            *current = Arc::new(Connection {
                after_outages: outages,
                cell: OnceCell::new(),
            });
        }
        current.clone()
    }

    /// Counts a hit on `key` (as [`WindowCounter::hit`]) and asks whether `session_id` is
    /// denied (as [`SessionDenyList::is_denied`]) in one script: one command and one round
    /// trip for what the gateway asks about every request with a token. Each answer on its
    /// own, as two commands would give them.
    pub async fn hit_and_is_denied(
        &self,
        key: &str,
        window: Duration,
        session_id: &str,
    ) -> (
        Result<WindowCount, SharedStateError>,
        Result<bool, SharedStateError>,
    ) {
        let keys = [
            self.key("window", key),
            self.key("denied-session", session_id),
        ];
        match self.run_hit(keys, window).await {
            Ok((count, denied)) => (Ok(count), Ok(denied)),
            // Redis answered but refused the script — when full (`maxmemory` with the
            // `noeviction` policy) it refuses anything that may write — so the deny-list, a read
            // it still answers, is asked alone: sessions are judged by their real state, not
            // by the outage policy.
            Err(refused @ SharedStateError::Command(_)) => {
                (Err(refused), self.is_denied(session_id).await)
            }
            Err(unreachable) => (Err(unreachable.clone()), Err(unreachable)),
        }
    }

    /// The hit script on `keys`: the window's, then optionally a session's.
    async fn run_hit<const N: usize>(
        &self,
        keys: [String; N],
        window: Duration,
    ) -> Result<(WindowCount, bool), SharedStateError> {
        let ms = window.as_millis().max(1) as u64;
        let script = self.hit.clone();
        let (count, ttl, denied): (u64, i64, bool) = self
            .run(move |mut c| {
                Box::pin(async move {
                    let mut invocation = script.prepare_invoke();
                    for key in keys {
                        invocation.key(key);
                    }
                    invocation.arg(ms).invoke_async(&mut c).await
                })
            })
            .await?;
        let count = WindowCount {
            count,
            resets_in: Duration::from_millis(ttl.max(0) as u64),
        };
        Ok((count, denied))
    }
}

#[async_trait]
impl Ping for RedisState {
    async fn ping(&self) -> Result<(), SharedStateError> {
        self.run(|mut c| {
            Box::pin(async move { redis::cmd("PING").query_async::<String>(&mut c).await })
        })
        .await
        .map(|_| ())
    }
}

#[async_trait]
impl SessionDenyList for RedisState {
    async fn deny(&self, session_id: &str, ttl: Duration) -> Result<(), SharedStateError> {
        let key = self.key("denied-session", session_id);
        let ms = ttl.as_millis().max(1) as u64;
        self.run(move |mut c| {
            Box::pin(async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(ms)
                    .query_async::<()>(&mut c)
                    .await
            })
        })
        .await
    }

    async fn is_denied(&self, session_id: &str) -> Result<bool, SharedStateError> {
        let key = self.key("denied-session", session_id);
        self.run(move |mut c| {
            Box::pin(async move {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query_async::<bool>(&mut c)
                    .await
            })
        })
        .await
    }
}

#[async_trait]
impl WindowCounter for RedisState {
    async fn hit(&self, key: &str, window: Duration) -> Result<WindowCount, SharedStateError> {
        let (count, _) = self.run_hit([self.key("window", key)], window).await?;
        Ok(count)
    }

    async fn peek(&self, key: &str) -> Result<WindowCount, SharedStateError> {
        let key = self.key("window", key);
        let (count, ttl): (Option<u64>, i64) = self
            .run(move |mut c| {
                Box::pin(async move {
                    redis::pipe()
                        .cmd("GET")
                        .arg(&key)
                        .cmd("PTTL")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                })
            })
            .await?;
        Ok(WindowCount {
            count: count.unwrap_or(0),
            resets_in: Duration::from_millis(ttl.max(0) as u64),
        })
    }

    async fn reset(&self, key: &str) -> Result<(), SharedStateError> {
        let key = self.key("window", key);
        self.run(move |mut c| {
            Box::pin(async move { redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_lock_free_answer_of_the_in_process_deny_list_follows_denials_and_their_end() {
        let state = MemoryState::default();
        assert!(!state.is_denied_now("s1").unwrap().unwrap());
        state.deny("s1", Duration::from_millis(80)).await.unwrap();
        assert!(state.is_denied_now("s1").unwrap().unwrap());
        assert!(!state.is_denied_now("s2").unwrap().unwrap());
        assert!(state.is_denied("s1").await.unwrap());
        // A longer denial keeps the lock-free path off until it ends, not the shorter one.
        state.deny("s2", Duration::from_millis(300)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(!state.is_denied_now("s1").unwrap().unwrap(), "expired");
        assert!(state.is_denied_now("s2").unwrap().unwrap());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(!state.is_denied_now("s2").unwrap().unwrap());
        assert!(
            millis_since_epoch(Instant::now()) >= state.denials_end.load(Ordering::Acquire),
            "every denial has ended: answered without the lock"
        );
    }

    #[test]
    fn the_in_process_counter_counts_the_same_with_or_without_await() {
        let state = MemoryState::default();
        let window = Duration::from_secs(60);
        assert_eq!(state.hit_now("k", window).unwrap().count, 1);
        let counted = futures::executor::block_on(state.hit("k", window)).unwrap();
        assert_eq!(counted.count, 2);
        assert!(counted.resets_in <= window && counted.resets_in > Duration::from_secs(59));
    }

    #[test]
    fn expired_entries_are_pruned_and_live_ones_kept_without_a_scan_per_insert() {
        let now = Instant::now();
        let mut map = Expiring::<Instant>::default();
        for i in 0..PRUNE_FLOOR {
            let expiry = if i % 2 == 0 {
                now
            } else {
                now + Duration::from_secs(60)
            };
            map.map.insert(format!("k{i}"), expiry);
        }
        map.prune(now, |t| *t);
        assert_eq!(map.map.len(), PRUNE_FLOOR / 2, "expired half dropped");
        assert_eq!(map.prune_at, PRUNE_FLOOR, "never below the floor");

        // All live: the next scan waits until the map has doubled.
        for i in 0..PRUNE_FLOOR {
            map.map
                .insert(format!("live{i}"), now + Duration::from_secs(60));
        }
        map.prune(now, |t| *t);
        assert_eq!(map.map.len(), PRUNE_FLOOR * 3 / 2);
        assert_eq!(map.prune_at, PRUNE_FLOOR * 3);
        map.map.insert("one more".into(), now);
        map.prune(now, |t| *t);
        assert_eq!(
            map.map.len(),
            PRUNE_FLOOR * 3 / 2 + 1,
            "no scan before the map doubles"
        );
    }
}
