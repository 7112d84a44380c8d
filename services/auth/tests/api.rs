//! The auth API over real HTTP, against every backend available.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn register_returns_the_user_without_its_hash_and_a_working_token_pair() {
    for h in harnesses(&[]).await {
        let res = h
            .post("/register", json!({"email": "  Ada@Example.ORG ", "username": "ada", "password": PASSWORD, "name": "Ada"}))
            .await;
        assert_eq!(res.status(), 201, "[{}]", h.backend);
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.starts_with("plangen_refresh=") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        let text = res.text().await.unwrap();
        assert!(
            !text.contains("argon2") && !text.contains("password"),
            "[{}] {text}",
            h.backend
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["user"]["email"], "ada@example.org", "normalised");
        assert_eq!(body["user"]["role"], "user");
        assert_eq!(body["tokenType"], "Bearer");
        assert_eq!(body["expiresIn"], 900);
        let me = h
            .get_auth("/me", body["accessToken"].as_str().unwrap())
            .await;
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["username"], "ada");
        assert_eq!(me["name"], "Ada");
    }
}

#[tokio::test]
async fn duplicate_email_or_username_is_a_409_naming_the_field() {
    for h in harnesses(&[]).await {
        h.register("ada@example.org", "ada").await;
        let res = h
            .post(
                "/register",
                json!({"email": "ADA@example.org", "username": "other", "password": PASSWORD}),
            )
            .await;
        let body = assert_problem(res, 409, "conflict").await;
        assert_eq!(body["errors"][0]["field"], "email", "[{}]", h.backend);
        let res = h
            .post(
                "/register",
                json!({"email": "b@example.org", "username": "ADA", "password": PASSWORD}),
            )
            .await;
        let body = assert_problem(res, 409, "conflict").await;
        assert_eq!(body["errors"][0]["field"], "username", "[{}]", h.backend);
    }
}

/// "zoë" typed with a precomposed ë (U+00EB) and with e + a combining diaeresis (U+0308) is
/// one address: stored in NFC, found either way, and not registered twice.
#[tokio::test]
async fn an_address_typed_in_either_unicode_form_is_one_account() {
    const COMPOSED: &str = "zo\u{eb}@example.org";
    const DECOMPOSED: &str = "ZOE\u{308}@example.org";
    for h in harnesses(&[]).await {
        let b = h.backend;
        let me = h.register(DECOMPOSED, "zoe").await;
        let profile: Value = h.get_auth("/me", &me.access).await.json().await.unwrap();
        assert_eq!(
            profile["email"], COMPOSED,
            "[{b}] stored lower-cased, in NFC"
        );
        for typed in [COMPOSED, DECOMPOSED] {
            assert_eq!(
                h.login(typed, PASSWORD).await.status(),
                200,
                "[{b}] {typed:?}"
            );
        }
        let res = h
            .post(
                "/register",
                json!({"email": COMPOSED, "username": "zoe2", "password": PASSWORD}),
            )
            .await;
        let body = assert_problem(res, 409, "conflict").await;
        assert_eq!(body["errors"][0]["field"], "email", "[{b}]");

        // A row stored before addresses were normalised (decomposed) is still found when
        // the address is typed as it was stored.
        let store = h.store();
        let hash = store
            .user_by_login("zoe")
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        let legacy = "le\u{301}a@example.org";
        store
            .create_user(
                plangen_auth::store::NewUser {
                    id: uuid::Uuid::now_v7().to_string(),
                    email: legacy.to_owned(),
                    password_hash: hash,
                    name: None,
                    username: "lea".to_owned(),
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(h.login(legacy, PASSWORD).await.status(), 200, "[{b}]");
    }
}

#[tokio::test]
async fn malformed_bodies_get_400_415_or_422_problems() {
    let h = sqlite_harness(&[]).await;
    let res = h
        .http
        .post(h.url("/register"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "malformed-request").await;

    let res = h
        .http
        .post(h.url("/register"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported-media-type").await;

    let res = h
        .post(
            "/register",
            json!({"email": "a@b.org", "password": PASSWORD}),
        )
        .await;
    let body = assert_problem(res, 422, "validation").await;
    assert_eq!(body["errors"][0]["field"], "username");

    let res = h
        .post("/register", json!({"email": "not-an-email", "username": "x".repeat(33), "password": "y".repeat(129), "name": "n".repeat(101)}))
        .await;
    let body = assert_problem(res, 422, "validation").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "username", "name"]);

    let res = h
        .post(
            "/register",
            json!({"email": "a@b.org", "username": "abc", "password": "short"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation").await;
    assert_eq!(body["errors"][0]["field"], "password");

    let res = h
        .post(
            "/register",
            json!({"email": 5, "username": "abc", "password": PASSWORD}),
        )
        .await;
    let body = assert_problem(res, 422, "validation").await;
    assert_eq!(body["errors"][0]["field"], "email");

    let big = "x".repeat(2 << 20);
    let res = h
        .http
        .post(h.url("/register"))
        .header("content-type", "application/json")
        .body(format!("{{\"email\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload-too-large").await;
}

#[tokio::test]
async fn login_by_email_or_username_and_uniform_failures() {
    for h in harnesses(&[]).await {
        h.register("ada@example.org", "Ada").await;
        assert_eq!(
            h.login("ADA@example.org", PASSWORD).await.status(),
            200,
            "[{}]",
            h.backend
        );
        assert_eq!(
            h.login("ada", PASSWORD).await.status(),
            200,
            "[{}] username, any case",
            h.backend
        );
        assert_eq!(
            h.post(
                "/login",
                json!({"email": "ada@example.org", "password": PASSWORD})
            )
            .await
            .status(),
            200,
            "the seed's `email` field is accepted"
        );

        let wrong_password = assert_problem(
            h.login("ada@example.org", "wrong password").await,
            401,
            "invalid-credentials",
        )
        .await;
        let unknown_user = assert_problem(
            h.login("nobody@example.org", PASSWORD).await,
            401,
            "invalid-credentials",
        )
        .await;
        for key in ["type", "title", "detail", "status"] {
            assert_eq!(
                wrong_password[key], unknown_user[key],
                "[{}] {key} must not tell which was wrong",
                h.backend
            );
        }
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_of_a_rotated_token_ends_the_session() {
    for h in harnesses(&[]).await {
        let first = h.register("ada@example.org", "ada").await;
        let res = h.refresh(&first.refresh).await;
        assert_eq!(res.status(), 200, "[{}]", h.backend);
        let second = tokens(res).await;
        assert_ne!(second.refresh, first.refresh);
        assert_eq!(h.get_auth("/me", &second.access).await.status(), 200);
        let res = h.refresh(&second.refresh).await;
        assert_eq!(res.status(), 200, "[{}]", h.backend);
        let third = tokens(res).await;

        // Replaying a token whose replacement has been used is reuse (however soon): 401,
        // and the whole family dies.
        assert_problem(h.refresh(&first.refresh).await, 401, "refresh-token-reused").await;
        assert_problem(h.refresh(&third.refresh).await, 401, "refresh-token-reused").await;
        assert_problem(
            h.get_auth("/me", &third.access).await,
            401,
            "session-revoked",
        )
        .await;
        assert_problem(
            h.get_auth("/me", &first.access).await,
            401,
            "session-revoked",
        )
        .await;

        // Garbage and tokens signed with another secret are refused without a database hit.
        assert_problem(h.refresh("not-a-token").await, 401, "invalid-token").await;
        assert_problem(h.post("/refresh", json!({})).await, 401, "unauthenticated").await;
    }
}

#[tokio::test]
async fn a_refresh_retried_after_its_answer_was_lost_keeps_the_session() {
    for h in harnesses(&[]).await {
        let first = h.register("ada@example.org", "ada").await;
        // The first answer never reached the client (its `second` pair is lost)...
        let lost = tokens(h.refresh(&first.refresh).await).await;
        // ...so it retries with the token it still has, within REFRESH_TOKEN_REUSE_GRACE.
        let res = h.refresh(&first.refresh).await;
        assert_eq!(res.status(), 200, "[{}]", h.backend);
        let retried = tokens(res).await;
        assert_ne!(retried.refresh, lost.refresh);
        assert_eq!(h.get_auth("/me", &retried.access).await.status(), 200);
        let res = h.refresh(&retried.refresh).await;
        assert_eq!(res.status(), 200, "[{}] the session lives on", h.backend);
        let next = tokens(res).await;
        assert_eq!(h.get_auth("/me", &next.access).await.status(), 200);
        // One chain lives on: the lost pair's token, presented now, is reuse.
        assert_problem(h.refresh(&lost.refresh).await, 401, "refresh-token-reused").await;
    }
    // With the grace off, the same retry is reuse and ends the session.
    for h in harnesses(&[("REFRESH_TOKEN_REUSE_GRACE", "0")]).await {
        let first = h.register("ada@example.org", "ada").await;
        let lost = tokens(h.refresh(&first.refresh).await).await;
        assert_problem(h.refresh(&first.refresh).await, 401, "refresh-token-reused").await;
        assert_problem(h.refresh(&lost.refresh).await, 401, "refresh-token-reused").await;
    }
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_get_a_pair_and_one_chain_lives_on() {
    // Two tabs refreshing at once (sharing one cookie jar): inside the retry grace every one
    // of them gets a pair; the first token used then ends the others.
    for h in harnesses(&[]).await {
        let t = h.register("ada@example.org", "ada").await;
        let results = futures::future::join_all((0..8).map(|_| h.refresh(&t.refresh))).await;
        assert!(
            results.iter().all(|r| r.status() == 200),
            "[{}] {:?}",
            h.backend,
            results.iter().map(|r| r.status()).collect::<Vec<_>>()
        );
        let pairs = futures::future::join_all(results.into_iter().map(tokens)).await;
        let distinct: std::collections::HashSet<_> = pairs.iter().map(|p| &p.refresh).collect();
        assert_eq!(distinct.len(), 8, "[{}]", h.backend);
        assert_eq!(
            h.refresh(&pairs[3].refresh).await.status(),
            200,
            "[{}]",
            h.backend
        );
        assert_problem(
            h.refresh(&pairs[5].refresh).await,
            401,
            "refresh-token-reused",
        )
        .await;
    }
    // Without it, exactly one wins: the token rotates once.
    for h in harnesses(&[("REFRESH_TOKEN_REUSE_GRACE", "0")]).await {
        let t = h.register("ada@example.org", "ada").await;
        let results = futures::future::join_all((0..8).map(|_| h.refresh(&t.refresh))).await;
        let ok = results.iter().filter(|r| r.status() == 200).count();
        assert_eq!(
            ok, 1,
            "[{}] exactly one of the concurrent refreshes wins",
            h.backend
        );
        assert!(
            results
                .iter()
                .all(|r| r.status() == 200 || r.status() == 401),
            "[{}]",
            h.backend
        );
    }
}

#[tokio::test]
async fn refresh_accepts_the_cookie_when_the_body_has_no_token() {
    let h = sqlite_harness(&[]).await;
    let t = h.register("ada@example.org", "ada").await;
    let res = h
        .http
        .post(h.url("/refresh"))
        .header(
            "cookie",
            format!("theme=dark; plangen_refresh={}", t.refresh),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("plangen_refresh=ey")
    );
}

#[tokio::test]
async fn logout_stops_the_access_token_at_once_and_the_refresh_token() {
    for h in harnesses(&[]).await {
        let a = h.register("ada@example.org", "ada").await;
        let other = tokens(h.login("ada", PASSWORD).await).await;
        let res = h.post_auth("/logout", &a.access, None).await;
        assert_eq!(res.status(), 204, "[{}]", h.backend);
        assert!(
            res.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_problem(h.get_auth("/me", &a.access).await, 401, "session-revoked").await;
        assert_eq!(h.refresh(&a.refresh).await.status(), 401);
        assert_eq!(
            h.get_auth("/me", &other.access).await.status(),
            200,
            "[{}] other sessions live on",
            h.backend
        );
    }
}

#[tokio::test]
async fn logout_all_ends_every_session() {
    for h in harnesses(&[]).await {
        let a = h.register("ada@example.org", "ada").await;
        let b = tokens(h.login("ada", PASSWORD).await).await;
        assert_eq!(
            h.post_auth("/logout-all", &a.access, None).await.status(),
            204
        );
        for t in [&a, &b] {
            assert_problem(h.get_auth("/me", &t.access).await, 401, "session-revoked").await;
            assert_eq!(h.refresh(&t.refresh).await.status(), 401, "[{}]", h.backend);
        }
    }
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_and_can_be_ended() {
    for h in harnesses(&[]).await {
        let a = h.register("ada@example.org", "ada").await;
        let res = h
            .http
            .post(h.url("/login"))
            .header("user-agent", "phone-browser/1.0")
            .json(&json!({"login": "ada", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let b = tokens(res).await;
        let list: Value = h
            .get_auth("/sessions", &a.access)
            .await
            .json()
            .await
            .unwrap();
        let sessions = list["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2, "[{}] {list}", h.backend);
        let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        let phone = sessions
            .iter()
            .find(|s| s["userAgent"] == "phone-browser/1.0")
            .unwrap();
        assert_eq!(phone["current"], false);
        assert_eq!(phone["ip"], "127.0.0.1");

        let id = phone["id"].as_str().unwrap();
        let res = h
            .http
            .delete(h.url(&format!("/sessions/{id}")))
            .bearer_auth(&a.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        assert_problem(h.get_auth("/me", &b.access).await, 401, "session-revoked").await;
        let res = h
            .http
            .delete(h.url(&format!("/sessions/{id}")))
            .bearer_auth(&a.access)
            .send()
            .await
            .unwrap();
        assert_problem(res, 404, "not-found").await;
        let list: Value = h
            .get_auth("/sessions", &a.access)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn another_users_session_cannot_be_ended() {
    let h = sqlite_harness(&[]).await;
    let a = h.register("ada@example.org", "ada").await;
    let b = h.register("bob@example.org", "bob").await;
    let list: Value = h
        .get_auth("/sessions", &b.access)
        .await
        .json()
        .await
        .unwrap();
    let bob_session = list["sessions"][0]["id"].as_str().unwrap().to_owned();
    let res = h
        .http
        .delete(h.url(&format!("/sessions/{bob_session}")))
        .bearer_auth(&a.access)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not-found").await;
    assert_eq!(h.get_auth("/me", &b.access).await.status(), 200);
}

#[tokio::test]
async fn profile_updates_are_validated_and_usernames_stay_unique() {
    for h in harnesses(&[]).await {
        let a = h.register("ada@example.org", "ada").await;
        h.register("bob@example.org", "bob").await;
        let patch = |body: Value| {
            h.http
                .patch(h.url("/me"))
                .bearer_auth(&a.access)
                .json(&body)
                .send()
        };
        let res = patch(
            json!({"name": "Ada L.", "bio": "Engines", "avatar": "https://example.org/a.png"}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 200, "[{}]", h.backend);
        let me: Value = res.json().await.unwrap();
        assert_eq!(
            (me["name"].as_str(), me["bio"].as_str()),
            (Some("Ada L."), Some("Engines"))
        );

        let res = patch(json!({"bio": null})).await.unwrap();
        let me: Value = res.json().await.unwrap();
        assert_eq!(me["bio"], Value::Null, "null clears");
        assert_eq!(me["name"], "Ada L.", "absent fields stay");

        let res = patch(json!({"avatar": "javascript:alert(1)", "bio": "b".repeat(501)}))
            .await
            .unwrap();
        let body = assert_problem(res, 422, "validation").await;
        assert_eq!(body["errors"].as_array().unwrap().len(), 2);
        assert_problem(
            patch(json!({"username": "BOB"})).await.unwrap(),
            409,
            "conflict",
        )
        .await;
        assert_problem(
            patch(json!({"role": "admin"})).await.unwrap(),
            422,
            "validation",
        )
        .await;
    }
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_ends_other_sessions() {
    for h in harnesses(&[]).await {
        let a = h.register("ada@example.org", "ada").await;
        let other = tokens(h.login("ada", PASSWORD).await).await;
        let put = |body: Value| {
            h.http
                .put(h.url("/me/password"))
                .bearer_auth(&a.access)
                .json(&body)
                .send()
        };
        let res =
            put(json!({"currentPassword": "wrong password", "newPassword": "new password 1"}))
                .await
                .unwrap();
        let body = assert_problem(res, 422, "validation").await;
        assert_eq!(body["errors"][0]["field"], "currentPassword");
        let res = put(json!({"currentPassword": PASSWORD, "newPassword": "short"}))
            .await
            .unwrap();
        assert_problem(res, 422, "validation").await;

        let res = put(json!({"currentPassword": PASSWORD, "newPassword": "new password 1"}))
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "[{}]", h.backend);
        assert_eq!(
            h.get_auth("/me", &a.access).await.status(),
            200,
            "this session stays"
        );
        assert_problem(
            h.get_auth("/me", &other.access).await,
            401,
            "session-revoked",
        )
        .await;
        assert_eq!(h.refresh(&other.refresh).await.status(), 401);
        assert_eq!(h.login("ada", PASSWORD).await.status(), 401);
        assert_eq!(h.login("ada", "new password 1").await.status(), 200);
    }
}

#[tokio::test]
async fn deleting_the_account_deactivates_it() {
    for h in harnesses(&[]).await {
        let a = h.register("ada@example.org", "ada").await;
        let res = h
            .http
            .delete(h.url("/me"))
            .bearer_auth(&a.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "[{}]", h.backend);
        assert_problem(h.get_auth("/me", &a.access).await, 401, "session-revoked").await;
        assert_problem(h.login("ada", PASSWORD).await, 403, "account-inactive").await;
        assert_eq!(
            h.login("ada", "wrong password").await.status(),
            401,
            "a wrong password still says nothing more"
        );
        // The account keeps its e-mail: it is deactivated, not freed for someone else.
        let res = h
            .post(
                "/register",
                json!({"email": "ada@example.org", "username": "ada2", "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), 409);
    }
}

/// Ada registered with the auth service on a fresh PostgreSQL database, and two connections
/// of the test's own to it: `holder`, to lock Ada's row as a transaction in flight would, and
/// `watcher`, to see the service's statements wait for that lock.
struct AdaOnPostgres {
    h: std::sync::Arc<Harness>,
    ada: Tokens,
    holder: sqlx::PgConnection,
    watcher: sqlx::PgConnection,
}

impl AdaOnPostgres {
    async fn new() -> Option<Self> {
        use sqlx::Connection as _;
        let redis = plangen_core::testing::redis_config()?;
        let url = plangen_core::testing::fresh_postgres_database().await?;
        let h = postgres_harness_at(&url, &[], &redis).await;
        let ada = h.register("ada@example.org", "ada").await;
        Some(Self {
            h: std::sync::Arc::new(h),
            ada,
            holder: sqlx::PgConnection::connect(&url).await.unwrap(),
            watcher: sqlx::PgConnection::connect(&url).await.unwrap(),
        })
    }

    /// Begins a transaction that runs `statement` (`$1`: Ada's id) and keeps her row locked.
    async fn hold_row(&mut self, statement: &'static str) {
        let id = self.ada.user["id"].as_str().unwrap().to_owned();
        sqlx::query("BEGIN")
            .execute(&mut self.holder)
            .await
            .unwrap();
        sqlx::query(statement)
            .bind(id)
            .execute(&mut self.holder)
            .await
            .unwrap();
    }

    async fn release_row(&mut self) {
        sqlx::query("COMMIT")
            .execute(&mut self.holder)
            .await
            .unwrap();
    }

    /// Ada logs in with the right password, in the background.
    fn start_login(&self) -> tokio::task::JoinHandle<reqwest::Response> {
        let h = self.h.clone();
        tokio::spawn(async move { h.login("ada", PASSWORD).await })
    }

    /// Waits until `waiters` statements wait for a lock. (The watcher is never in a
    /// transaction: PostgreSQL keeps one snapshot of `pg_stat_activity` per transaction.)
    async fn wait_for_lock_waiters(&mut self, waiters: i64) {
        for _ in 0..200 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&mut self.watcher)
            .await
            .unwrap();
            if waiting >= waiters {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{waiters} statement(s) never came to wait for the lock");
    }
}

#[tokio::test]
async fn on_postgres_a_login_that_meets_a_deactivation_in_flight_answers_account_inactive() {
    // The password was right and the account active when looked up, but the account is being
    // deactivated (its row locked by the deactivation's transaction): the session must not
    // begin, and the client hears why.
    let Some(mut t) = AdaOnPostgres::new().await else {
        return;
    };
    t.hold_row("UPDATE users SET is_active = FALSE WHERE id = $1")
        .await;
    let login = t.start_login();
    t.wait_for_lock_waiters(1).await;
    t.release_row().await;
    assert_problem(login.await.unwrap(), 403, "account-inactive").await;
}

#[tokio::test]
async fn on_postgres_a_session_begun_while_the_account_is_deleted_is_denied_too() {
    // A login whose session begins between the deletion's listing of sessions and its
    // deactivation: the listing misses it, the deactivation revokes it, and its access token
    // must be denied at once like the others, not live on until it expires.
    let Some(mut t) = AdaOnPostgres::new().await else {
        return;
    };
    // Ada's row held, so the login's session and then the deletion's deactivation queue on it
    // in that order, after the deletion has listed Ada's sessions.
    t.hold_row("SELECT id FROM users WHERE id = $1 FOR UPDATE")
        .await;
    let login = t.start_login();
    t.wait_for_lock_waiters(1).await;
    let deletion = tokio::spawn({
        let h = t.h.clone();
        let access = t.ada.access.clone();
        async move {
            h.http
                .delete(h.url("/me"))
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
        }
    });
    t.wait_for_lock_waiters(2).await;
    t.release_row().await;

    let login = login.await.unwrap();
    assert_eq!(
        login.status(),
        200,
        "the login came first: {:?}",
        login.text().await
    );
    let late = tokens(login).await;
    assert_eq!(deletion.await.unwrap().status(), 204);
    let h = &t.h;
    assert_problem(
        h.get_auth("/me", &late.access).await,
        401,
        "session-revoked",
    )
    .await;
    assert_eq!(
        h.refresh(&late.refresh).await.status(),
        401,
        "revoked with the account"
    );
}

#[tokio::test]
async fn failed_logins_past_the_limit_answer_429_even_with_the_right_password() {
    for h in harnesses(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")]).await {
        h.register("ada@example.org", "ada").await;
        for _ in 0..3 {
            assert_eq!(
                h.login("ada@example.org", "wrong password").await.status(),
                401
            );
        }
        let res = h.login("ada@example.org", PASSWORD).await;
        let retry_after: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=900).contains(&retry_after),
            "[{}] {retry_after}",
            h.backend
        );
        assert_problem(res, 429, "too-many-requests").await;
        // Another account from the same address is not locked by this one.
        h.register("bob@example.org", "bob").await;
        assert_eq!(h.login("bob", PASSWORD).await.status(), 200);
    }
}

#[tokio::test]
async fn failed_logins_sent_all_at_once_cannot_race_past_the_limit() {
    // Two verifications at a time: at most one attempt beyond the limit can pass the check
    // before a failure is counted.
    let env = [
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3"),
        ("PASSWORD_HASH_CONCURRENCY", "2"),
    ];
    for h in harnesses(&env).await {
        h.register("ada@example.org", "ada").await;
        let attempts = (0..16).map(|_| h.login("ada@example.org", "wrong password"));
        let statuses: Vec<u16> = futures::future::join_all(attempts)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        let checked = statuses.iter().filter(|s| **s == 401).count();
        let throttled = statuses.iter().filter(|s| **s == 429).count();
        assert!(
            (3..=4).contains(&checked) && checked + throttled == statuses.len(),
            "[{}] {checked} wrong passwords checked: {statuses:?}",
            h.backend
        );
        assert_eq!(
            h.login("ada@example.org", PASSWORD).await.status(),
            429,
            "[{}] the right password is refused too once locked",
            h.backend
        );
    }
}

#[tokio::test]
async fn logins_by_e_mail_and_by_username_share_the_account_budget() {
    for h in harnesses(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")]).await {
        h.register("ada@example.org", "ada").await;
        for login in ["ada@example.org", "ADA@example.org", "ada"] {
            assert_eq!(h.login(login, "wrong password").await.status(), 401);
        }
        assert_problem(
            h.login("Ada", "wrong password").await,
            429,
            "too-many-requests",
        )
        .await;
        assert_problem(
            h.login("ada@example.org", PASSWORD).await,
            429,
            "too-many-requests",
        )
        .await;
    }
}

#[tokio::test]
async fn a_wrong_current_password_counts_against_the_login_budget() {
    for h in harnesses(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")]).await {
        let a = h.register("ada@example.org", "ada").await;
        let change = |current: &'static str| {
            h.http
                .put(h.url("/me/password"))
                .bearer_auth(&a.access)
                .json(
                    &json!({"currentPassword": current, "newPassword": "another long password 2"}),
                )
                .send()
        };
        for _ in 0..3 {
            assert_eq!(change("wrong password").await.unwrap().status(), 422);
        }
        // A stolen access token cannot go on guessing, even with the right password next.
        assert_problem(change(PASSWORD).await.unwrap(), 429, "too-many-requests").await;
        assert_problem(h.login("ada", PASSWORD).await, 429, "too-many-requests").await;
    }
}

#[tokio::test]
async fn failed_logins_are_also_limited_per_client_ip() {
    let h = sqlite_harness(&[("LOGIN_MAX_FAILURES_PER_IP", "4")]).await;
    h.register("ada@example.org", "ada").await;
    for i in 0..4 {
        assert_eq!(
            h.login(&format!("user{i}@example.org"), "wrong password")
                .await
                .status(),
            401
        );
    }
    assert_problem(h.login("ada", PASSWORD).await, 429, "too-many-requests").await;
}

#[tokio::test]
async fn unauthenticated_and_forged_tokens_are_refused() {
    let h = sqlite_harness(&[]).await;
    assert_problem(
        h.http.get(h.url("/me")).send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(h.get_auth("/me", "abc.def.ghi").await, 401, "invalid-token").await;
    let other =
        plangen_core::TokenKeys::new(&secret(&"z".repeat(40)), std::time::Duration::from_secs(60));
    let forged = other.sign(&other.claims_for("u", "s", "a@b.c", "admin"));
    assert_problem(h.get_auth("/me", &forged).await, 401, "invalid-token").await;
    let keys = h.state.access_keys();
    let mut expired = keys.claims_for("u", "s", "a@b.c", "user");
    expired.exp -= 3600;
    expired.iat -= 3600;
    assert_problem(
        h.get_auth("/me", &keys.sign(&expired)).await,
        401,
        "token-expired",
    )
    .await;
}

#[tokio::test]
async fn operational_endpoints() {
    let h = sqlite_harness(&[]).await;
    let res = h.http.get(h.server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ready: Value = h
        .http
        .get(h.server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"][0]["name"], "database");
    h.register("ada@example.org", "ada").await;
    let metrics = h
        .http
        .get(h.server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"route="/api/auth/register",status="201"} 1"#),
        "{metrics}"
    );
    let doc: Value = h
        .http
        .get(h.server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/logout-all",
        "/api/auth/sessions",
        "/api/auth/sessions/{id}",
        "/api/auth/me",
        "/api/auth/me/password",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_problem(
        h.http.get(h.url("/nope")).send().await.unwrap(),
        404,
        "not-found",
    )
    .await;
    assert_problem(
        h.http.get(h.url("/login")).send().await.unwrap(),
        405,
        "method-not-allowed",
    )
    .await;

    let res = h
        .http
        .get(h.server.url("/healthz"))
        .header("x-request-id", "client-id-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-id-1");
    let res = h
        .http
        .get(h.server.url("/healthz"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "bad id with spaces");
}

#[tokio::test]
async fn behind_the_gateway_and_an_ingress_the_client_is_the_address_the_ingress_saw() {
    // TRUST_FORWARDED_FOR=2: the ingress appended what it saw, then the gateway appended the
    // ingress's own address; the entry before those came from the client and is not believed.
    let h = sqlite_harness(&[("TRUST_FORWARDED_FOR", "2")]).await;
    let a = h.register("fwd@example.com", "fwd").await;
    for spoofed in 1..=2 {
        let res = h
            .http
            .post(h.url("/login"))
            .header("user-agent", format!("behind-proxies/{spoofed}"))
            .header(
                "x-forwarded-for",
                format!("198.51.100.{spoofed}, 203.0.113.7, 10.0.0.5"),
            )
            .json(&json!({"login": "fwd", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let list: Value = h
        .get_auth("/sessions", &a.access)
        .await
        .json()
        .await
        .unwrap();
    let behind: Vec<&Value> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["userAgent"]
                .as_str()
                .is_some_and(|ua| ua.starts_with("behind-proxies/"))
        })
        .collect();
    assert_eq!(behind.len(), 2, "{list}");
    for s in behind {
        assert_eq!(s["ip"], "203.0.113.7", "{list}");
    }
}
