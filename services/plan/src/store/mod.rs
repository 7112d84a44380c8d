//! Plans (and idempotency records) behind one trait, with a MongoDB and a SQLite
//! implementation and one contract test suite (`tests/` runs every test on each backend).

mod mongo;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use mongo::{MongoPlanStore, MongoSettings};
pub use sqlite::SqlitePlanStore;

use crate::http::{Cursor, Direction};
use crate::model::{Plan, Status};

pub use plangen_core::mongo::DocumentStoreError as StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Title,
    StartDate,
    CreatedAt,
    UpdatedAt,
}

impl SortField {
    pub const NAMES: [&'static str; 4] = ["title", "startDate", "createdAt", "updatedAt"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "title" => Some(Self::Title),
            "startDate" => Some(Self::StartDate),
            "createdAt" => Some(Self::CreatedAt),
            "updatedAt" => Some(Self::UpdatedAt),
            _ => None,
        }
    }

    /// The plan's value for this field as the sortable text the cursor carries.
    pub fn key_of(self, p: &Plan) -> String {
        match self {
            Self::Title => p.title.clone(),
            Self::StartDate => p.start_date.format("%Y-%m-%d").to_string(),
            Self::CreatedAt => crate::http::sortable(&p.created_at),
            Self::UpdatedAt => crate::http::sortable(&p.updated_at),
        }
    }
}

/// One page request of `GET /`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub owner: String,
    /// Words in title, description or tags (any word).
    pub q: Option<String>,
    pub status: Option<Status>,
    pub tag: Option<String>,
    /// Plans whose span (`startDate`..`endDate`, or the start day alone) touches this range;
    /// `YYYY-MM-DD`, both inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub sort: SortField,
    pub direction: Direction,
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// What claiming an `Idempotency-Key` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours now: do the work, then [`PlanStore::complete_key`].
    New,
    /// A request with this key already finished; its response body, to replay.
    Done(String),
    /// A request with this key is running right now.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// One claim on an idempotency key: `owner`'s `key` as claimed at `claimed_at` (the `now` given
/// to [`PlanStore::claim_key`]). Completing, releasing and abandoning act on this claim only: a
/// request that took the key over made a claim of a later time, which an attempt that outlived
/// its own leaves alone.
#[derive(Clone, Debug)]
pub struct ClaimRef {
    pub owner: String,
    pub key: String,
    pub claimed_at: DateTime<Utc>,
}

/// How long a finished request's key is remembered, and after how long an unfinished claim
/// (a crashed request) may be taken over.
pub const KEY_TTL: chrono::Duration = chrono::Duration::hours(24);
pub const CLAIM_TIMEOUT: chrono::Duration = chrono::Duration::seconds(60);

/// The creation time an abandoned claim is given: long enough ago to be taken over at once.
pub(crate) const ABANDONED_AT: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

#[async_trait]
pub trait PlanStore: Send + Sync {
    async fn migrate(&self) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
    async fn insert(&self, plan: &Plan) -> Result<(), StoreError>;
    /// Bulk load (benchmarks, imports).
    async fn insert_many(&self, plans: &[Plan]) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<Plan>, StoreError>;
    /// Replaces the plan if it is still at `expected_version`; `false` if not.
    async fn replace(&self, plan: &Plan, expected_version: i64) -> Result<bool, StoreError>;
    /// Deletes the plan if it is still at `expected_version`; `false` if not.
    async fn delete(&self, id: &str, expected_version: i64) -> Result<bool, StoreError>;
    async fn list(&self, query: &ListQuery) -> Result<Vec<Plan>, StoreError>;
    /// `owner`'s plans that may have items due in `[from, to)`: recurring ones and those with
    /// a due date in range.
    async fn schedule_candidates(
        &self,
        owner: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Plan>, StoreError>;

    /// Atomically claims `key` of `owner` for a request whose body hashes to `request_hash`.
    /// A claim left unfinished for [`CLAIM_TIMEOUT`] is taken over by the same request; another
    /// request under that key is still a [`Claim::Mismatch`].
    async fn claim_key(
        &self,
        owner: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;
    /// Records the response of the request that made `claim`.
    async fn complete_key(&self, claim: &ClaimRef, response: &str) -> Result<(), StoreError>;
    /// Gives `claim` up after a failed request, so a retry can run.
    async fn release_key(&self, claim: &ClaimRef) -> Result<(), StoreError>;
    /// Leaves `claim` to be taken over at once, by the same request only (its hash is kept):
    /// for a request whose plan was made but whose answer could not be recorded.
    async fn abandon_key(&self, claim: &ClaimRef) -> Result<(), StoreError>;
}

/// Lower-cased title, description and tags: what `q` searches on SQLite.
pub(crate) fn search_text(p: &Plan) -> String {
    format!("{} {} {}", p.title, p.description, p.tags.join(" ")).to_lowercase()
}
