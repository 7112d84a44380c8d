//! The SQL both backends run. It is portable (`$n` parameters, `RETURNING`, `TRUE`/`FALSE`),
//! so it is written once and expanded for each backend's pool type.

/// Revokes every token of session `$1` still live, at `$2`.
pub(super) const REVOKE_SESSION_TOKENS: &str = "UPDATE refresh_tokens SET revoked = TRUE, revoked_at = $2 WHERE session_id = $1 AND revoked = FALSE";

/// Implements `UserStore` for a type with a `pool` field and a `migrator()` function.
macro_rules! impl_user_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UserStore for $store {
            async fn migrate(&self) -> Result<(), $crate::store::StoreError> {
                Self::migrator().run(&self.pool).await?;
                // Addresses stored before they were kept in NFC, rewritten once. Claiming the
                // step and doing it are one transaction, so of replicas starting together one
                // does it and the others wait, then find it done.
                let mut tx = self.pool.begin().await?;
                let claimed = sqlx::query(
                    "UPDATE auth_data_migrations SET done_at = $1 WHERE name = 'emails-nfc' AND done_at IS NULL",
                )
                .bind(chrono::Utc::now())
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() == 1 {
                    let users: Vec<(String, String)> = sqlx::query_as("SELECT id, email FROM users")
                        .fetch_all(&mut *tx)
                        .await?;
                    for (id, email) in users {
                        let nfc = $crate::store::normalise_email(&email);
                        if nfc == email {
                            continue;
                        }
                        let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
                            .bind(&nfc)
                            .fetch_optional(&mut *tx)
                            .await?;
                        if let Some((other,)) = taken {
                            // Two accounts for one address: both are kept (the older one still
                            // logs in as typed at registration) and left to an operator to merge.
                            tracing::warn!(user_id = %id, other_user_id = %other, "an e-mail address in another Unicode form belongs to another account; left as stored");
                            continue;
                        }
                        sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
                            .bind(&id)
                            .bind(&nfc)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn create_user(
                &self,
                user: $crate::store::NewUser,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::User, $crate::store::StoreError> {
                sqlx::query_as(
                    "INSERT INTO users (id, email, password_hash, name, username, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *",
                )
                .bind(&user.id)
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(&user.name)
                .bind(&user.username)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::classify)
            }

            async fn user_by_id(&self, id: &str) -> Result<Option<$crate::store::User>, $crate::store::StoreError> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn user_by_login(&self, login: &str) -> Result<Option<$crate::store::User>, $crate::store::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM users WHERE email = $1 OR lower(username) = lower($1) LIMIT 1",
                )
                .bind(login)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn update_profile(
                &self,
                id: &str,
                changes: $crate::store::ProfileChanges,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::User, $crate::store::StoreError> {
                let row: Option<$crate::store::User> = sqlx::query_as(
                    "UPDATE users SET
                        name = CASE WHEN $2 THEN $3 ELSE name END,
                        username = COALESCE($4, username),
                        avatar = CASE WHEN $5 THEN $6 ELSE avatar END,
                        bio = CASE WHEN $7 THEN $8 ELSE bio END,
                        updated_at = $9
                     WHERE id = $1 RETURNING *",
                )
                .bind(id)
                .bind(changes.name.is_some())
                .bind(changes.name.flatten())
                .bind(changes.username)
                .bind(changes.avatar.is_some())
                .bind(changes.avatar.flatten())
                .bind(changes.bio.is_some())
                .bind(changes.bio.flatten())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::classify)?;
                row.ok_or($crate::store::StoreError::NotFound)
            }

            async fn set_password_hash(
                &self,
                id: &str,
                hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                let done = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                Ok(())
            }

            async fn deactivate(&self, id: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<String>, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("UPDATE users SET is_active = FALSE, updated_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                let revoked: Vec<String> = sqlx::query_scalar(
                    "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
                )
                .bind(id)
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                sqlx::query("UPDATE refresh_tokens SET revoked = TRUE, revoked_at = $2 WHERE user_id = $1 AND revoked = FALSE")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(revoked)
            }

            async fn create_session(
                &self,
                session: $crate::store::Session,
                token: $crate::store::NewRefreshToken,
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                // Only for an active user, checked under the user's row lock (the write lock on
                // SQLite): a deactivation in flight is waited for and then seen, so no session
                // can begin after it and outlive it.
                let active = sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1 AND is_active")
                    .bind(&session.user_id)
                    .execute(&mut *tx)
                    .await?;
                if active.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                sqlx::query(
                    "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&session.id)
                .bind(&session.user_id)
                .bind(session.created_at)
                .bind(session.last_used_at)
                .bind(session.expires_at)
                .bind(&session.user_agent)
                .bind(&session.ip)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, expires_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&token.id)
                .bind(&token.token_hash)
                .bind(&token.user_id)
                .bind(&token.session_id)
                .bind(token.expires_at)
                .bind(session.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn rotate_refresh_token(
                &self,
                old_hash: &str,
                new: $crate::store::NewRefreshToken,
                now: chrono::DateTime<chrono::Utc>,
                retry_grace: std::time::Duration,
            ) -> Result<$crate::store::Rotation, $crate::store::StoreError> {
                use $crate::store::Rotation;
                let mut tx = self.pool.begin().await?;
                // Rotations of one session take turns (the session's row lock on PostgreSQL,
                // the write lock on SQLite), so each sees what the one before it committed: a
                // retry cannot pass its check while the replacement is being used.
                sqlx::query("UPDATE sessions SET last_used_at = last_used_at WHERE id = $1")
                    .bind(&new.session_id)
                    .execute(&mut *tx)
                    .await?;
                // Claiming the old token and checking it is current is one statement: of two
                // concurrent rotations the second waits for the first and then matches nothing.
                let claimed: Option<(String,)> = sqlx::query_as(
                    "UPDATE refresh_tokens SET revoked = TRUE, revoked_at = $1, replaced_by = $2
                     WHERE token_hash = $3 AND session_id = $4 AND user_id = $5
                       AND revoked = FALSE AND expires_at > $1
                       AND session_id IN (SELECT id FROM sessions WHERE revoked_at IS NULL)
                     RETURNING user_id",
                )
                .bind(now)
                .bind(&new.id)
                .bind(old_hash)
                .bind(&new.session_id)
                .bind(&new.user_id)
                .fetch_optional(&mut *tx)
                .await?;
                let retried = if claimed.is_some() {
                    // One live chain per session: a token a retry left unused (the replacement
                    // whose answer was lost, or the retry's own) ends when another is used, so
                    // presenting it later is reuse, and the old token no longer retries.
                    sqlx::query($crate::store::sql::REVOKE_SESSION_TOKENS)
                        .bind(&new.session_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    false
                } else {
                    // What the presented token is, in one read. It may be retried when it was
                    // rotated moments ago into a replacement nobody has used since, in a
                    // session still open: whoever sent it cannot have had the replacement.
                    let since = chrono::Duration::from_std(retry_grace)
                        .ok()
                        .and_then(|grace| now.checked_sub_signed(grace))
                        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
                    let presented: Option<(String, bool, bool)> = sqlx::query_as(
                        "SELECT old.session_id, old.revoked, COALESCE(
                                old.revoked_at >= $2 AND old.expires_at > $3
                                AND old.session_id = $4 AND old.user_id = $5
                                AND EXISTS (SELECT 1 FROM refresh_tokens replacement
                                            WHERE replacement.id = old.replaced_by
                                              AND replacement.revoked = FALSE)
                                AND EXISTS (SELECT 1 FROM sessions s
                                            WHERE s.id = old.session_id AND s.revoked_at IS NULL),
                                FALSE)
                         FROM refresh_tokens old WHERE old.token_hash = $1",
                    )
                    .bind(old_hash)
                    .bind(since)
                    .bind(now)
                    .bind(&new.session_id)
                    .bind(&new.user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let outcome = match presented {
                        Some((_, _, true)) if !retry_grace.is_zero() => None,
                        Some((session_id, true, _)) => {
                            // Replay of a rotated token: end the whole family.
                            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                                .bind(&session_id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query($crate::store::sql::REVOKE_SESSION_TOKENS)
                                .bind(&session_id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            Some(Rotation::Reused { session_id })
                        }
                        Some((_, false, _)) => Some(Rotation::Expired),
                        None => Some(Rotation::Unknown),
                    };
                    if let Some(outcome) = outcome {
                        tx.commit().await?;
                        return Ok(outcome);
                    }
                    true
                };
                sqlx::query(
                    "INSERT INTO refresh_tokens (id, token_hash, user_id, session_id, expires_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&new.id)
                .bind(&new.token_hash)
                .bind(&new.user_id)
                .bind(&new.session_id)
                .bind(new.expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1")
                    .bind(&new.session_id)
                    .bind(now)
                    .bind(new.expires_at)
                    .execute(&mut *tx)
                    .await?;
                let user: $crate::store::User = sqlx::query_as("SELECT * FROM users WHERE id = $1")
                    .bind(&new.user_id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(if retried {
                    Rotation::Retried { user }
                } else {
                    Rotation::Rotated { user }
                })
            }

            async fn active_sessions(
                &self,
                user_id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::store::Session>, $crate::store::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
                     ORDER BY created_at DESC, id DESC",
                )
                .bind(user_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn revoke_session(
                &self,
                user_id: &str,
                session_id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                )
                .bind(session_id)
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked = TRUE, revoked_at = $3 WHERE session_id = $1 AND user_id = $2 AND revoked = FALSE",
                )
                .bind(session_id)
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_sessions(
                &self,
                user_id: &str,
                keep: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<String>, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let ended: Vec<(String,)> = sqlx::query_as(
                    "UPDATE sessions SET revoked_at = $2
                     WHERE user_id = $1 AND revoked_at IS NULL AND id <> COALESCE($3, '')
                     RETURNING id",
                )
                .bind(user_id)
                .bind(now)
                .bind(keep)
                .fetch_all(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked = TRUE, revoked_at = $2
                     WHERE user_id = $1 AND revoked = FALSE
                       AND session_id IN (SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NOT NULL)",
                )
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(ended.into_iter().map(|(id,)| id).collect())
            }
        }
    };
}

pub(crate) use impl_user_store;
