//! Users and sessions behind one trait, with a PostgreSQL and a SQLite implementation that
//! share their SQL (`sql.rs`) and one contract test suite (`tests/store_contract.rs`).

mod postgres;
mod sql;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use postgres::PostgresUserStore;
pub use sqlite::SqliteUserStore;

/// How an e-mail address is stored and looked up: trimmed, lower-cased and in Unicode NFC, so
/// an address typed with a precomposed "é" and one typed as "e" plus a combining accent (as
/// some keyboards and copy-and-paste produce) are one account, not two.
pub fn normalise_email(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    email.trim().to_lowercase().nfc().collect()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique field is taken; `field` names it (`email`, `username`).
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub name: Option<String>,
    pub username: String,
    pub avatar: Option<String>,
    pub bio: Option<String>,
    pub role: String,
    pub is_active: bool,
    pub is_email_verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    /// Already normalised (trimmed, lower case).
    pub email: String,
    pub password_hash: String,
    pub name: Option<String>,
    pub username: String,
}

/// Profile fields to change; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub name: Option<Option<String>>,
    pub username: Option<String>,
    pub avatar: Option<Option<String>>,
    pub bio: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A refresh token as stored: only its hash, never the token.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now revoked and replaced by the new one.
    Rotated { user: User },
    /// The token was rotated within the retry grace and its replacement has not been used: a
    /// client retrying after the answer was lost, or a second tab refreshing at the same
    /// moment. The new token joins the session beside the unused replacement; the first of
    /// them to be used revokes the other.
    Retried { user: User },
    /// The token had already been rotated (and is past the retry grace, or its replacement
    /// was used) or revoked: someone replayed it, so its whole session was revoked.
    Reused { session_id: String },
    /// Past its expiry, or its session has ended.
    Expired,
    /// No such token.
    Unknown,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Brings the schema up to date.
    async fn migrate(&self) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;

    async fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User, StoreError>;
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// By e-mail (exact, already normalised) or by username (case-insensitive).
    async fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError>;
    async fn update_profile(
        &self,
        id: &str,
        changes: ProfileChanges,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;
    async fn set_password_hash(
        &self,
        id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Deactivates the user and revokes their sessions and refresh tokens; the ids of the
    /// sessions it revoked.
    async fn deactivate(&self, id: &str, now: DateTime<Utc>) -> Result<Vec<String>, StoreError>;

    /// Starts a session with its first refresh token; `NotFound` when the user is missing or
    /// deactivated, even by a deactivation still in flight.
    async fn create_session(
        &self,
        session: Session,
        token: NewRefreshToken,
    ) -> Result<(), StoreError>;
    /// Atomically revokes the token with `old_hash` and stores `new` in its place. Two
    /// concurrent rotations of one token cannot both rotate it: the loser sees `Retried` when
    /// the token was rotated less than `retry_grace` ago and its replacement is still unused
    /// (so `new` is stored too), `Reused` otherwise.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: NewRefreshToken,
        now: DateTime<Utc>,
        retry_grace: std::time::Duration,
    ) -> Result<Rotation, StoreError>;
    /// The user's sessions that are neither revoked nor expired, newest first.
    async fn active_sessions(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;
    /// Ends one session of `user_id` and revokes its tokens; `false` if there was none.
    async fn revoke_session(
        &self,
        user_id: &str,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Ends every active session of `user_id` except `keep`; returns the ids ended.
    async fn revoke_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError>;
}

/// Maps a unique violation onto the field it is about.
fn classify(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
        if text.contains("username") {
            return StoreError::Conflict { field: "username" };
        }
        if text.contains("email") {
            return StoreError::Conflict { field: "email" };
        }
    }
    StoreError::Database(err)
}
