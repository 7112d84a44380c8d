//! MongoDB backend through the official driver. Ids are UUID strings in `_id`; timestamps
//! are fixed-width RFC 3339 strings and dates `YYYY-MM-DD` (both sort as text), so cursors are
//! the same as on SQLite. Besides the plan, a document carries `dueMin`/`dueMax`/`recurring`
//! for schedule queries.
//!
//! The documents sent (filters, sorts, indexes) are built by pure functions, unit tested
//! below; the operations on the plans' collection are core's `MongoDocuments`. Idempotency
//! records live in `<collection>_idempotency`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{self, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use plangen_core::mongo_documents::{
    MongoDocuments, keyset_filter, keyset_sort, named_index, search_index,
};

use super::{CLAIM_TIMEOUT, Claim, ClaimRef, KEY_TTL, ListQuery, PlanStore, SortField, StoreError};
use crate::http::{Direction, sortable};
use crate::model::Plan;

pub use plangen_core::mongo::MongoSettings;

pub struct MongoPlanStore {
    plans: MongoDocuments,
    keys: Collection<Document>,
}

impl MongoPlanStore {
    /// Creates the client; no I/O happens until the first operation (`migrate` at start).
    pub async fn connect(settings: &MongoSettings) -> Result<Self, StoreError> {
        let plans = MongoDocuments::connect(settings, "plangen-plan").await?;
        let keys = plans
            .database()
            .collection::<Document>(&format!("{}_idempotency", settings.collection));
        Ok(Self { plans, keys })
    }
}

pub(crate) fn field(sort: SortField) -> &'static str {
    match sort {
        SortField::Title => "title",
        SortField::StartDate => "startDate",
        SortField::CreatedAt => "createdAt",
        SortField::UpdatedAt => "updatedAt",
    }
}

/// Owner + each sort key, owner + schedule bounds, and the text index behind `q`. `_id` is
/// unique by itself; the `_id` tie-breaker is left out of compound keys (nx-27017 rejects
/// inserts into indexes naming `_id`), ties are sorted in memory.
pub(crate) fn plan_indexes() -> Vec<IndexModel> {
    vec![
        named_index(doc! { "ownerId": 1, "createdAt": -1 }, "owner_createdAt"),
        named_index(doc! { "ownerId": 1, "updatedAt": -1 }, "owner_updatedAt"),
        named_index(doc! { "ownerId": 1, "title": 1 }, "owner_title"),
        named_index(doc! { "ownerId": 1, "startDate": 1 }, "owner_startDate"),
        named_index(doc! { "ownerId": 1, "dueMax": 1 }, "owner_dueMax"),
        search_index(doc! { "title": "text", "description": "text", "tags": "text" }),
    ]
}

/// Idempotency records expire through a TTL index on a BSON date (MongoDB's own cleanup);
/// the code checks expiry itself too, since the TTL monitor runs once a minute.
pub(crate) fn key_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "expireAt": 1 })
            .options(
                IndexOptions::builder()
                    .name("ttl".to_owned())
                    .expire_after(Duration::ZERO)
                    .build(),
            )
            .build(),
    ]
}

pub(crate) fn list_filter(q: &ListQuery) -> Document {
    let mut and = vec![doc! { "ownerId": &q.owner }];
    if let Some(s) = q.status {
        and.push(doc! { "status": s.as_str() });
    }
    if let Some(t) = &q.tag {
        and.push(doc! { "tags": t });
    }
    if let Some(to) = &q.to {
        and.push(doc! { "startDate": { "$lte": to } });
    }
    if let Some(from) = &q.from {
        and.push(doc! { "$or": [
            { "endDate": { "$gte": from } },
            { "endDate": null, "startDate": { "$gte": from } },
        ] });
    }
    if let Some(c) = &q.after {
        and.push(keyset_filter(field(q.sort), q.direction, c));
    }
    let mut filter = doc! { "$and": and };
    if let Some(text) = &q.q {
        filter.insert("$text", doc! { "$search": text });
    }
    filter
}

pub(crate) fn list_sort(sort: SortField, direction: Direction) -> Document {
    keyset_sort(field(sort), direction)
}

/// Conditions go inside `$and` rather than beside `$or` at the top level: the same query to
/// MongoDB, and nx-27017 mis-evaluates the top-level form (it returned other owners' plans).
pub(crate) fn schedule_filter(owner: &str, from: &str, to: &str) -> Document {
    doc! { "$and": [
        { "ownerId": owner },
        { "$or": [
            { "recurring": true },
            { "dueMax": { "$gte": from }, "dueMin": { "$lt": to } },
        ] },
    ] }
}

/// The stored document: the plan with its id as `_id`, plus schedule fields.
pub(crate) fn to_doc(p: &Plan) -> Result<Document, StoreError> {
    let mut out = plangen_core::mongo::to_doc(p).map_err(StoreError::Corrupt)?;
    let (due_min, due_max) = p.due_bounds();
    out.insert("dueMin", due_min);
    out.insert("dueMax", due_max);
    out.insert("recurring", p.recurrence.is_some());
    Ok(out)
}

pub(crate) fn from_doc(d: Document) -> Result<Plan, StoreError> {
    plangen_core::mongo::from_doc(d).map_err(StoreError::Corrupt)
}

/// One record per owner and key; the owner's length makes the id unambiguous.
pub(crate) fn key_id(owner: &str, key: &str) -> String {
    format!("{}:{owner}{key}", owner.len())
}

#[async_trait]
impl PlanStore for MongoPlanStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.plans
            .collection()
            .create_indexes(plan_indexes())
            .await?;
        self.keys.create_indexes(key_indexes()).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.plans.ping().await
    }

    async fn insert(&self, p: &Plan) -> Result<(), StoreError> {
        self.plans.insert(to_doc(p)?).await
    }

    async fn insert_many(&self, plans: &[Plan]) -> Result<(), StoreError> {
        if plans.is_empty() {
            return Ok(());
        }
        let docs = plans.iter().map(to_doc).collect::<Result<Vec<_>, _>>()?;
        self.plans.collection().insert_many(docs).await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Plan>, StoreError> {
        self.plans.get(id).await?.map(from_doc).transpose()
    }

    async fn replace(&self, p: &Plan, expected_version: i64) -> Result<bool, StoreError> {
        self.plans
            .replace(&p.id, expected_version, to_doc(p)?)
            .await
    }

    async fn delete(&self, id: &str, expected_version: i64) -> Result<bool, StoreError> {
        self.plans.delete(id, expected_version).await
    }

    async fn list(&self, q: &ListQuery) -> Result<Vec<Plan>, StoreError> {
        let docs = self
            .plans
            .find_page(list_filter(q), list_sort(q.sort, q.direction), q.limit)
            .await?;
        docs.into_iter().map(from_doc).collect()
    }

    async fn schedule_candidates(
        &self,
        owner: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Plan>, StoreError> {
        let docs = self.plans.find(schedule_filter(owner, from, to)).await?;
        docs.into_iter().map(from_doc).collect()
    }

    async fn claim_key(
        &self,
        owner: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let id = key_id(owner, key);
        // Forget an expired record or a claim abandoned by a crashed request.
        self.keys
            .delete_one(doc! { "$and": [
                { "_id": &id },
                { "$or": [
                    { "expiresAt": { "$lt": sortable(&now) } },
                    {
                        "response": null,
                        "createdAt": { "$lt": sortable(&(now - CLAIM_TIMEOUT)) },
                        "requestHash": request_hash,
                    },
                ] },
            ] })
            .await?;
        let record = doc! {
            "_id": &id,
            "requestHash": request_hash,
            "response": null,
            "createdAt": sortable(&now),
            "expiresAt": sortable(&(now + KEY_TTL)),
            "expireAt": bson::DateTime::from_millis((now + KEY_TTL).timestamp_millis()),
        };
        match self.keys.insert_one(record).await {
            Ok(_) => return Ok(Claim::New),
            Err(e) if plangen_core::mongo::is_duplicate_key(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(found) = self.keys.find_one(doc! { "_id": &id }).await? else {
            // Deleted between our insert and read: the key is free again; let the client retry.
            return Ok(Claim::InProgress);
        };
        if found.get_str("requestHash").ok() != Some(request_hash) {
            return Ok(Claim::Mismatch);
        }
        Ok(match found.get_str("response") {
            Ok(r) => Claim::Done(r.to_owned()),
            Err(_) => Claim::InProgress,
        })
    }

    async fn complete_key(&self, claim: &ClaimRef, response: &str) -> Result<(), StoreError> {
        self.keys
            .update_one(
                claim_filter(claim),
                doc! { "$set": { "response": response } },
            )
            .await?;
        Ok(())
    }

    async fn abandon_key(&self, claim: &ClaimRef) -> Result<(), StoreError> {
        self.keys
            .update_one(
                unfinished_claim_filter(claim),
                doc! { "$set": { "createdAt": sortable(&super::ABANDONED_AT) } },
            )
            .await?;
        Ok(())
    }

    async fn release_key(&self, claim: &ClaimRef) -> Result<(), StoreError> {
        self.keys.delete_one(unfinished_claim_filter(claim)).await?;
        Ok(())
    }
}

/// `claim`'s idempotency record, and no later claim on the same key.
fn claim_filter(claim: &ClaimRef) -> Document {
    doc! {
        "_id": key_id(&claim.owner, &claim.key),
        "createdAt": sortable(&claim.claimed_at),
    }
}

/// `claim`'s record while it has no response recorded.
fn unfinished_claim_filter(claim: &ClaimRef) -> Document {
    let mut filter = claim_filter(claim);
    filter.insert("response", bson::Bson::Null);
    filter
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Cursor;
    use crate::model::Status;

    fn query() -> ListQuery {
        ListQuery {
            owner: "u1".into(),
            q: None,
            status: None,
            tag: None,
            from: None,
            to: None,
            sort: SortField::CreatedAt,
            direction: Direction::Desc,
            after: None,
            limit: 21,
        }
    }

    #[test]
    fn list_filters_are_owner_scoped_and_combine() {
        assert_eq!(
            list_filter(&query()),
            doc! { "$and": [ { "ownerId": "u1" } ] }
        );
        let q = ListQuery {
            q: Some("garden".into()),
            status: Some(Status::Draft),
            tag: Some("home".into()),
            from: Some("2026-03-01".into()),
            to: Some("2026-03-31".into()),
            sort: SortField::StartDate,
            direction: Direction::Asc,
            after: Some(Cursor {
                s: "startDate".into(),
                k: "2026-03-05".into(),
                i: "p9".into(),
            }),
            ..query()
        };
        assert_eq!(
            list_filter(&q),
            doc! {
                "$and": [
                    { "ownerId": "u1" },
                    { "status": "draft" },
                    { "tags": "home" },
                    { "startDate": { "$lte": "2026-03-31" } },
                    { "$or": [ { "endDate": { "$gte": "2026-03-01" } }, { "endDate": null, "startDate": { "$gte": "2026-03-01" } } ] },
                    { "$or": [ { "startDate": { "$gt": "2026-03-05" } }, { "startDate": "2026-03-05", "_id": { "$gt": "p9" } } ] },
                ],
                "$text": { "$search": "garden" },
            }
        );
        assert_eq!(
            list_sort(SortField::Title, Direction::Desc),
            doc! { "title": -1, "_id": -1 }
        );
    }

    #[test]
    fn schedule_candidates_are_recurring_or_due_in_range() {
        assert_eq!(
            schedule_filter("u1", "A", "B"),
            doc! { "$and": [ { "ownerId": "u1" }, { "$or": [ { "recurring": true }, { "dueMax": { "$gte": "A" }, "dueMin": { "$lt": "B" } } ] } ] }
        );
    }

    #[test]
    fn indexes_and_key_ids() {
        let keys: Vec<Document> = plan_indexes().into_iter().map(|m| m.keys).collect();
        assert!(keys.contains(&doc! { "ownerId": 1, "startDate": 1 }));
        assert!(keys.contains(&doc! { "title": "text", "description": "text", "tags": "text" }));
        let ttl = &key_indexes()[0];
        assert_eq!(ttl.keys, doc! { "expireAt": 1 });
        assert_eq!(
            ttl.options.as_ref().and_then(|o| o.expire_after),
            Some(Duration::ZERO)
        );
        assert_ne!(key_id("ab", "c"), key_id("a", "bc"));
    }
}
