//! One contract for `UserStore`, run against every backend available: SQLite always,
//! PostgreSQL when `DATABASE_URL` is set (required in CI).

use std::sync::Arc;

use chrono::{Duration, Utc};
use plangen_auth::store::{
    NewRefreshToken, NewUser, ProfileChanges, Rotation, Session, StoreError, User, UserStore,
};
use plangen_auth::{Database, open_store};
use plangen_core::testing;

/// Rotation without the retry grace: any second presentation of a rotated token is reuse.
const NO_GRACE: std::time::Duration = std::time::Duration::ZERO;
/// The auth service's default retry grace.
const GRACE: std::time::Duration = std::time::Duration::from_secs(30);

struct Backend {
    name: &'static str,
    store: Arc<dyn UserStore>,
    _dir: Option<tempfile::TempDir>,
}

async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open_store(&Database::Sqlite(dir.path().join("c.db")))
        .await
        .unwrap();
    sqlite.migrate().await.unwrap();
    let mut all = vec![Backend {
        name: "sqlite",
        store: sqlite,
        _dir: Some(dir),
    }];
    if let Some(url) = testing::fresh_postgres_database().await {
        let pg = open_store(&Database::Postgres(url)).await.unwrap();
        pg.migrate().await.unwrap();
        pg.migrate().await.expect("migrations are idempotent");
        all.push(Backend {
            name: "postgres",
            store: pg,
            _dir: None,
        });
    }
    all
}

fn new_user(email: &str, username: &str) -> NewUser {
    NewUser {
        id: uuid::Uuid::now_v7().to_string(),
        email: email.into(),
        password_hash: "$argon2id$fake".into(),
        name: None,
        username: username.into(),
    }
}

fn session(
    user_id: &str,
    created: chrono::DateTime<Utc>,
    ttl_days: i64,
) -> (Session, NewRefreshToken) {
    let id = uuid::Uuid::now_v7().to_string();
    let s = Session {
        id: id.clone(),
        user_id: user_id.into(),
        created_at: created,
        last_used_at: created,
        expires_at: created + Duration::days(ttl_days),
        revoked_at: None,
        user_agent: Some("test".into()),
        ip: Some("10.0.0.1".into()),
    };
    let t = token(user_id, &id, created + Duration::days(ttl_days));
    (s, t)
}

fn token(user_id: &str, session_id: &str, expires_at: chrono::DateTime<Utc>) -> NewRefreshToken {
    let id = uuid::Uuid::now_v7().to_string();
    NewRefreshToken {
        token_hash: format!("hash-{id}"),
        id,
        user_id: user_id.into(),
        session_id: session_id.into(),
        expires_at,
    }
}

#[tokio::test]
async fn users_are_found_by_id_email_or_username_and_stay_unique() {
    for b in backends().await {
        let now = Utc::now();
        let ada = b
            .store
            .create_user(new_user("ada@example.org", "Ada"), now)
            .await
            .unwrap();
        assert!(
            ada.is_active && !ada.is_email_verified && ada.role == "user",
            "[{}]",
            b.name
        );
        assert_eq!(
            b.store.user_by_id(&ada.id).await.unwrap().unwrap().email,
            "ada@example.org"
        );
        assert_eq!(
            b.store
                .user_by_login("ada@example.org")
                .await
                .unwrap()
                .unwrap()
                .id,
            ada.id
        );
        assert_eq!(
            b.store.user_by_login("aDA").await.unwrap().unwrap().id,
            ada.id,
            "[{}]",
            b.name
        );
        assert!(b.store.user_by_login("nobody").await.unwrap().is_none());
        assert!(b.store.user_by_id("missing").await.unwrap().is_none());

        let dup_email = b
            .store
            .create_user(new_user("ada@example.org", "other"), now)
            .await;
        assert!(
            matches!(dup_email, Err(StoreError::Conflict { field: "email" })),
            "[{}] {dup_email:?}",
            b.name
        );
        let dup_name = b
            .store
            .create_user(new_user("b@example.org", "ADA"), now)
            .await;
        assert!(
            matches!(dup_name, Err(StoreError::Conflict { field: "username" })),
            "[{}] {dup_name:?}",
            b.name
        );
    }
}

#[tokio::test]
async fn profile_changes_touch_only_what_they_name() {
    for b in backends().await {
        let now = Utc::now();
        let ada = b
            .store
            .create_user(new_user("ada@example.org", "ada"), now)
            .await
            .unwrap();
        b.store
            .create_user(new_user("bob@example.org", "bob"), now)
            .await
            .unwrap();
        let changed = b
            .store
            .update_profile(
                &ada.id,
                ProfileChanges {
                    name: Some(Some("Ada".into())),
                    bio: Some(Some("hi".into())),
                    ..Default::default()
                },
                now,
            )
            .await
            .unwrap();
        assert_eq!(
            (
                changed.name.as_deref(),
                changed.bio.as_deref(),
                changed.username.as_str()
            ),
            (Some("Ada"), Some("hi"), "ada")
        );
        let cleared = b
            .store
            .update_profile(
                &ada.id,
                ProfileChanges {
                    bio: Some(None),
                    ..Default::default()
                },
                now,
            )
            .await
            .unwrap();
        assert_eq!(
            (cleared.name.as_deref(), cleared.bio.as_deref()),
            (Some("Ada"), None),
            "[{}]",
            b.name
        );
        let taken = b
            .store
            .update_profile(
                &ada.id,
                ProfileChanges {
                    username: Some("Bob".into()),
                    ..Default::default()
                },
                now,
            )
            .await;
        assert!(
            matches!(taken, Err(StoreError::Conflict { field: "username" })),
            "[{}]",
            b.name
        );
        let missing = b
            .store
            .update_profile("nope", ProfileChanges::default(), now)
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
        b.store
            .set_password_hash(&ada.id, "$argon2id$new", now)
            .await
            .unwrap();
        assert_eq!(
            b.store
                .user_by_id(&ada.id)
                .await
                .unwrap()
                .unwrap()
                .password_hash,
            "$argon2id$new"
        );
    }
}

#[tokio::test]
async fn rotation_replaces_the_token_and_replay_revokes_the_family() {
    for b in backends().await {
        let now = Utc::now();
        let ada = b
            .store
            .create_user(new_user("ada@example.org", "ada"), now)
            .await
            .unwrap();
        let (s, first) = session(&ada.id, now, 7);
        b.store
            .create_session(s.clone(), first.clone())
            .await
            .unwrap();

        let second = token(&ada.id, &s.id, now + Duration::days(7));
        let r = b
            .store
            .rotate_refresh_token(&first.token_hash, second.clone(), now, NO_GRACE)
            .await
            .unwrap();
        assert!(
            matches!(r, Rotation::Rotated { ref user } if user.id == ada.id),
            "[{}] {r:?}",
            b.name
        );

        let third = token(&ada.id, &s.id, now + Duration::days(7));
        let r = b
            .store
            .rotate_refresh_token(&first.token_hash, third.clone(), now, NO_GRACE)
            .await
            .unwrap();
        assert_eq!(
            r,
            Rotation::Reused {
                session_id: s.id.clone()
            },
            "[{}]",
            b.name
        );
        // The family is gone: even the current token no longer rotates.
        let r = b
            .store
            .rotate_refresh_token(&second.token_hash, third.clone(), now, NO_GRACE)
            .await
            .unwrap();
        assert!(matches!(r, Rotation::Reused { .. }), "[{}] {r:?}", b.name);
        assert!(
            b.store
                .active_sessions(&ada.id, now)
                .await
                .unwrap()
                .is_empty()
        );

        let r = b
            .store
            .rotate_refresh_token("unknown-hash", third, now, GRACE)
            .await
            .unwrap();
        assert_eq!(r, Rotation::Unknown);
    }
}

#[tokio::test]
async fn a_retry_within_the_grace_gets_another_token_and_a_late_or_informed_one_is_reuse() {
    for b in backends().await {
        let now = Utc::now();
        let at = |secs: i64| now + Duration::seconds(secs);
        let ada = b
            .store
            .create_user(new_user("ada@example.org", "ada"), now)
            .await
            .unwrap();
        let rotate = |old: &NewRefreshToken, when| {
            let next = token(&ada.id, &old.session_id, when + Duration::days(7));
            let store = b.store.clone();
            let old_hash = old.token_hash.clone();
            async move {
                let r = store
                    .rotate_refresh_token(&old_hash, next.clone(), when, GRACE)
                    .await
                    .unwrap();
                (r, next)
            }
        };
        let (s, first) = session(&ada.id, now, 7);
        b.store.create_session(s, first.clone()).await.unwrap();

        let (r, _second) = rotate(&first, now).await;
        assert!(matches!(r, Rotation::Rotated { .. }), "[{}] {r:?}", b.name);
        // The answer with `second` was lost: the client presents `first` again, 10 s later,
        // and once more (each retry answered, as long as `second` stays unused).
        let (r, _) = rotate(&first, at(10)).await;
        assert!(
            matches!(r, Rotation::Retried { ref user } if user.id == ada.id),
            "[{}] {r:?}",
            b.name
        );
        let (r, third) = rotate(&first, at(11)).await;
        assert!(matches!(r, Rotation::Retried { .. }), "[{}] {r:?}", b.name);
        // Using the retry's token leaves one live chain: `second` is revoked, and `first`
        // (whose replacement is now spent) is reuse, even inside the grace.
        let (r, fourth) = rotate(&third, at(12)).await;
        assert!(matches!(r, Rotation::Rotated { .. }), "[{}] {r:?}", b.name);
        let (r, _) = rotate(&first, at(13)).await;
        assert!(matches!(r, Rotation::Reused { .. }), "[{}] {r:?}", b.name);
        let (r, _) = rotate(&fourth, at(14)).await;
        assert!(
            matches!(r, Rotation::Reused { .. }),
            "[{}] the session ended: {r:?}",
            b.name
        );
        assert!(
            b.store
                .active_sessions(&ada.id, at(14))
                .await
                .unwrap()
                .is_empty()
        );

        // Whichever of the two is used first, the other is then reuse.
        for use_replacement in [true, false] {
            let (s, first) = session(&ada.id, now, 7);
            b.store.create_session(s, first.clone()).await.unwrap();
            let (_, replacement) = rotate(&first, now).await;
            let (r, retry) = rotate(&first, at(5)).await;
            assert!(matches!(r, Rotation::Retried { .. }), "[{}] {r:?}", b.name);
            let (used, left) = if use_replacement {
                (replacement, retry)
            } else {
                (retry, replacement)
            };
            let (r, _) = rotate(&used, at(6)).await;
            assert!(matches!(r, Rotation::Rotated { .. }), "[{}] {r:?}", b.name);
            let (r, _) = rotate(&left, at(7)).await;
            assert!(matches!(r, Rotation::Reused { .. }), "[{}] {r:?}", b.name);
        }

        // Past the grace, a replacement never used does not make a replay a retry.
        let (s, first) = session(&ada.id, now, 7);
        b.store.create_session(s, first.clone()).await.unwrap();
        let (r, _) = rotate(&first, now).await;
        assert!(matches!(r, Rotation::Rotated { .. }), "[{}] {r:?}", b.name);
        let (r, _) = rotate(&first, at(31)).await;
        assert!(matches!(r, Rotation::Reused { .. }), "[{}] {r:?}", b.name);

        // Nor inside it, once the session was ended (logout).
        let (s, first) = session(&ada.id, now, 7);
        b.store
            .create_session(s.clone(), first.clone())
            .await
            .unwrap();
        let (r, _) = rotate(&first, now).await;
        assert!(matches!(r, Rotation::Rotated { .. }), "[{}] {r:?}", b.name);
        assert!(b.store.revoke_session(&ada.id, &s.id, at(1)).await.unwrap());
        let (r, _) = rotate(&first, at(2)).await;
        assert!(
            !matches!(r, Rotation::Retried { .. } | Rotation::Rotated { .. }),
            "[{}] {r:?}",
            b.name
        );
    }
}

/// A fresh PostgreSQL database (its URL, for a second connection that holds a transaction
/// open), its store and a user; `None` where no PostgreSQL is configured.
async fn postgres_with_ada() -> Option<(String, Arc<dyn UserStore>, User)> {
    let url = testing::fresh_postgres_database().await?;
    let store = open_store(&Database::Postgres(url.clone())).await.unwrap();
    store.migrate().await.unwrap();
    let ada = store
        .create_user(new_user("ada@example.org", "ada"), Utc::now())
        .await
        .unwrap();
    Some((url, store, ada))
}

#[tokio::test]
async fn on_postgres_a_retry_waits_for_a_rotation_of_its_session_in_flight() {
    // The race the session-row lock closes: the replacement is being used (its rotation not
    // yet committed) while the old token is presented again. Seen through READ COMMITTED the
    // replacement still looks unused; the retry must wait and then see it used: reuse.
    use sqlx::Connection as _;
    let Some((url, store, ada)) = postgres_with_ada().await else {
        return;
    };
    let now = Utc::now();
    let (s, first) = session(&ada.id, now, 7);
    store
        .create_session(s.clone(), first.clone())
        .await
        .unwrap();
    let second = token(&ada.id, &s.id, now + Duration::days(7));
    let r = store
        .rotate_refresh_token(&first.token_hash, second.clone(), now, GRACE)
        .await
        .unwrap();
    assert!(matches!(r, Rotation::Rotated { .. }), "{r:?}");

    // Another rotation, of `second`, in flight: as the store begins one, then its claim.
    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("UPDATE sessions SET last_used_at = last_used_at WHERE id = $1")
        .bind(&s.id)
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("UPDATE refresh_tokens SET revoked = TRUE, revoked_at = $1 WHERE token_hash = $2")
        .bind(now + Duration::seconds(4))
        .bind(&second.token_hash)
        .execute(&mut other)
        .await
        .unwrap();

    let retry = token(&ada.id, &s.id, now + Duration::days(7));
    let retrying = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .rotate_refresh_token(&first.token_hash, retry, now + Duration::seconds(5), GRACE)
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !retrying.is_finished(),
        "the retry went ahead of the rotation in flight: {:?}",
        retrying.await
    );
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let r = retrying.await.unwrap();
    assert!(matches!(r, Rotation::Reused { .. }), "{r:?}");
}

#[tokio::test]
async fn expired_tokens_do_not_rotate() {
    for b in backends().await {
        let now = Utc::now();
        let ada = b
            .store
            .create_user(new_user("ada@example.org", "ada"), now)
            .await
            .unwrap();
        let (s, t) = session(&ada.id, now - Duration::days(8), 7);
        b.store.create_session(s.clone(), t.clone()).await.unwrap();
        let next = token(&ada.id, &s.id, now + Duration::days(7));
        assert_eq!(
            b.store
                .rotate_refresh_token(&t.token_hash, next, now, GRACE)
                .await
                .unwrap(),
            Rotation::Expired,
            "[{}]",
            b.name
        );
        assert!(
            b.store
                .active_sessions(&ada.id, now)
                .await
                .unwrap()
                .is_empty(),
            "expired sessions are not active"
        );
    }
}

#[tokio::test]
async fn sessions_are_listed_newest_first_and_revoked_one_or_all_but_one() {
    for b in backends().await {
        let now = Utc::now();
        let ada = b
            .store
            .create_user(new_user("ada@example.org", "ada"), now)
            .await
            .unwrap();
        let bob = b
            .store
            .create_user(new_user("bob@example.org", "bob"), now)
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let (s, t) = session(&ada.id, now - Duration::minutes(10 - i), 7);
            ids.push(s.id.clone());
            b.store.create_session(s, t).await.unwrap();
        }
        let (bob_session, bob_token) = session(&bob.id, now, 7);
        b.store
            .create_session(bob_session.clone(), bob_token)
            .await
            .unwrap();

        let listed: Vec<String> = b
            .store
            .active_sessions(&ada.id, now)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            listed,
            ids.iter().rev().cloned().collect::<Vec<_>>(),
            "[{}]",
            b.name
        );

        assert!(
            !b.store
                .revoke_session(&ada.id, &bob_session.id, now)
                .await
                .unwrap(),
            "[{}] not ada's",
            b.name
        );
        assert!(b.store.revoke_session(&ada.id, &ids[0], now).await.unwrap());
        assert!(
            !b.store.revoke_session(&ada.id, &ids[0], now).await.unwrap(),
            "already ended"
        );

        let mut ended = b
            .store
            .revoke_sessions(&ada.id, Some(&ids[2]), now)
            .await
            .unwrap();
        ended.sort();
        assert_eq!(ended, vec![ids[1].clone()], "[{}]", b.name);
        let left: Vec<String> = b
            .store
            .active_sessions(&ada.id, now)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(left, vec![ids[2].clone()]);
        assert_eq!(
            b.store.active_sessions(&bob.id, now).await.unwrap().len(),
            1,
            "bob untouched"
        );
    }
}

#[tokio::test]
async fn deactivation_ends_every_session() {
    for b in backends().await {
        let now = Utc::now();
        let ada = b
            .store
            .create_user(new_user("ada@example.org", "ada"), now)
            .await
            .unwrap();
        let (s, t) = session(&ada.id, now, 7);
        b.store.create_session(s.clone(), t.clone()).await.unwrap();
        assert_eq!(
            b.store.deactivate(&ada.id, now).await.unwrap(),
            vec![s.id.clone()],
            "[{}] the sessions it revoked",
            b.name
        );
        assert!(
            !b.store
                .user_by_id(&ada.id)
                .await
                .unwrap()
                .unwrap()
                .is_active,
            "[{}]",
            b.name
        );
        assert!(
            b.store
                .active_sessions(&ada.id, now)
                .await
                .unwrap()
                .is_empty()
        );
        let next = token(&ada.id, &s.id, now + Duration::days(7));
        assert!(!matches!(
            b.store
                .rotate_refresh_token(&t.token_hash, next, now, GRACE)
                .await
                .unwrap(),
            Rotation::Rotated { .. }
        ));
        assert!(matches!(
            b.store.deactivate("nope", now).await,
            Err(StoreError::NotFound)
        ));
        // No session begins for a deactivated user.
        let (late, late_token) = session(&ada.id, now, 7);
        assert!(
            matches!(
                b.store.create_session(late, late_token).await,
                Err(StoreError::NotFound)
            ),
            "[{}]",
            b.name
        );
        assert!(
            b.store
                .active_sessions(&ada.id, now)
                .await
                .unwrap()
                .is_empty(),
            "[{}]",
            b.name
        );
    }
}

#[tokio::test]
async fn on_postgres_a_session_waits_for_a_deactivation_in_flight_and_is_refused() {
    // A login whose password check ended while the account is being deactivated: its session
    // must not begin after the deactivation's revocations and outlive them.
    use sqlx::Connection as _;
    let Some((url, store, ada)) = postgres_with_ada().await else {
        return;
    };
    let now = Utc::now();
    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("UPDATE users SET is_active = FALSE WHERE id = $1")
        .bind(&ada.id)
        .execute(&mut other)
        .await
        .unwrap();

    let (s, t) = session(&ada.id, now, 7);
    let starting = tokio::spawn({
        let store = store.clone();
        async move { store.create_session(s, t).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !starting.is_finished(),
        "the session began beside the deactivation in flight: {:?}",
        starting.await
    );
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let started = starting.await.unwrap();
    assert!(matches!(started, Err(StoreError::NotFound)), "{started:?}");
    assert!(
        store
            .active_sessions(&ada.id, now)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Sets the NFC data step back to pending, as a database migrated by an earlier release is.
async fn set_nfc_step_pending(database: &Database) {
    use sqlx::Connection as _;
    let sql = "UPDATE auth_data_migrations SET done_at = NULL";
    match database {
        Database::Sqlite(path) => {
            let url = format!("sqlite:{}", path.display());
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&mut db).await.unwrap();
        }
        Database::Postgres(url) => {
            let mut db = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut db).await.unwrap();
        }
    }
}

#[tokio::test]
async fn addresses_stored_before_nfc_are_rewritten_once_when_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let mut databases = vec![Database::Sqlite(dir.path().join("nfc.db"))];
    if let Some(url) = testing::fresh_postgres_database().await {
        databases.push(Database::Postgres(url));
    }
    let (lea_decomposed, lea) = ("le\u{301}a@example.org", "l\u{e9}a@example.org");
    let (zoe_decomposed, zoe) = ("zoe\u{308}@example.org", "zo\u{eb}@example.org");
    for database in databases {
        let store = open_store(&database).await.unwrap();
        store.migrate().await.unwrap();
        let now = Utc::now();
        // Stored as an earlier release stored them: lower-cased, not in NFC; and one
        // address registered in both forms, as two accounts.
        let old_lea = store
            .create_user(new_user(lea_decomposed, "lea"), now)
            .await
            .unwrap();
        let old_zoe = store
            .create_user(new_user(zoe_decomposed, "zoe_old"), now)
            .await
            .unwrap();
        let new_zoe = store
            .create_user(new_user(zoe, "zoe_new"), now)
            .await
            .unwrap();
        set_nfc_step_pending(&database).await;

        store.migrate().await.unwrap();
        let found = store.user_by_login(lea).await.unwrap().expect("rewritten");
        assert_eq!((found.id, found.email), (old_lea.id, lea.to_owned()));
        // The colliding one is left as it was, and each account keeps its own address.
        let kept = store.user_by_id(&old_zoe.id).await.unwrap().unwrap();
        assert_eq!(kept.email, zoe_decomposed);
        assert_eq!(
            store.user_by_login(zoe).await.unwrap().unwrap().id,
            new_zoe.id
        );

        // Done once: an address stored in another form later is not rewritten again.
        store
            .create_user(new_user("ma\u{308}x@example.org", "max"), now)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        assert!(
            store
                .user_by_login("m\u{e4}x@example.org")
                .await
                .unwrap()
                .is_none()
        );
    }
}
