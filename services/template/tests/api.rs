//! The template API over real HTTP, against every backend available (the store contract).

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn create_read_replace_delete_with_etags_and_if_match() {
    for h in harnesses().await {
        let b = h.backend;
        let res = h.post("ada", template("Morning routine")).await;
        assert_eq!(res.status(), 201, "[{b}]");
        assert_eq!(res.headers()["etag"], "\"1\"");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = res.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(location, format!("/api/templates/{id}"));
        assert_eq!(id.len(), 36, "a UUID string id");
        assert_eq!(created["ownerId"], "ada");
        assert_eq!(created["version"], 1);
        assert_eq!(created["steps"][0]["offsetDays"], -1);
        assert_eq!(created["steps"][0]["timeOfDay"], "08:30");
        assert_eq!(created["steps"][1]["timeOfDay"], Value::Null);

        let res = h.get(&format!("/{id}"), "ada").await;
        assert_eq!(res.headers()["etag"], "\"1\"", "[{b}]");
        let read: Value = res.json().await.unwrap();
        assert_eq!(read, created, "[{b}] what was stored is what is read");

        let mut body = template("Evening routine");
        body["visibility"] = json!("public");
        let res = h.put(&id, "ada", Some("\"1\""), body.clone()).await;
        assert_eq!(res.status(), 200, "[{b}]");
        assert_eq!(res.headers()["etag"], "\"2\"");
        let updated: Value = res.json().await.unwrap();
        assert_eq!(updated["name"], "Evening routine");
        assert_eq!(updated["version"], 2);
        assert_eq!(updated["createdAt"], created["createdAt"]);
        assert_ne!(updated["updatedAt"], created["updatedAt"]);

        // A second editor still holding version 1 is refused, and nothing changes.
        let res = h
            .put(&id, "ada", Some("\"1\""), template("Lost update"))
            .await;
        assert_problem(res, 412, "precondition-failed").await;
        assert_eq!(
            h.get_json(&format!("/{id}"), "ada").await["name"],
            "Evening routine"
        );
        let res = h.delete(&id, "ada", Some("\"1\"")).await;
        assert_problem(res, 412, "precondition-failed").await;

        let res = h.delete(&id, "ada", Some("\"2\"")).await;
        assert_eq!(res.status(), 204, "[{b}]");
        assert_problem(h.get(&format!("/{id}"), "ada").await, 404, "not-found").await;
        assert_problem(h.delete(&id, "ada", None).await, 404, "not-found").await;
    }
}

#[tokio::test]
async fn only_owners_and_admins_change_and_private_ones_stay_hidden() {
    for h in harnesses().await {
        let b = h.backend;
        let private = h.create("ada", template("Private")).await;
        let mut public = template("Public");
        public["visibility"] = json!("public");
        let public = h.create("ada", public).await;
        let (private_id, public_id) = (
            private["id"].as_str().unwrap(),
            public["id"].as_str().unwrap(),
        );

        assert_problem(
            h.get(&format!("/{private_id}"), "bob").await,
            404,
            "not-found",
        )
        .await;
        assert_eq!(
            h.get(&format!("/{public_id}"), "bob").await.status(),
            200,
            "[{b}]"
        );
        let res = h.put(private_id, "bob", None, template("Mine now")).await;
        assert_problem(res, 404, "not-found").await;
        let res = h.put(public_id, "bob", None, template("Mine now")).await;
        assert_problem(res, 403, "forbidden").await;
        assert_problem(h.delete(public_id, "bob", None).await, 403, "forbidden").await;
        assert_eq!(
            h.get_json(&format!("/{public_id}"), "ada").await["name"],
            "Public",
            "[{b}] unchanged"
        );

        // An admin may change and delete anyone's; the owner stays the owner.
        let res = h
            .http
            .put(h.url(&format!("/{private_id}")))
            .bearer_auth(token_with_role("root", "admin"))
            .json(&template("Moderated"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "[{b}]");
        let moderated: Value = res.json().await.unwrap();
        assert_eq!(moderated["ownerId"], "ada");
        let res = h
            .http
            .delete(h.url(&format!("/{public_id}")))
            .bearer_auth(token_with_role("root", "admin"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "[{b}]");
    }
}

fn names(page: &Value) -> Vec<String> {
    let mut n: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn search_filters_and_categories_over_own_and_public() {
    for h in harnesses().await {
        let b = h.backend;
        let mk = |name: &str, desc: &str, cat: &str, tags: &[&str], vis: &str| json!({"name": name, "description": desc, "category": cat, "tags": tags, "visibility": vis, "steps": []});
        h.create(
            "ada",
            mk(
                "Marathon training",
                "Sixteen weeks",
                "Health",
                &["running"],
                "public",
            ),
        )
        .await;
        h.create(
            "ada",
            mk(
                "Tax return",
                "Paperwork for april",
                "Finance",
                &["admin"],
                "private",
            ),
        )
        .await;
        h.create(
            "bob",
            mk(
                "Garden spring",
                "Plant the bulbs",
                "Home",
                &["outdoor"],
                "public",
            ),
        )
        .await;
        h.create(
            "bob",
            mk(
                "Secret diary",
                "Write daily",
                "Home",
                &["running"],
                "private",
            ),
        )
        .await;

        // Own + public: bob sees ada's public one, never her private one.
        let all = h.get_json("", "bob").await;
        assert_eq!(
            names(&all),
            ["Garden spring", "Marathon training", "Secret diary"],
            "[{b}]"
        );
        assert_eq!(all["nextCursor"], Value::Null);
        assert_eq!(
            names(&h.get_json("?owner=me", "bob").await),
            ["Garden spring", "Secret diary"]
        );
        assert_eq!(
            names(&h.get_json("?category=Home", "ada").await),
            ["Garden spring"],
            "[{b}]"
        );
        assert_eq!(
            names(&h.get_json("?tag=running", "bob").await),
            ["Marathon training", "Secret diary"],
            "[{b}]"
        );
        assert_eq!(
            names(&h.get_json("?visibility=private", "ada").await),
            ["Tax return"]
        );

        // q matches a word of the name, the description or a tag, in any case.
        assert_eq!(
            names(&h.get_json("?q=MARATHON", "bob").await),
            ["Marathon training"],
            "[{b}]"
        );
        assert_eq!(
            names(&h.get_json("?q=bulbs", "ada").await),
            ["Garden spring"],
            "[{b}]"
        );
        assert_eq!(
            names(&h.get_json("?q=paperwork", "ada").await),
            ["Tax return"],
            "[{b}]"
        );
        assert_eq!(
            names(&h.get_json("?q=paperwork", "bob").await),
            Vec::<String>::new(),
            "[{b}]"
        );
        assert_eq!(
            names(&h.get_json("?q=running", "bob").await),
            ["Marathon training", "Secret diary"],
            "[{b}] tags are searched"
        );
        assert_eq!(
            names(&h.get_json("?q=running&owner=me&category=Home", "bob").await),
            ["Secret diary"],
            "[{b}] filters combine"
        );

        let cats = h.get_json("/categories", "bob").await;
        assert_eq!(
            cats,
            json!({"categories": [{"name": "Health", "count": 1}, {"name": "Home", "count": 2}]}),
            "[{b}]"
        );
        let cats = h.get_json("/categories", "ada").await;
        assert_eq!(
            cats["categories"],
            json!([{"name": "Finance", "count": 1}, {"name": "Health", "count": 1}, {"name": "Home", "count": 1}]),
            "[{b}]"
        );
    }
}

/// Walks every page of `query`, inserting a template between pages; returns the ids seen.
async fn walk(h: &Harness, query: &str, insert_between: bool) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = format!("?{query}");
    for page_no in 0.. {
        assert!(page_no < 50, "pagination does not end");
        let res = h.get(&path, "ada").await;
        assert_eq!(res.status(), 200, "[{}] {path}", h.backend);
        let link = res
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let page: Value = res.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        let Some(cursor) = page["nextCursor"].as_str() else {
            assert!(link.is_none(), "no Link on the last page");
            break;
        };
        let link = link.expect("a Link header with the next page");
        let target = link
            .strip_prefix("</api/templates")
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("{link}"));
        assert!(target.contains(&format!("cursor={cursor}")), "{target}");
        if insert_between {
            let res = h
                .post("ada", template(&format!("Inserted {page_no}")))
                .await;
            assert_eq!(res.status(), 201);
        }
        path = target.to_owned();
    }
    seen
}

#[tokio::test]
async fn keyset_pages_have_no_duplicates_or_gaps_while_items_are_inserted() {
    for h in harnesses().await {
        let b = h.backend;
        let mut initial = HashSet::new();
        for i in 0..23 {
            // Names repeat, so ties on the sort key are broken by id.
            let t = h.create("ada", template(&format!("T{}", i % 4))).await;
            initial.insert(t["id"].as_str().unwrap().to_owned());
        }
        for query in [
            "limit=5",
            "limit=7&sort=name",
            "limit=4&sort=-name",
            "limit=6&sort=createdAt",
            "limit=10&sort=-updatedAt",
        ] {
            let seen = walk(&h, query, true).await;
            let unique: HashSet<_> = seen.iter().cloned().collect();
            assert_eq!(unique.len(), seen.len(), "[{b}] {query}: duplicates");
            assert!(initial.is_subset(&unique), "[{b}] {query}: gaps");
        }
        // Without inserts, a page walk is exactly everything, in order.
        let seen = walk(&h, "limit=9&sort=name&owner=me", false).await;
        let all = h.get_json("?limit=100&sort=name&owner=me", "ada").await;
        let ids: Vec<String> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(seen, ids, "[{b}]");
        let names: Vec<&str> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "[{b}] sorted by name");
    }
}

#[tokio::test]
async fn malformed_bodies_queries_and_ids_get_problem_json() {
    for h in harnesses().await {
        let b = h.backend;
        let res = h
            .http
            .post(h.url(""))
            .bearer_auth(token("ada"))
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap();
        assert_problem(res, 400, "malformed-request").await;

        let mut body = template("x");
        body["name"] = json!("");
        body["visibility"] = json!("everyone");
        let p = assert_problem(h.post("ada", body).await, 422, "validation").await;
        assert_eq!(fields(&p), ["visibility"], "[{b}] {p}");

        let mut body = template(&"n".repeat(201));
        body["tags"] = json!(vec!["ok"; 21]);
        body["steps"][0]["offsetDays"] = json!(3651);
        body["steps"][1]["timeOfDay"] = json!("7pm");
        let p = assert_problem(h.post("ada", body).await, 422, "validation").await;
        assert_eq!(
            fields(&p),
            ["name", "tags", "steps.0.offsetDays", "steps.1.timeOfDay"],
            "[{b}] {p}"
        );

        let mut body = template("Too long");
        body["steps"] = json!(vec![json!({"title": "s", "offsetDays": 0}); 501]);
        let p = assert_problem(h.post("ada", body).await, 422, "validation").await;
        assert_eq!(fields(&p), ["steps"], "[{b}]");
        let mut body = template("Just right");
        body["steps"] = json!(vec![json!({"title": "s", "offsetDays": 0}); 500]);
        assert_eq!(
            h.post("ada", body).await.status(),
            201,
            "[{b}] 500 steps are fine"
        );

        for (query, field) in [
            ("?limit=0", "limit"),
            ("?limit=101", "limit"),
            ("?limit=ten", "limit"),
            ("?sort=ownerId", "sort"),
            ("?cursor=garbage", "cursor"),
            ("?visibility=secret", "visibility"),
            ("?owner=bob", "owner"),
            ("?colour=red", "colour"),
        ] {
            let p = assert_problem(h.get(query, "ada").await, 422, "validation").await;
            assert_eq!(fields(&p), [field], "[{b}] {query}");
        }
        // A cursor is only good for the sort it was made under.
        h.create("ada", template("Another")).await;
        let page = h.get_json("?limit=1&sort=name", "ada").await;
        let cursor = page["nextCursor"].as_str().unwrap();
        let p = assert_problem(
            h.get(&format!("?sort=-name&cursor={cursor}"), "ada").await,
            422,
            "validation",
        )
        .await;
        assert_eq!(fields(&p), ["cursor"]);

        assert_problem(h.get("/not%20an%20id", "ada").await, 404, "not-found").await;
        assert_problem(
            h.get(&format!("/{}", "x".repeat(300)), "ada").await,
            404,
            "not-found",
        )
        .await;
        let res = h.http.get(h.url("")).send().await.unwrap();
        assert_problem(res, 401, "unauthenticated").await;
        let res = h
            .http
            .get(h.url(""))
            .bearer_auth("not.a.token")
            .send()
            .await
            .unwrap();
        assert_problem(res, 401, "invalid-token").await;
    }
}

#[tokio::test]
async fn readiness_pings_the_database() {
    for h in harnesses().await {
        eprintln!("backend: {}", h.backend);
        let res = h.http.get(h.server.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), 200, "[{}]", h.backend);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["checks"][0]["name"], "database");
        assert_eq!(body["checks"][0]["ok"], true);
        let doc: Value = h
            .http
            .get(h.server.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            doc["paths"]["/api/templates/{id}"]["put"].is_object(),
            "{doc}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_mongodb_makes_readyz_fail_and_requests_503() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("mongodb://127.0.0.1:{port}");
    let config =
        plangen_template::TemplateConfig::from_env(env(&url, &[("MONGODB_TIMEOUT_MS", "300")]))
            .unwrap();
    // No migration: the point is a database that went away after start.
    let store = plangen_template::open_store(&config.database)
        .await
        .unwrap();
    let state = plangen_template::TemplateState::with_parts(
        config,
        store,
        plangen_core::shared_state::SharedState::in_process(),
    );
    let h = Harness::start("mongo(down)", false, state, None).await;
    let res = h.http.get(h.server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["checks"][0]["ok"], false);
    let res = h.get("", "ada").await;
    let p = assert_problem(res, 503, "service-unavailable").await;
    assert!(
        !p.to_string().contains("127.0.0.1"),
        "no internals leak: {p}"
    );
}

#[tokio::test]
async fn a_mongodb_gone_silent_costs_one_timeout_then_the_service_recovers_by_itself() {
    let Some((server, url, proxy)) = mongo::mongo_behind_proxy().await else {
        return;
    };
    let db = mongo::fresh_database();
    let config = plangen_template::TemplateConfig::from_env(env(
        &url,
        &[
            ("DATABASE_NAME", &db),
            ("MONGODB_TIMEOUT_MS", "1000"),
            ("REQUEST_TIMEOUT_MS", "1000"),
        ],
    ))
    .unwrap();
    let state = plangen_template::TemplateState::new(config).await.unwrap();
    let h = Harness::start(server.backend(), server.is_nx, state, None).await;
    let created = h.create("ada", template("Kept")).await;
    let path = format!("/{}", created["id"].as_str().unwrap());
    assert_eq!(h.get(&path, "ada").await.status(), 200);

    let body = mongo::silence_costs_one_timeout(&proxy, h.backend, || h.get(&path, "ada")).await;
    assert_eq!(body["name"], "Kept");
}

#[tokio::test]
async fn stores_write_only_over_the_version_they_read() {
    for h in harnesses().await {
        let b = h.backend;
        let created = h.create("ada", template("Race")).await;
        let store = h.state.store.clone();
        let id = created["id"].as_str().unwrap();
        let mut t = store.get(id).await.unwrap().expect("stored");
        t.name = "Writer one".into();
        t.version = 2;
        assert!(store.replace(&t, 1).await.unwrap(), "[{b}]");
        let mut other = t.clone();
        other.name = "Writer two".into();
        assert!(!store.replace(&other, 1).await.unwrap(), "[{b}]");
        assert!(!store.delete(id, 1).await.unwrap(), "[{b}]");
        assert_eq!(
            store.get(id).await.unwrap().unwrap().name,
            "Writer one",
            "[{b}]"
        );
        assert!(
            matches!(
                store.insert(&t).await,
                Err(plangen_template::store::StoreError::Conflict)
            ),
            "[{b}] duplicate id"
        );
        assert!(store.delete(id, 2).await.unwrap(), "[{b}]");
    }
}
