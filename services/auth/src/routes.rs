//! HTTP handlers under `/api/auth`: thin — validate, call the store, shape the answer.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::header::{COOKIE, SET_COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use chrono::{DateTime, Utc};
use plangen_core::auth::BearerSecurity;
use plangen_core::validate::{Valid, Validate, Violations, is_http_url, is_plausible_email};
use plangen_core::{AuthUser, Json, Problem, ProblemKind};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::AuthState;
use crate::store::{
    NewRefreshToken, NewUser, ProfileChanges, Rotation, Session, StoreError, User, normalise_email,
};
use crate::throttle::Account;

pub(crate) const REFRESH_COOKIE: &str = "plangen_refresh";

#[derive(OpenApi)]
#[openapi(
    info(title = "Plangen auth service", version = "1"),
    paths(register, login, refresh, logout, logout_all, sessions, end_session, me, update_me, change_password, delete_me),
    components(schemas(UserView, TokenResponse, RegisterRequest, LoginRequest, RefreshRequest, SessionView, SessionList, ProfileUpdate, PasswordChange, Problem, plangen_core::FieldError)),
    modifiers(&BearerSecurity),
    tags((name = "auth", description = "Users, sessions and tokens"))
)]
pub struct ApiDoc;

pub(crate) fn router(state: AuthState) -> Router {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/logout-all", post(logout_all))
        .route("/api/auth/sessions", get(sessions))
        .route("/api/auth/sessions/{id}", delete(end_session))
        .route("/api/auth/me", get(me).patch(update_me).delete(delete_me))
        .route("/api/auth/me/password", put(change_password))
        .with_state(state)
}

// ---- views ----------------------------------------------------------------------------------

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    id: String,
    email: String,
    name: Option<String>,
    username: String,
    avatar: Option<String>,
    bio: Option<String>,
    role: String,
    is_active: bool,
    is_email_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            username: u.username,
            avatar: u.avatar,
            bio: u.bio,
            role: u.role,
            is_active: u.is_active,
            is_email_verified: u.is_email_verified,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    user: UserView,
    access_token: String,
    refresh_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// Seconds until the refresh token expires.
    refresh_expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    id: String,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    user_agent: Option<String>,
    ip: Option<String>,
    /// Whether this is the session of the token making the request.
    current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    sessions: Vec<SessionView>,
}

// ---- requests -------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    /// 8 to 128 characters.
    password: String,
    /// 3 to 32 of `A-Z a-z 0-9 _ . -`.
    username: String,
    name: Option<String>,
}

fn check_username(v: &mut Violations, username: &str) {
    v.length("username", username, 3, 32);
    v.check(
        username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')),
        "username",
        "may contain only letters, digits, '_', '.' and '-'",
    );
}

fn check_password(v: &mut Violations, field: &str, password: &str) {
    v.length(field, password, 8, 128);
}

impl Validate for RegisterRequest {
    fn validate(&self, v: &mut Violations) {
        let email = normalise_email(&self.email);
        v.check(
            email.chars().count() <= 254 && is_plausible_email(&email),
            "email",
            "must be a valid e-mail address",
        );
        check_password(v, "password", &self.password);
        check_username(v, self.username.trim());
        v.optional_length("name", self.name.as_deref(), 100);
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// E-mail or username. `email` and `username` are accepted as aliases.
    #[serde(alias = "email", alias = "username")]
    login: String,
    password: String,
}

impl Validate for LoginRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("login", self.login.trim(), 1, 254);
        v.length("password", &self.password, 1, 128);
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// Optional when the `plangen_refresh` cookie is sent.
    refresh_token: Option<String>,
}

/// Profile fields to change; absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileUpdate {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    username: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    avatar: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    bio: Option<Option<String>>,
}

fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

impl Validate for ProfileUpdate {
    fn validate(&self, v: &mut Violations) {
        if let Some(Some(name)) = &self.name {
            v.length("name", name, 0, 100);
        }
        if let Some(username) = &self.username {
            check_username(v, username.trim());
        }
        if let Some(Some(avatar)) = &self.avatar {
            v.check(
                avatar.len() <= 2048 && is_http_url(avatar),
                "avatar",
                "must be an http(s) URL of at most 2048 characters",
            );
        }
        if let Some(Some(bio)) = &self.bio {
            v.length("bio", bio, 0, 500);
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

impl Validate for PasswordChange {
    fn validate(&self, v: &mut Violations) {
        v.length("currentPassword", &self.current_password, 1, 128);
        check_password(v, "newPassword", &self.new_password);
        v.check(
            self.current_password != self.new_password,
            "newPassword",
            "must differ from the current password",
        );
    }
}

// ---- client facts ---------------------------------------------------------------------------

/// Who is calling from where: for sessions and the per-IP login throttle.
pub(crate) struct ClientInfo {
    ip: Option<String>,
    user_agent: Option<String>,
    https: bool,
}

impl FromRequestParts<AuthState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AuthState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let forwarded =
            plangen_core::forwarded::forwarded_client(&parts.headers, state.config.forwarded_hops)
                .map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        let https = parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        Ok(Self {
            ip: forwarded.or(peer),
            user_agent,
            https,
        })
    }
}

// ---- helpers --------------------------------------------------------------------------------

fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Conflict { field } => Problem::new(ProblemKind::Conflict)
            .detail(format!("This {field} is already taken"))
            .field(field, "is already taken"),
        StoreError::NotFound => Problem::not_found("User"),
        StoreError::Database(e) if plangen_core::error::sqlx_unreachable(&e) => {
            Problem::unavailable("the user database", e)
        }
        other => Problem::internal(other),
    }
}

fn refresh_cookie(token: &str, max_age_secs: u64, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{REFRESH_COOKIE}={token}; Path=/api; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .expect("tokens are header-safe")
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("plangen_refresh=; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// Starts a session for `user` and answers with a token pair (and the refresh cookie).
async fn start_session(
    state: &AuthState,
    user: User,
    client: &ClientInfo,
    status: StatusCode,
) -> Result<Response, Problem> {
    let now = Utc::now();
    let session_id = uuid::Uuid::now_v7().to_string();
    let refresh = state.refresh_keys.issue(&user.id, &session_id, now);
    let session = Session {
        id: session_id.clone(),
        user_id: user.id.clone(),
        created_at: now,
        last_used_at: now,
        expires_at: refresh.expires_at,
        revoked_at: None,
        user_agent: client.user_agent.clone(),
        ip: client.ip.clone(),
    };
    let token = NewRefreshToken {
        id: refresh.id.clone(),
        token_hash: refresh.hash.clone(),
        user_id: user.id.clone(),
        session_id: session_id.clone(),
        expires_at: refresh.expires_at,
    };
    state
        .store
        .create_session(session, token)
        .await
        .map_err(|e| match e {
            // Deactivated while the password was being checked.
            StoreError::NotFound => Problem::new(ProblemKind::AccountInactive),
            other => store_problem(other),
        })?;
    Ok(token_response(
        state,
        user,
        &session_id,
        refresh.token,
        client.https,
        status,
    ))
}

fn token_response(
    state: &AuthState,
    user: User,
    session_id: &str,
    refresh_token: String,
    https: bool,
    status: StatusCode,
) -> Response {
    let keys = state.access_keys();
    let access_token = keys.sign(&keys.claims_for(&user.id, session_id, &user.email, &user.role));
    let refresh_ttl = state.refresh_keys.ttl.as_secs();
    let cookie = refresh_cookie(&refresh_token, refresh_ttl, https);
    let body = TokenResponse {
        user: user.into(),
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: keys.access_ttl.as_secs(),
        refresh_expires_in: refresh_ttl,
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(SET_COOKIE, cookie);
    response
}

/// Denies the sessions' access tokens for as long as any of them could still be valid.
async fn deny_sessions(state: &AuthState, session_ids: &[String]) -> Result<(), Problem> {
    let ttl = state.access_keys().access_ttl;
    for id in session_ids {
        state
            .shared
            .deny_list
            .deny(id, ttl)
            .await
            .map_err(|e| Problem::unavailable("the session store", e))?;
    }
    Ok(())
}

fn no_content_clearing_cookie() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(SET_COOKIE, clear_cookie());
    response
}

async fn current_user(state: &AuthState, auth: &AuthUser) -> Result<User, Problem> {
    match state
        .store
        .user_by_id(&auth.user_id)
        .await
        .map_err(store_problem)?
    {
        Some(u) if u.is_active => Ok(u),
        Some(_) => Err(Problem::new(ProblemKind::AccountInactive)),
        None => Err(Problem::not_found("User")),
    }
}

// ---- handlers -------------------------------------------------------------------------------

/// Create an account and start a session.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = TokenResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn register(
    State(state): State<AuthState>,
    client: ClientInfo,
    Valid(req): Valid<RegisterRequest>,
) -> Result<Response, Problem> {
    let password_hash = state
        .passwords
        .hash(&req.password)
        .await
        .map_err(Problem::internal)?;
    let new_user = NewUser {
        id: uuid::Uuid::now_v7().to_string(),
        email: normalise_email(&req.email),
        password_hash,
        name: req
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        username: req.username.trim().to_owned(),
    };
    let user = state
        .store
        .create_user(new_user, Utc::now())
        .await
        .map_err(store_problem)?;
    tracing::info!(user_id = %user.id, "user registered");
    start_session(&state, user, &client, StatusCode::CREATED).await
}

/// Log in with e-mail or username.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 429, body = Problem)))]
async fn login(
    State(state): State<AuthState>,
    client: ClientInfo,
    Valid(req): Valid<LoginRequest>,
) -> Result<Response, Problem> {
    let typed = req.login.trim();
    let is_email = typed.contains('@');
    let login = if is_email {
        normalise_email(typed)
    } else {
        typed.to_owned()
    };
    let mut user = state
        .store
        .user_by_login(&login)
        .await
        .map_err(store_problem)?;
    if user.is_none() && is_email {
        // An address stored before addresses were kept in NFC that could not be rewritten
        // (its NFC form was taken by another account: see `UserStore::migrate`) is found as
        // stored.
        let as_stored = typed.to_lowercase();
        if as_stored != login {
            user = state
                .store
                .user_by_login(&as_stored)
                .await
                .map_err(store_problem)?;
        }
    }
    let account = match &user {
        Some(u) => Account::User(&u.id),
        None => Account::Unknown(&login),
    };
    let ip = client.ip.as_deref();
    let turn = state.passwords.turn().await;
    state.throttle.check(&account, ip).await?;
    let (ok, turn) = state
        .passwords
        .verify(
            turn,
            &req.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await;
    if !ok {
        state.throttle.record_failure(&account, ip).await;
        drop(turn);
        return Err(
            Problem::new(ProblemKind::InvalidCredentials).detail("The login or password is wrong")
        );
    }
    drop(turn);
    let user = user.expect("verified against a user's hash");
    if !user.is_active {
        return Err(Problem::new(ProblemKind::AccountInactive));
    }
    state
        .throttle
        .record_success(&Account::User(&user.id))
        .await;
    start_session(&state, user, &client, StatusCode::OK).await
}

/// Exchange a refresh token (body or cookie) for a new pair; the old one stops working.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem)))]
async fn refresh(
    State(state): State<AuthState>,
    client: ClientInfo,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    // The body is optional: a browser restoring its session sends only the cookie.
    let body: RefreshRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshRequest::default()
    } else {
        plangen_core::json::parse_json(&body)?
    };
    let presented = body
        .refresh_token
        .filter(|t| !t.is_empty())
        .or_else(|| cookie_token(&headers))
        .ok_or_else(|| {
            Problem::new(ProblemKind::Unauthenticated).detail("No refresh token was sent")
        })?;
    let invalid = || {
        Problem::new(ProblemKind::InvalidToken)
            .detail("The refresh token is not valid or has expired")
    };
    let claims = state.refresh_keys.verify(&presented).ok_or_else(invalid)?;
    let now = Utc::now();
    let next = state.refresh_keys.issue(&claims.sub, &claims.sid, now);
    let new = NewRefreshToken {
        id: next.id.clone(),
        token_hash: next.hash.clone(),
        user_id: claims.sub.clone(),
        session_id: claims.sid.clone(),
        expires_at: next.expires_at,
    };
    let old_hash = crate::tokens::hash_token(&presented);
    let rotation = state
        .store
        .rotate_refresh_token(&old_hash, new, now, state.config.refresh_retry_grace)
        .await
        .map_err(store_problem)?;
    if let Rotation::Retried { .. } = rotation {
        // Worth a line: a replay inside the grace would look exactly like this.
        tracing::info!(session_id = %claims.sid, user_id = %claims.sub,
            "rotated refresh token presented again within the retry grace; another token issued");
    }
    match rotation {
        Rotation::Rotated { user } | Rotation::Retried { user } if user.is_active => {
            Ok(token_response(
                &state,
                user,
                &claims.sid,
                next.token,
                client.https,
                StatusCode::OK,
            ))
        }
        Rotation::Rotated { .. } | Rotation::Retried { .. } => {
            Err(Problem::new(ProblemKind::AccountInactive))
        }
        Rotation::Reused { session_id } => {
            tracing::warn!(session_id = %session_id, user_id = %claims.sub, "refresh token reuse; session revoked");
            deny_sessions(&state, &[session_id]).await?;
            Err(Problem::new(ProblemKind::RefreshTokenReused).detail(
                "This refresh token was already used; the session has been ended for safety",
            ))
        }
        Rotation::Expired | Rotation::Unknown => Err(invalid()),
    }
}

/// End the current session: its refresh tokens and access tokens stop working at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
async fn logout(State(state): State<AuthState>, auth: AuthUser) -> Result<Response, Problem> {
    state
        .store
        .revoke_session(&auth.user_id, &auth.session_id, Utc::now())
        .await
        .map_err(store_problem)?;
    deny_sessions(&state, std::slice::from_ref(&auth.session_id)).await?;
    Ok(no_content_clearing_cookie())
}

/// End every session of the user.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
async fn logout_all(State(state): State<AuthState>, auth: AuthUser) -> Result<Response, Problem> {
    let now = Utc::now();
    let mut open = active_session_ids(&state, &auth.user_id, now).await?;
    if !open.contains(&auth.session_id) {
        open.push(auth.session_id.clone());
    }
    // Denied before they are revoked: if the deny-list cannot be written, nothing is revoked
    // yet and a retry finds every session still there to deny (revoked first, a retry would
    // find none, and their access tokens would live on).
    deny_sessions(&state, &open).await?;
    let ended = state
        .store
        .revoke_sessions(&auth.user_id, None, now)
        .await
        .map_err(store_problem)?;
    // A session opened meanwhile.
    let late: Vec<String> = ended.into_iter().filter(|s| !open.contains(s)).collect();
    deny_sessions(&state, &late).await?;
    Ok(no_content_clearing_cookie())
}

async fn active_session_ids(
    state: &AuthState,
    user_id: &str,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<String>, Problem> {
    Ok(state
        .store
        .active_sessions(user_id, now)
        .await
        .map_err(store_problem)?
        .into_iter()
        .map(|s| s.id)
        .collect())
}

/// The user's active sessions.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = Problem)))]
async fn sessions(
    State(state): State<AuthState>,
    auth: AuthUser,
) -> Result<Json<SessionList>, Problem> {
    let sessions = state
        .store
        .active_sessions(&auth.user_id, Utc::now())
        .await
        .map_err(store_problem)?;
    Ok(Json(SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                current: s.id == auth.session_id,
                id: s.id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
                user_agent: s.user_agent,
                ip: s.ip,
            })
            .collect(),
    }))
}

/// End one of the user's sessions.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204), (status = 404, body = Problem)))]
async fn end_session(
    State(state): State<AuthState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    if !state
        .store
        .revoke_session(&auth.user_id, &id, Utc::now())
        .await
        .map_err(store_problem)?
    {
        return Err(Problem::not_found("Session"));
    }
    deny_sessions(&state, &[id]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current user.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
async fn me(State(state): State<AuthState>, auth: AuthUser) -> Result<Json<UserView>, Problem> {
    Ok(Json(current_user(&state, &auth).await?.into()))
}

/// Change profile fields.
#[utoipa::path(patch, path = "/api/auth/me", tag = "auth", security(("bearer" = [])), request_body = ProfileUpdate,
    responses((status = 200, body = UserView), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_me(
    State(state): State<AuthState>,
    auth: AuthUser,
    Valid(req): Valid<ProfileUpdate>,
) -> Result<Json<UserView>, Problem> {
    current_user(&state, &auth).await?;
    let trim = |v: Option<Option<String>>| {
        v.map(|o| o.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
    };
    let changes = ProfileChanges {
        name: trim(req.name),
        username: req.username.map(|u| u.trim().to_owned()),
        avatar: trim(req.avatar),
        bio: trim(req.bio),
    };
    let user = state
        .store
        .update_profile(&auth.user_id, changes, Utc::now())
        .await
        .map_err(store_problem)?;
    Ok(Json(user.into()))
}

/// Change the password; every other session ends.
#[utoipa::path(put, path = "/api/auth/me/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 204), (status = 422, body = Problem)))]
async fn change_password(
    State(state): State<AuthState>,
    auth: AuthUser,
    client: ClientInfo,
    Valid(req): Valid<PasswordChange>,
) -> Result<StatusCode, Problem> {
    let user = current_user(&state, &auth).await?;
    // The account's login budget: a stolen access token must not guess the password freely.
    let account = Account::User(&user.id);
    let ip = client.ip.as_deref();
    let turn = state.passwords.turn().await;
    state.throttle.check(&account, ip).await?;
    let (ok, turn) = state
        .passwords
        .verify(turn, &req.current_password, Some(&user.password_hash))
        .await;
    if !ok {
        state.throttle.record_failure(&account, ip).await;
        drop(turn);
        return Err(Problem::validation(
            "currentPassword",
            "is not the current password",
        ));
    }
    drop(turn);
    let hash = state
        .passwords
        .hash(&req.new_password)
        .await
        .map_err(Problem::internal)?;
    let now = Utc::now();
    // The other sessions are denied first: if that fails nothing has changed and the client
    // can simply retry (with the password changed first, the retry's current password would
    // be wrong, and the other sessions' access tokens would live on).
    let others: Vec<String> = active_session_ids(&state, &user.id, now)
        .await?
        .into_iter()
        .filter(|s| *s != auth.session_id)
        .collect();
    deny_sessions(&state, &others).await?;
    state
        .store
        .set_password_hash(&user.id, &hash, now)
        .await
        .map_err(store_problem)?;
    let ended = state
        .store
        .revoke_sessions(&user.id, Some(&auth.session_id), now)
        .await
        .map_err(store_problem)?;
    let late: Vec<String> = ended.into_iter().filter(|s| !others.contains(s)).collect();
    deny_sessions(&state, &late).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deactivate the account and end all its sessions.
#[utoipa::path(delete, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
async fn delete_me(State(state): State<AuthState>, auth: AuthUser) -> Result<Response, Problem> {
    let now = Utc::now();
    let mut sessions = active_session_ids(&state, &auth.user_id, now).await?;
    sessions.push(auth.session_id.clone());
    // Denied before the account is deactivated, so a failure leaves everything for a retry.
    deny_sessions(&state, &sessions).await?;
    let revoked = state
        .store
        .deactivate(&auth.user_id, now)
        .await
        .map_err(store_problem)?;
    // A login that finished between the listing above and the deactivation has a session
    // the listing missed; deactivating revoked it, and its access token is denied here.
    let late: Vec<String> = revoked
        .into_iter()
        .filter(|id| !sessions.contains(id))
        .collect();
    if let Err(e) = deny_sessions(&state, &late).await {
        // The account is deactivated and those sessions cannot be refreshed; only their
        // access tokens live on, until they expire. A retry would not find them again.
        tracing::error!(error = ?e.detail, sessions = late.len(), "could not deny sessions begun during the deactivation");
    }
    tracing::info!(user_id = %auth.user_id, "account deactivated");
    Ok(no_content_clearing_cookie())
}
