//! What the MongoDB stores of the plan and template services do alike with their collection of
//! versioned documents (`_id`, `version`): connect, ping, insert (409 for an id taken), get,
//! replace and delete only at the version read, find a keyset page. The mapping between a
//! service's type and its stored document, its filters and its index list are in its own words
//! and stay in the service; the keyset and index pieces they are built from are here, so both
//! services page and search the same way.

use futures::TryStreamExt as _;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Client, Collection, Database, IndexModel};

use crate::mongo::{DocumentStoreError, MongoSettings, client_options, is_duplicate_key};
use crate::rest::{Cursor, Direction};

/// One service's collection of versioned documents.
pub struct MongoDocuments {
    db: Database,
    coll: Collection<Document>,
}

impl MongoDocuments {
    /// Creates the client (`app` names it to the server); no I/O happens until the first
    /// operation (`migrate` at start).
    pub async fn connect(settings: &MongoSettings, app: &str) -> Result<Self, DocumentStoreError> {
        let client = Client::with_options(client_options(settings, app).await?)?;
        let db = client.database(&settings.database);
        let coll = db.collection::<Document>(&settings.collection);
        Ok(Self { db, coll })
    }

    /// The database, for collections kept beside the documents.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The collection itself, for what only one service does (indexes, aggregations, bulk loads).
    pub fn collection(&self) -> &Collection<Document> {
        &self.coll
    }

    pub async fn ping(&self) -> Result<(), DocumentStoreError> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    /// Inserts a stored document; an `_id` already taken is a [`DocumentStoreError::Conflict`].
    pub async fn insert(&self, doc: Document) -> Result<(), DocumentStoreError> {
        match self.coll.insert_one(doc).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(DocumentStoreError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Document>, DocumentStoreError> {
        Ok(self.coll.find_one(doc! { "_id": id }).await?)
    }

    /// Replaces document `id` with `doc` if it is still at `expected_version`; `false` if not
    /// (changed or deleted meanwhile), so concurrent writers cannot overwrite each other.
    pub async fn replace(
        &self,
        id: &str,
        expected_version: i64,
        doc: Document,
    ) -> Result<bool, DocumentStoreError> {
        let done = self
            .coll
            .replace_one(doc! { "_id": id, "version": expected_version }, doc)
            .await?;
        Ok(done.matched_count == 1)
    }

    /// Deletes document `id` if it is still at `expected_version`; `false` if not.
    pub async fn delete(
        &self,
        id: &str,
        expected_version: i64,
    ) -> Result<bool, DocumentStoreError> {
        let done = self
            .coll
            .delete_one(doc! { "_id": id, "version": expected_version })
            .await?;
        Ok(done.deleted_count == 1)
    }

    /// Every document matching `filter`.
    pub async fn find(&self, filter: Document) -> Result<Vec<Document>, DocumentStoreError> {
        Ok(self.coll.find(filter).await?.try_collect().await?)
    }

    /// At most `limit` documents matching `filter`, in the order of `sort`.
    pub async fn find_page(
        &self,
        filter: Document,
        sort: Document,
        limit: u32,
    ) -> Result<Vec<Document>, DocumentStoreError> {
        Ok(self
            .coll
            .find(filter)
            .sort(sort)
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?)
    }
}

/// Documents strictly after `after` in the order (`field`, `_id`): ties on the sort field are
/// broken by id, so no document is skipped or repeated. The MongoDB form of the SQLite
/// keyset tail, `sqlite::push_keyset_page`.
pub fn keyset_filter(field: &str, direction: Direction, after: &Cursor) -> Document {
    let cmp = match direction {
        Direction::Asc => "$gt",
        Direction::Desc => "$lt",
    };
    doc! { "$or": [
        { field: { cmp: &after.k } },
        { field: &after.k, "_id": { cmp: &after.i } },
    ] }
}

/// The order of a keyset page: `field`, ties broken by `_id`.
pub fn keyset_sort(field: &str, direction: Direction) -> Document {
    let d = match direction {
        Direction::Asc => 1,
        Direction::Desc => -1,
    };
    doc! { field: d, "_id": d }
}

/// An index with a name of ours (the generated ones change with the key order).
pub fn named_index(keys: Document, name: &str) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().name(name.to_owned()).build())
        .build()
}

/// The text index behind a list's `q`, named `search`. No stemming or stop words: a search
/// for a word finds that word, as on SQLite.
pub fn search_index(keys: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name("search".to_owned())
                .default_language("none".to_owned())
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyset_pages_continue_after_the_cursor_in_either_direction() {
        let after = Cursor {
            s: "-createdAt".into(),
            k: "K".into(),
            i: "I".into(),
        };
        assert_eq!(
            keyset_filter("createdAt", Direction::Desc, &after),
            doc! { "$or": [ { "createdAt": { "$lt": "K" } }, { "createdAt": "K", "_id": { "$lt": "I" } } ] }
        );
        assert_eq!(
            keyset_sort("name", Direction::Asc),
            doc! { "name": 1, "_id": 1 }
        );
    }

    #[test]
    fn indexes_carry_our_names() {
        let i = named_index(doc! { "ownerId": 1 }, "owner");
        assert_eq!(i.options.and_then(|o| o.name).as_deref(), Some("owner"));
        let s = search_index(doc! { "name": "text" });
        let o = s.options.unwrap();
        assert_eq!(
            (o.name.as_deref(), o.default_language.as_deref()),
            (Some("search"), Some("none"))
        );
    }
}
