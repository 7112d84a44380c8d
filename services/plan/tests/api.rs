//! The plan API over real HTTP, against every backend available (the store contract).

mod common;

use std::collections::HashSet;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn create_read_replace_delete_with_etags_and_if_match() {
    for h in harnesses().await {
        let b = h.backend;
        let res = h.post("", "ada", &plan("Spring cleaning")).await;
        assert_eq!(res.status(), 201, "[{b}]");
        assert_eq!(res.headers()["etag"], "\"1\"");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = res.json().await.unwrap();
        let id = created["id"].as_str().unwrap();
        assert_eq!(location, format!("/api/plans/{id}"));
        assert_eq!(created["ownerId"], "ada");
        assert_eq!(created["status"], "active", "default status");
        assert_eq!(created["priority"], "medium", "default priority");
        assert_eq!(created["endDate"], Value::Null);
        assert_eq!(created["templateId"], Value::Null);
        assert_eq!(created["items"][0]["dueAt"], "2026-03-02T08:00:00.000000Z");
        assert_eq!(created["items"][1]["position"], 1);
        let res = h.get(&format!("/{id}"), "ada").await;
        assert_eq!(res.headers()["etag"], "\"1\"");
        assert_eq!(res.json::<Value>().await.unwrap(), created, "[{b}]");

        // The SPA sends items back with their ids (and doneAt): they survive, in the new order.
        let first = created["items"][0].clone();
        let second = created["items"][1].clone();
        let body = json!({
            "title": "Spring cleaning, again", "startDate": "2026-03-01", "endDate": "2026-03-31",
            "timezone": "Europe/Berlin", "status": "draft", "priority": "high",
            "items": [
                { "id": second["id"], "title": "Second, now first", "doneAt": "2026-03-01T10:00:00Z" },
                { "id": first["id"], "title": "First", "dueAt": first["dueAt"] },
                { "title": "Brand new" }
            ]
        });
        let res = h.put(id, "ada", Some("\"1\""), &body).await;
        assert_eq!(res.status(), 200, "[{b}]");
        assert_eq!(res.headers()["etag"], "\"2\"");
        let updated: Value = res.json().await.unwrap();
        assert_eq!(updated["items"][0]["id"], second["id"]);
        assert_eq!(updated["items"][0]["position"], 0);
        assert_eq!(updated["items"][0]["doneAt"], "2026-03-01T10:00:00.000000Z");
        assert_eq!(updated["items"][1]["id"], first["id"]);
        assert_eq!(updated["items"][2]["position"], 2);
        assert_eq!(updated["status"], "draft");
        assert_eq!(updated["createdAt"], created["createdAt"]);

        let res = h.put(id, "ada", Some("\"1\""), &plan("Lost update")).await;
        assert_problem(res, 412, "precondition-failed").await;
        let res = h.delete(id, "ada", Some("\"1\"")).await;
        assert_problem(res, 412, "precondition-failed").await;
        assert_eq!(h.get_json(&format!("/{id}"), "ada").await["version"], 2);
        assert_eq!(
            h.delete(id, "ada", Some("\"2\"")).await.status(),
            204,
            "[{b}]"
        );
        assert_problem(h.get(&format!("/{id}"), "ada").await, 404, "not-found").await;
    }
}

#[tokio::test]
async fn plans_are_invisible_and_untouchable_to_others() {
    for h in harnesses().await {
        let p = h.create("ada", plan("Private")).await;
        let id = p["id"].as_str().unwrap();
        let item = p["items"][0]["id"].as_str().unwrap();
        assert_problem(h.get(&format!("/{id}"), "bob").await, 404, "not-found").await;
        assert_problem(
            h.get(&format!("/{id}/calendar.ics"), "bob").await,
            404,
            "not-found",
        )
        .await;
        assert_problem(
            h.put(id, "bob", None, &plan("Mine")).await,
            404,
            "not-found",
        )
        .await;
        assert_problem(
            h.patch_item(id, item, "bob", None, &json!({"done": true}))
                .await,
            404,
            "not-found",
        )
        .await;
        assert_problem(h.delete(id, "bob", None).await, 404, "not-found").await;
        assert_eq!(h.count("bob").await, 0, "[{}]", h.backend);
        assert_eq!(h.get_json(&format!("/{id}"), "ada").await["version"], 1);
    }
}

#[tokio::test]
async fn items_are_marked_done_retitled_and_moved() {
    for h in harnesses().await {
        let b = h.backend;
        let mut body = plan("Items");
        body["items"] = json!([{"title": "a"}, {"title": "b"}, {"title": "c"}]);
        let p = h.create("ada", body).await;
        let id = p["id"].as_str().unwrap();
        let ids: Vec<String> = p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();

        let res = h
            .patch_item(id, &ids[0], "ada", Some("\"1\""), &json!({"done": true}))
            .await;
        assert_eq!(res.status(), 200, "[{b}]");
        assert_eq!(res.headers()["etag"], "\"2\"");
        let p: Value = res.json().await.unwrap();
        let done_at = p["items"][0]["doneAt"].as_str().unwrap().to_owned();
        // Marking it done again keeps the first time.
        let p: Value = h
            .patch_item(id, &ids[0], "ada", None, &json!({"done": true}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["items"][0]["doneAt"], done_at.as_str());

        let p: Value = h
            .patch_item(
                id,
                &ids[2],
                "ada",
                None,
                &json!({"position": 0, "title": "  c!  "}),
            )
            .await
            .json()
            .await
            .unwrap();
        let order: Vec<&str> = p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["c!", "a", "b"], "[{b}]");
        let positions: Vec<i64> = p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["position"].as_i64().unwrap())
            .collect();
        assert_eq!(positions, [0, 1, 2]);
        let p: Value = h
            .patch_item(id, &ids[0], "ada", None, &json!({"done": false}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["items"][1]["doneAt"], Value::Null);
        assert_eq!(p["version"], 5);

        let res = h
            .patch_item(id, &ids[0], "ada", Some("\"4\""), &json!({"done": true}))
            .await;
        assert_problem(res, 412, "precondition-failed").await;
        let res = h
            .patch_item(id, "no-such-item", "ada", None, &json!({"done": true}))
            .await;
        assert_problem(res, 404, "not-found").await;
        let p = assert_problem(
            h.patch_item(id, &ids[0], "ada", None, &json!({"position": 3}))
                .await,
            422,
            "validation",
        )
        .await;
        assert_eq!(fields(&p), ["position"]);
        let p = assert_problem(
            h.patch_item(id, &ids[0], "ada", None, &json!({})).await,
            422,
            "validation",
        )
        .await;
        assert_eq!(fields(&p), [""]);
        let p = assert_problem(
            h.patch_item(id, &ids[0], "ada", None, &json!({"title": ""}))
                .await,
            422,
            "validation",
        )
        .await;
        assert_eq!(fields(&p), ["title"]);
        let p = assert_problem(
            h.patch_item(id, &ids[0], "ada", None, &json!({"done": "yes"}))
                .await,
            422,
            "validation",
        )
        .await;
        assert_eq!(fields(&p), ["done"]);
    }
}

fn titles(page: &Value) -> Vec<String> {
    let mut t: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn filters_search_and_date_ranges() {
    for h in harnesses().await {
        let b = h.backend;
        let mk = |title: &str,
                  desc: &str,
                  status: &str,
                  tags: &[&str],
                  start: &str,
                  end: Option<&str>| {
            json!({"title": title, "description": desc, "status": status, "tags": tags,
                   "startDate": start, "endDate": end, "timezone": "UTC"})
        };
        h.create(
            "ada",
            mk(
                "Garden",
                "Plant tulips",
                "active",
                &["home", "outdoor"],
                "2026-03-01",
                Some("2026-03-31"),
            ),
        )
        .await;
        h.create(
            "ada",
            mk(
                "Taxes",
                "Forms and receipts",
                "draft",
                &["admin"],
                "2026-04-10",
                None,
            ),
        )
        .await;
        h.create(
            "ada",
            mk(
                "Trip",
                "Pack the tent",
                "completed",
                &["outdoor"],
                "2026-05-01",
                Some("2026-05-03"),
            ),
        )
        .await;
        h.create(
            "bob",
            mk(
                "Bob's garden",
                "tulips too",
                "active",
                &["outdoor"],
                "2026-03-01",
                None,
            ),
        )
        .await;

        assert_eq!(
            titles(&h.get_json("", "ada").await),
            ["Garden", "Taxes", "Trip"],
            "[{b}]"
        );
        assert_eq!(titles(&h.get_json("?status=draft", "ada").await), ["Taxes"]);
        assert_eq!(
            titles(&h.get_json("?tag=outdoor", "ada").await),
            ["Garden", "Trip"],
            "[{b}]"
        );
        assert_eq!(
            titles(&h.get_json("?q=tulips", "ada").await),
            ["Garden"],
            "[{b}]"
        );
        assert_eq!(
            titles(&h.get_json("?q=RECEIPTS", "ada").await),
            ["Taxes"],
            "[{b}]"
        );
        assert_eq!(
            titles(&h.get_json("?q=admin", "ada").await),
            ["Taxes"],
            "[{b}] tags are searched"
        );
        // A plan is in range when its span (or its start day) touches it.
        assert_eq!(
            titles(&h.get_json("?from=2026-03-15&to=2026-04-10", "ada").await),
            ["Garden", "Taxes"],
            "[{b}]"
        );
        assert_eq!(
            titles(&h.get_json("?from=2026-04-11", "ada").await),
            ["Trip"],
            "[{b}]"
        );
        assert_eq!(
            titles(&h.get_json("?to=2026-03-01", "ada").await),
            ["Garden"],
            "[{b}]"
        );
        assert_eq!(
            titles(
                &h.get_json("?from=2026-05-03&tag=outdoor&status=completed", "ada")
                    .await
            ),
            ["Trip"]
        );

        let by_start = h.get_json("?sort=-startDate", "ada").await;
        let order: Vec<&str> = by_start["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["Trip", "Taxes", "Garden"], "[{b}]");
        let by_title = h.get_json("?sort=title", "ada").await;
        let order: Vec<&str> = by_title["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["Garden", "Taxes", "Trip"], "[{b}]");
    }
}

#[tokio::test]
async fn pages_have_no_duplicates_or_gaps_while_plans_are_inserted() {
    for h in harnesses().await {
        let b = h.backend;
        let mut initial = HashSet::new();
        for i in 0..22 {
            let mut body = plan(&format!("P{}", i % 3));
            body["startDate"] = json!(format!("2026-01-{:02}", 1 + i % 5));
            initial.insert(
                h.create("ada", body).await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        for query in [
            "limit=5",
            "limit=6&sort=title",
            "limit=4&sort=-startDate",
            "limit=7&sort=updatedAt",
        ] {
            let mut seen = Vec::new();
            let mut path = format!("?{query}");
            for n in 0.. {
                assert!(n < 30, "[{b}] {query}: pagination does not end");
                let res = h.get(&path, "ada").await;
                assert_eq!(res.status(), 200, "[{b}] {path}");
                let link = res
                    .headers()
                    .get("link")
                    .map(|l| l.to_str().unwrap().to_owned());
                let page: Value = res.json().await.unwrap();
                seen.extend(
                    page["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["id"].as_str().unwrap().to_owned()),
                );
                let Some(cursor) = page["nextCursor"].as_str() else {
                    break;
                };
                let link = link.expect("Link header");
                assert!(
                    link.contains(&format!("cursor={cursor}")) && link.ends_with("; rel=\"next\""),
                    "{link}"
                );
                h.create("ada", plan(&format!("Inserted {n}"))).await;
                path = format!("?{query}&cursor={cursor}");
            }
            let unique: HashSet<_> = seen.iter().cloned().collect();
            assert_eq!(unique.len(), seen.len(), "[{b}] {query}: duplicates");
            assert!(initial.is_subset(&unique), "[{b}] {query}: gaps");
        }
    }
}

#[tokio::test]
async fn an_idempotency_key_makes_one_plan_however_often_it_is_sent() {
    for h in harnesses().await {
        let b = h.backend;
        let send = |body: Value, key: &'static str| {
            h.req(Method::POST, "", "ada")
                .header("idempotency-key", key)
                .json(&body)
                .send()
        };
        let first = send(plan("Once"), "key-1").await.unwrap();
        assert_eq!(first.status(), 201, "[{b}]");
        let first: Value = first.json().await.unwrap();
        let again = send(plan("Once"), "key-1").await.unwrap();
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(
            again.json::<Value>().await.unwrap(),
            first,
            "[{b}] the first result"
        );
        assert_eq!(h.count("ada").await, 1, "[{b}]");

        // Concurrent retries: still one plan.
        let results = futures::future::join_all((0..5).map(|_| send(plan("Racy"), "key-2"))).await;
        let ok = results
            .iter()
            .filter(|r| r.as_ref().unwrap().status() == 201)
            .count();
        assert!(ok >= 1, "[{b}]");
        for r in results {
            let s = r.unwrap().status().as_u16();
            assert!(s == 201 || s == 409, "[{b}] {s}");
        }
        assert_eq!(h.count("ada").await, 2, "[{b}]");

        let p = assert_problem(
            send(plan("Different"), "key-1").await.unwrap(),
            422,
            "validation",
        )
        .await;
        assert_eq!(fields(&p), ["Idempotency-Key"]);
        // Keys are per user: bob's key-1 is his own.
        let res = h
            .req(Method::POST, "", "bob")
            .header("idempotency-key", "key-1")
            .json(&plan("Once"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        assert_ne!(res.json::<Value>().await.unwrap()["id"], first["id"]);
        // A refused request does not use up its key.
        let mut bad = plan("Bad");
        bad["timezone"] = json!("Mars/Olympus");
        assert_problem(send(bad, "key-3").await.unwrap(), 422, "validation").await;
        assert_eq!(send(plan("Good"), "key-3").await.unwrap().status(), 201);
    }
}

/// Puts every idempotency record of `h`'s (fresh) store back to where an attempt leaves it
/// when it is cut off (a timeout, a crash) after writing its plan but before recording its
/// answer, and long enough ago for the claim to be taken over.
async fn rewind_to_an_attempt_cut_off_after_its_write(h: &Harness) {
    let long_ago =
        plangen_core::rest::sortable(&(chrono::Utc::now() - chrono::Duration::minutes(2)));
    match &h.state.config.database {
        plangen_plan::Database::Sqlite(path) => {
            use sqlx::Connection;
            let url = format!("sqlite:{}", path.display());
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let rewound =
                sqlx::query("UPDATE plan_idempotency SET response = NULL, created_at = $1")
                    .bind(&long_ago)
                    .execute(&mut db)
                    .await
                    .unwrap();
            assert_eq!(rewound.rows_affected(), 1);
        }
        plangen_plan::Database::Mongo(m) => {
            let client = mongodb::Client::with_uri_str(&m.url).await.unwrap();
            let keys = client
                .database(&m.database)
                .collection::<mongodb::bson::Document>(&format!("{}_idempotency", m.collection));
            let rewound = keys
                .update_many(
                    mongodb::bson::doc! {},
                    mongodb::bson::doc! { "$set": { "response": null, "createdAt": &long_ago } },
                )
                .await
                .unwrap();
            assert_eq!(rewound.modified_count, 1);
        }
    }
}

#[tokio::test]
async fn a_retry_after_an_attempt_cut_off_after_its_write_finds_that_plan_instead_of_making_another()
 {
    for h in harnesses().await {
        let b = h.backend;
        let send = || {
            h.req(Method::POST, "", "ada")
                .header("idempotency-key", "cut-off")
                .json(&plan("Once"))
                .send()
        };
        let first = send().await.unwrap();
        assert_eq!(first.status(), 201, "[{b}]");
        let first: Value = first.json().await.unwrap();
        rewind_to_an_attempt_cut_off_after_its_write(&h).await;

        // The claim is taken over; the retry's plan would have the same id, which is taken:
        // it is that plan.
        let retry = send().await.unwrap();
        assert_eq!(retry.status(), 201, "[{b}]");
        assert_eq!(retry.headers()["idempotent-replayed"], "true", "[{b}]");
        let retry: Value = retry.json().await.unwrap();
        assert_eq!(retry["id"], first["id"], "[{b}]");
        assert_eq!(h.count("ada").await, 1, "[{b}] one plan, not two");
        // And the answer is recorded now: the next retry is a plain replay.
        let again = send().await.unwrap();
        assert_eq!(again.headers()["idempotent-replayed"], "true", "[{b}]");
        assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);

        // The same key and body from another user, or another body under a new key, make
        // plans of their own.
        let bob = h
            .req(Method::POST, "", "bob")
            .header("idempotency-key", "cut-off")
            .json(&plan("Once"))
            .send()
            .await
            .unwrap();
        assert_eq!(bob.status(), 201, "[{b}]");
        assert_ne!(bob.json::<Value>().await.unwrap()["id"], first["id"]);
        let other = h
            .req(Method::POST, "", "ada")
            .header("idempotency-key", "another")
            .json(&plan("Once"))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 201, "[{b}]");
        assert_eq!(h.count("ada").await, 2, "[{b}]");
    }
}

/// Recording the answer fails after the plan was written (here the real SQLite file refuses
/// the update): the claim is left to the same request, so the client's immediate retry finds
/// that plan and replays it — not a 409 until the claim times out, and not a second plan —
/// while another body under the key is still a 422.
#[tokio::test]
async fn a_retry_after_the_answer_could_not_be_recorded_replays_the_plan_at_once() {
    use sqlx::Connection;
    let h = sqlite_harness(&Options::default()).await;
    let plangen_plan::Database::Sqlite(path) = &h.state.config.database else {
        unreachable!("a SQLite harness")
    };
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let send = || {
        h.req(Method::POST, "", "ada")
            .header("idempotency-key", "unrecorded")
            .json(&plan("Once"))
            .send()
    };
    sqlx::query(
        "CREATE TRIGGER refuse_answers BEFORE UPDATE OF response ON plan_idempotency \
         BEGIN SELECT RAISE(ABORT, 'answers refused'); END",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201, "the plan was made");
    let first: Value = first.json().await.unwrap();
    sqlx::query("DROP TRIGGER refuse_answers")
        .execute(&mut db)
        .await
        .unwrap();
    // Another request under the key is still refused: the claim kept its request's hash.
    let other = h
        .req(Method::POST, "", "ada")
        .header("idempotency-key", "unrecorded")
        .json(&plan("Another"))
        .send()
        .await
        .unwrap();
    assert_problem(other, 422, "validation").await;

    let retry = send().await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(h.count("ada").await, 1, "one plan, not two");
    let again = send().await.unwrap();
    assert_eq!(
        again.headers()["idempotent-replayed"],
        "true",
        "recorded now"
    );
}

#[tokio::test]
async fn idempotency_records_expire_and_abandoned_claims_are_taken_over() {
    use plangen_plan::store::{Claim, ClaimRef};
    // Key "k" of `owner`, as claimed at `claimed_at`.
    let claim = |owner: &str, claimed_at| ClaimRef {
        owner: owner.to_owned(),
        key: "k".to_owned(),
        claimed_at,
    };
    for h in harnesses().await {
        let b = h.backend;
        let store = h.state.store.clone();
        let t0 = chrono::Utc::now();
        assert_eq!(
            store.claim_key("ada", "k", "h1", t0).await.unwrap(),
            Claim::New,
            "[{b}]"
        );
        assert_eq!(
            store.claim_key("ada", "k", "h1", t0).await.unwrap(),
            Claim::InProgress,
            "[{b}]"
        );
        assert_eq!(
            store.claim_key("bob", "k", "h1", t0).await.unwrap(),
            Claim::New,
            "[{b}] per owner"
        );
        // A claim whose request died is free again after the claim timeout.
        let later = t0 + chrono::Duration::seconds(61);
        assert_eq!(
            store.claim_key("ada", "k", "h1", later).await.unwrap(),
            Claim::New,
            "[{b}]"
        );
        store
            .complete_key(&claim("ada", later), "{\"done\":1}")
            .await
            .unwrap();
        assert_eq!(
            store.claim_key("ada", "k", "h1", later).await.unwrap(),
            Claim::Done("{\"done\":1}".into()),
            "[{b}]"
        );
        assert_eq!(
            store.claim_key("ada", "k", "h2", later).await.unwrap(),
            Claim::Mismatch,
            "[{b}]"
        );
        // Bob's unfinished claim was not touched by Ada's takeover.
        assert_eq!(
            store.claim_key("bob", "k", "h1", t0).await.unwrap(),
            Claim::InProgress,
            "[{b}]"
        );
        // A finished record is forgotten after a day.
        let next_day = later + chrono::Duration::hours(25);
        assert_eq!(
            store.claim_key("ada", "k", "h2", next_day).await.unwrap(),
            Claim::New,
            "[{b}]"
        );
        store.release_key(&claim("ada", next_day)).await.unwrap();
        assert_eq!(
            store.claim_key("ada", "k", "h3", next_day).await.unwrap(),
            Claim::New,
            "[{b}]"
        );

        // A timed-out claim is another request's only when it is the same request.
        assert_eq!(
            store.claim_key("cy", "k", "h1", t0).await.unwrap(),
            Claim::New
        );
        assert_eq!(
            store.claim_key("cy", "k", "h2", later).await.unwrap(),
            Claim::Mismatch,
            "[{b}] another body under a timed-out claim"
        );
        // An abandoned claim is the same request's at once, and still no other's.
        assert_eq!(
            store.claim_key("dee", "k", "h1", t0).await.unwrap(),
            Claim::New
        );
        store.abandon_key(&claim("dee", t0)).await.unwrap();
        assert_eq!(
            store.claim_key("dee", "k", "h2", t0).await.unwrap(),
            Claim::Mismatch,
            "[{b}]"
        );
        assert_eq!(
            store.claim_key("dee", "k", "h1", t0).await.unwrap(),
            Claim::New,
            "[{b}] taken over at once"
        );

        // An attempt that outlived its claim (made at t0, taken over at `later`) can neither
        // free, answer for nor abandon the claim that replaced it.
        assert_eq!(
            store.claim_key("eve", "k", "h1", t0).await.unwrap(),
            Claim::New
        );
        assert_eq!(
            store.claim_key("eve", "k", "h1", later).await.unwrap(),
            Claim::New,
            "[{b}] timed out, taken over"
        );
        store.release_key(&claim("eve", t0)).await.unwrap();
        store
            .complete_key(&claim("eve", t0), "{\"stale\":1}")
            .await
            .unwrap();
        store.abandon_key(&claim("eve", t0)).await.unwrap();
        assert_eq!(
            store.claim_key("eve", "k", "h1", later).await.unwrap(),
            Claim::InProgress,
            "[{b}] the stale attempt left the new claim alone"
        );
        // The claim's own attempt still can.
        store.release_key(&claim("eve", later)).await.unwrap();
        assert_eq!(
            store.claim_key("eve", "k", "h1", later).await.unwrap(),
            Claim::New,
            "[{b}] released by its own attempt"
        );
    }
}

#[tokio::test]
async fn a_mongodb_gone_silent_costs_one_timeout_then_the_service_recovers_by_itself() {
    let Some((server, url, proxy)) = mongo::mongo_behind_proxy().await else {
        return;
    };
    let options = Options {
        request_timeout_ms: Some(1000),
        mongodb_timeout_ms: Some(1000),
        ..Default::default()
    };
    let database = vec![
        ("DATABASE_URL", url),
        ("DATABASE_NAME", mongo::fresh_database()),
    ];
    let h = start(server.backend(), server.is_nx, database, &options).await;
    let created = h.create("ada", plan("Kept")).await;
    let path = format!("/{}", created["id"].as_str().unwrap());
    assert_eq!(h.get(&path, "ada").await.status(), 200);

    let body = mongo::silence_costs_one_timeout(&proxy, h.backend, || h.get(&path, "ada")).await;
    assert_eq!(body["title"], "Kept");
}

#[tokio::test]
async fn stores_write_only_over_the_version_they_read() {
    for h in harnesses().await {
        let b = h.backend;
        let created = h.create("ada", plan("Race")).await;
        let store = h.state.store.clone();
        let id = created["id"].as_str().unwrap();
        let mut p = store.get(id).await.unwrap().expect("stored");
        p.title = "Writer one".into();
        p.version = 2;
        assert!(store.replace(&p, 1).await.unwrap(), "[{b}]");
        // A second writer that also read version 1 loses, and changes nothing.
        let mut other = p.clone();
        other.title = "Writer two".into();
        assert!(!store.replace(&other, 1).await.unwrap(), "[{b}]");
        assert!(!store.delete(id, 1).await.unwrap(), "[{b}]");
        assert_eq!(
            store.get(id).await.unwrap().unwrap().title,
            "Writer one",
            "[{b}]"
        );
        assert!(
            matches!(
                store.insert(&p).await,
                Err(plangen_plan::store::StoreError::Conflict)
            ),
            "[{b}] duplicate id"
        );
        assert!(store.delete(id, 2).await.unwrap(), "[{b}]");
        assert!(store.get(id).await.unwrap().is_none(), "[{b}]");
    }
}
