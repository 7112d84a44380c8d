//! MongoDB backend through the official driver. Ids are UUIDv7 strings in `_id`, timestamps
//! fixed-width RFC 3339 strings (they sort as time), so cursors match the SQLite backend's.
//!
//! The documents sent (filters, sorts, pipelines, indexes) are built by pure functions, unit
//! tested below; the operations on the collection are core's `MongoDocuments`.

use async_trait::async_trait;
use futures::TryStreamExt as _;
use mongodb::IndexModel;
use mongodb::bson::{Bson, Document, doc};
use plangen_core::mongo_documents::{
    MongoDocuments, keyset_filter, keyset_sort, named_index, search_index,
};

use super::{CategoryCount, ListQuery, SortField, StoreError, TemplateStore};
use crate::http::Direction;
use crate::model::Template;

pub use plangen_core::mongo::MongoSettings;

pub struct MongoTemplateStore {
    docs: MongoDocuments,
}

impl MongoTemplateStore {
    /// Creates the client; no I/O happens until the first operation (`migrate` at start).
    pub async fn connect(settings: &MongoSettings) -> Result<Self, StoreError> {
        Ok(Self {
            docs: MongoDocuments::connect(settings, "plangen-template").await?,
        })
    }
}

pub(crate) fn field(sort: SortField) -> &'static str {
    match sort {
        SortField::Name => "name",
        SortField::CreatedAt => "createdAt",
        SortField::UpdatedAt => "updatedAt",
    }
}

/// The indexes created at start: owner + each sort key, public + newest, the filters, and the
/// text index behind `q`. `_id` is unique by itself. The sort's `_id` tie-breaker is left out
/// of the compound keys (nx-27017 rejects inserts into indexes naming `_id`); ties on one
/// timestamp are rare, so MongoDB sorts them in memory.
pub(crate) fn index_models() -> Vec<IndexModel> {
    vec![
        named_index(doc! { "ownerId": 1, "createdAt": -1 }, "owner_createdAt"),
        named_index(doc! { "ownerId": 1, "updatedAt": -1 }, "owner_updatedAt"),
        named_index(doc! { "ownerId": 1, "name": 1 }, "owner_name"),
        named_index(
            doc! { "visibility": 1, "createdAt": -1 },
            "visibility_createdAt",
        ),
        named_index(doc! { "category": 1 }, "category"),
        named_index(doc! { "tags": 1 }, "tags"),
        search_index(doc! { "name": "text", "description": "text", "tags": "text" }),
    ]
}

fn visible(viewer: &str, owner_only: bool) -> Document {
    if owner_only {
        doc! { "ownerId": viewer }
    } else {
        doc! { "$or": [ { "ownerId": viewer }, { "visibility": "public" } ] }
    }
}

pub(crate) fn list_filter(q: &ListQuery) -> Document {
    let mut and = vec![visible(&q.viewer, q.owner_me)];
    if let Some(c) = &q.category {
        and.push(doc! { "category": c });
    }
    if let Some(v) = q.visibility {
        and.push(doc! { "visibility": v.as_str() });
    }
    if let Some(t) = &q.tag {
        and.push(doc! { "tags": t });
    }
    if let Some(c) = &q.after {
        and.push(keyset_filter(field(q.sort), q.direction, c));
    }
    let mut filter = doc! { "$and": and };
    if let Some(text) = &q.q {
        // $text must sit at the top level; its words are OR-ed, case-insensitively.
        filter.insert("$text", doc! { "$search": text });
    }
    filter
}

pub(crate) fn list_sort(sort: SortField, direction: Direction) -> Document {
    keyset_sort(field(sort), direction)
}

pub(crate) fn categories_pipeline(viewer: &str) -> Vec<Document> {
    vec![
        doc! { "$match": visible(viewer, false) },
        doc! { "$group": { "_id": "$category", "count": { "$sum": 1 } } },
        doc! { "$sort": { "_id": 1 } },
    ]
}

/// The stored document: the template with its id as `_id`.
pub(crate) fn to_doc(t: &Template) -> Result<Document, StoreError> {
    plangen_core::mongo::to_doc(t).map_err(StoreError::Corrupt)
}

pub(crate) fn from_doc(d: Document) -> Result<Template, StoreError> {
    plangen_core::mongo::from_doc(d).map_err(StoreError::Corrupt)
}

#[async_trait]
impl TemplateStore for MongoTemplateStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.docs
            .collection()
            .create_indexes(index_models())
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.docs.ping().await
    }

    async fn insert(&self, t: &Template) -> Result<(), StoreError> {
        self.docs.insert(to_doc(t)?).await
    }

    async fn get(&self, id: &str) -> Result<Option<Template>, StoreError> {
        self.docs.get(id).await?.map(from_doc).transpose()
    }

    async fn replace(&self, t: &Template, expected_version: i64) -> Result<bool, StoreError> {
        self.docs.replace(&t.id, expected_version, to_doc(t)?).await
    }

    async fn delete(&self, id: &str, expected_version: i64) -> Result<bool, StoreError> {
        self.docs.delete(id, expected_version).await
    }

    async fn list(&self, q: &ListQuery) -> Result<Vec<Template>, StoreError> {
        let docs = self
            .docs
            .find_page(list_filter(q), list_sort(q.sort, q.direction), q.limit)
            .await?;
        docs.into_iter().map(from_doc).collect()
    }

    async fn categories(&self, viewer: &str) -> Result<Vec<CategoryCount>, StoreError> {
        let cursor = self
            .docs
            .collection()
            .aggregate(categories_pipeline(viewer))
            .await?;
        let docs: Vec<Document> = cursor.try_collect().await?;
        docs.iter()
            .map(|d| {
                let name = d
                    .get_str("_id")
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let count = match d.get("count") {
                    Some(Bson::Int32(n)) => i64::from(*n),
                    Some(Bson::Int64(n)) => *n,
                    Some(Bson::Double(n)) => *n as i64,
                    _ => return Err(StoreError::Corrupt("count is not a number".into())),
                };
                Ok(CategoryCount {
                    name: name.to_owned(),
                    count: count.max(0) as u64,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Cursor;
    use crate::model::{Step, Visibility};

    fn query() -> ListQuery {
        ListQuery {
            viewer: "u1".into(),
            q: None,
            category: None,
            tag: None,
            visibility: None,
            owner_me: false,
            sort: SortField::CreatedAt,
            direction: Direction::Desc,
            after: None,
            limit: 21,
        }
    }

    #[test]
    fn the_plain_list_filter_is_own_or_public() {
        assert_eq!(
            list_filter(&query()),
            doc! { "$and": [ { "$or": [ { "ownerId": "u1" }, { "visibility": "public" } ] } ] }
        );
    }

    #[test]
    fn every_filter_and_the_cursor_land_in_the_filter_document() {
        let q = ListQuery {
            q: Some("run fast".into()),
            category: Some("Health".into()),
            tag: Some("fit".into()),
            visibility: Some(Visibility::Public),
            owner_me: true,
            sort: SortField::Name,
            direction: Direction::Asc,
            after: Some(Cursor {
                s: "name".into(),
                k: "M".into(),
                i: "id9".into(),
            }),
            ..query()
        };
        assert_eq!(
            list_filter(&q),
            doc! {
                "$and": [
                    { "ownerId": "u1" },
                    { "category": "Health" },
                    { "visibility": "public" },
                    { "tags": "fit" },
                    { "$or": [ { "name": { "$gt": "M" } }, { "name": "M", "_id": { "$gt": "id9" } } ] },
                ],
                "$text": { "$search": "run fast" },
            }
        );
        assert_eq!(
            list_sort(SortField::UpdatedAt, Direction::Desc),
            doc! { "updatedAt": -1, "_id": -1 }
        );
    }

    #[test]
    fn categories_are_grouped_over_visible_templates() {
        assert_eq!(
            categories_pipeline("u1"),
            vec![
                doc! { "$match": { "$or": [ { "ownerId": "u1" }, { "visibility": "public" } ] } },
                doc! { "$group": { "_id": "$category", "count": { "$sum": 1 } } },
                doc! { "$sort": { "_id": 1 } },
            ]
        );
    }

    #[test]
    fn indexes_cover_owner_sorts_and_text_search() {
        let keys: Vec<Document> = index_models().into_iter().map(|m| m.keys).collect();
        assert!(keys.contains(&doc! { "ownerId": 1, "createdAt": -1 }));
        assert!(keys.contains(&doc! { "ownerId": 1, "name": 1 }));
        assert!(keys.contains(&doc! { "name": "text", "description": "text", "tags": "text" }));
    }

    #[test]
    fn documents_keep_the_id_in_underscore_id_and_round_trip() {
        let now = crate::http::now();
        let t = Template {
            id: "0192-x".into(),
            owner_id: "u1".into(),
            name: "n".into(),
            description: String::new(),
            category: "c".into(),
            tags: vec!["a".into()],
            visibility: Visibility::Public,
            steps: vec![Step {
                title: "s".into(),
                notes: None,
                offset_days: -2,
                time_of_day: Some("08:30".into()),
                duration_minutes: Some(30),
            }],
            version: 3,
            created_at: now,
            updated_at: now,
        };
        let d = to_doc(&t).unwrap();
        assert_eq!(d.get_str("_id").unwrap(), "0192-x");
        assert!(!d.contains_key("id"));
        assert_eq!(d.get_str("createdAt").unwrap(), crate::http::sortable(&now));
        assert_eq!(from_doc(d).unwrap(), t);
    }
}
