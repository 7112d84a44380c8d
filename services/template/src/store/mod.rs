//! Templates behind one trait, with a MongoDB and a SQLite implementation and one contract
//! test suite (`tests/api.rs` runs every test against each backend available).

mod mongo;
mod sqlite;

use async_trait::async_trait;

pub use mongo::{MongoSettings, MongoTemplateStore};
pub use sqlite::SqliteTemplateStore;

use crate::http::{Cursor, Direction};
use crate::model::{Template, Visibility};

pub use plangen_core::mongo::DocumentStoreError as StoreError;

/// The fields a list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Name,
    CreatedAt,
    UpdatedAt,
}

impl SortField {
    pub const NAMES: [&'static str; 3] = ["name", "createdAt", "updatedAt"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "name" => Some(Self::Name),
            "createdAt" => Some(Self::CreatedAt),
            "updatedAt" => Some(Self::UpdatedAt),
            _ => None,
        }
    }

    /// The item's value for this field, as the sortable text the cursor carries.
    pub fn key_of(self, t: &Template) -> String {
        match self {
            Self::Name => t.name.clone(),
            Self::CreatedAt => crate::http::sortable(&t.created_at),
            Self::UpdatedAt => crate::http::sortable(&t.updated_at),
        }
    }
}

/// One page request of `GET /`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The caller: they see their own templates and public ones.
    pub viewer: String,
    /// Free text over name, description and tags (any word).
    pub q: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub visibility: Option<Visibility>,
    /// Only the caller's own.
    pub owner_me: bool,
    pub sort: SortField,
    pub direction: Direction,
    /// Items strictly after this position in the sort order.
    pub after: Option<Cursor>,
    /// How many to return (the handler asks for one more to know whether a next page exists).
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryCount {
    pub name: String,
    pub count: u64,
}

#[async_trait]
pub trait TemplateStore: Send + Sync {
    /// Brings the schema (tables or indexes) up to date.
    async fn migrate(&self) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
    async fn insert(&self, template: &Template) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<Template>, StoreError>;
    /// Replaces the stored template if it is still at `expected_version`; `false` if it is not
    /// (changed or deleted meanwhile), so concurrent writers cannot overwrite each other.
    async fn replace(&self, template: &Template, expected_version: i64)
    -> Result<bool, StoreError>;
    /// Deletes it if it is still at `expected_version`; `false` if not.
    async fn delete(&self, id: &str, expected_version: i64) -> Result<bool, StoreError>;
    async fn list(&self, query: &ListQuery) -> Result<Vec<Template>, StoreError>;
    /// Categories of the templates `viewer` can see, by name, with their counts.
    async fn categories(&self, viewer: &str) -> Result<Vec<CategoryCount>, StoreError>;
}
