//! Access tokens: the claims, signing and verification (HS256, algorithm pinned), and the
//! `AuthUser` extractor every service uses, deny-list included.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::error::{Problem, ProblemKind};
use crate::shared_state::{SessionDenyList, SharedStateError};

pub const TOKEN_ISSUER: &str = "plangen-auth";
pub const TOKEN_AUDIENCE: &str = "plangen";

/// The claims of a Plangen access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The session id (one login = one session, across refreshes).
    pub sid: String,
    pub email: String,
    pub role: String,
    /// A unique token id.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

/// Signs and verifies access tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Lifetime of the tokens signed here; also how long a denied session stays denied.
    pub access_ttl: Duration,
    /// Tells these keys' remembered tokens apart from other keys' in the per-thread memory
    /// (the clones of one `TokenKeys` share it: same secret, same validation).
    id: u64,
}

/// A token remembered as verified: its whole text (which must match) and its claims.
struct VerifiedToken {
    text: Box<str>,
    claims: Arc<AccessClaims>,
}

/// Tokens remembered as verified, per thread. A client sends the same token on every request
/// until it expires, and a full verification (base64, two JSON parses, HMAC) is the costliest
/// thing the gateway does per request, so a token whose signature and claims were checked
/// once is found here by its exact text (signature included: any other text is verified in
/// full) and only its expiry is checked again — what Envoy's `jwt_authn` cache does. The
/// deny-list is not remembered: it is asked on every request.
///
/// Per thread rather than one map for the process: a lookup then takes no lock and the claims'
/// reference count is only ever touched by one core (each thread verifies a token once).
/// By the keys' id, then by the token's signature (hashing 43 characters, not the token).
const VERIFIED_TOKENS_PER_THREAD: usize = 4096;

thread_local! {
    static VERIFIED: RefCell<foldhash::HashMap<u64, foldhash::HashMap<Box<str>, VerifiedToken>>> =
        RefCell::default();
}

impl TokenKeys {
    pub fn new(secret: &Secret, access_ttl: Duration) -> Self {
        // The algorithm is pinned: a token claiming `none` or RS256 is refused, whatever it says.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_audience(&[TOKEN_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            access_ttl,
            id: {
                static NEXT_ID: AtomicU64 = AtomicU64::new(0);
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            },
        }
    }

    /// Claims for a new token of this lifetime.
    pub fn claims_for(
        &self,
        user_id: &str,
        session_id: &str,
        email: &str,
        role: &str,
    ) -> AccessClaims {
        let now = chrono::Utc::now().timestamp();
        AccessClaims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            email: email.to_owned(),
            role: role.to_owned(),
            jti: uuid::Uuid::now_v7().to_string(),
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            iss: TOKEN_ISSUER.to_owned(),
            aud: TOKEN_AUDIENCE.to_owned(),
        }
    }

    pub fn sign(&self, claims: &AccessClaims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verify_shared(token).map(|claims| (*claims).clone())
    }

    /// As [`verify`](Self::verify), sharing the remembered claims instead of copying them.
    pub fn verify_shared(&self, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }

    /// `verify` at the Unix time `now` (for a remembered token; a new one is checked against
    /// the clock by `jsonwebtoken`).
    fn verify_at(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>, TokenError> {
        let expired = |c: &AccessClaims| c.exp < now - self.validation.leeway as i64;
        let signature = token.rsplit('.').next().unwrap_or(token);
        let remembered = VERIFIED.with_borrow(|verified| {
            verified
                .get(&self.id)?
                .get(signature)
                .filter(|known| &*known.text == token)
                .map(|known| known.claims.clone())
        });
        if let Some(claims) = remembered {
            return if expired(&claims) {
                Err(TokenError::Expired)
            } else {
                Ok(claims)
            };
        }
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| Arc::new(data.claims))
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        VERIFIED.with_borrow_mut(|verified| {
            let verified = verified.entry(self.id).or_default();
            if verified.len() >= VERIFIED_TOKENS_PER_THREAD {
                verified.retain(|_, known| !expired(&known.claims));
                if verified.len() >= VERIFIED_TOKENS_PER_THREAD {
                    verified.clear();
                }
            }
            verified.insert(
                signature.into(),
                VerifiedToken {
                    text: token.into(),
                    claims: claims.clone(),
                },
            );
        });
        Ok(claims)
    }

    /// How many tokens of these keys this thread remembers (for tests).
    #[cfg(test)]
    fn remembered_here(&self) -> usize {
        VERIFIED.with_borrow(|verified| verified.get(&self.id).map_or(0, |v| v.len()))
    }
}

/// What a verifier needs: the keys, the deny-list, and what to do when the deny-list is down.
#[derive(Clone)]
pub struct Authenticator {
    pub keys: Arc<TokenKeys>,
    pub deny_list: Arc<dyn SessionDenyList>,
    /// When the deny-list cannot be read: `false` (the default) answers 503, `true` lets the
    /// token through (and logs it).
    pub fail_open: bool,
}

impl Authenticator {
    pub fn new(keys: Arc<TokenKeys>, deny_list: Arc<dyn SessionDenyList>, fail_open: bool) -> Self {
        Self {
            keys,
            deny_list,
            fail_open,
        }
    }

    /// For a service that only verifies access tokens (the gateway, plan, template): keys from
    /// the shared secret, whose signing lifetime is never used there.
    pub fn verifier(secret: &Secret, deny_list: Arc<dyn SessionDenyList>, fail_open: bool) -> Self {
        let keys = TokenKeys::new(secret, Duration::from_secs(900));
        Self::new(Arc::new(keys), deny_list, fail_open)
    }

    /// Verifies a bearer token from the `Authorization` header value.
    pub async fn authenticate_header(&self, header: Option<&str>) -> Result<AuthUser, Problem> {
        self.claims_from_header(header)
            .await
            .map(|claims| AuthUser::from(&*claims))
    }

    /// As [`authenticate_header`](Self::authenticate_header), giving the verified claims
    /// themselves (shared, not copied).
    pub async fn claims_from_header(
        &self,
        header: Option<&str>,
    ) -> Result<Arc<AccessClaims>, Problem> {
        let claims = self.verify_header(header)?;
        self.check_session(&claims).await?;
        Ok(claims)
    }

    pub async fn authenticate(&self, token: &str) -> Result<AuthUser, Problem> {
        self.claims(token)
            .await
            .map(|claims| AuthUser::from(&*claims))
    }

    /// The claims of a valid token whose session is not denied; the caller is named on the
    /// request's log lines from here on.
    pub async fn claims(&self, token: &str) -> Result<Arc<AccessClaims>, Problem> {
        let claims = self.verify(token)?;
        self.check_session(&claims).await?;
        Ok(claims)
    }

    /// The first half of [`claims_from_header`](Self::claims_from_header), which needs no I/O:
    /// the `Bearer` token's signature and claims. The gateway counts the caller's rate limit
    /// (keyed by the verified user id) while the session is checked.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Arc<AccessClaims>, Problem> {
        let Some(header) = header else {
            return Err(Problem::new(ProblemKind::Unauthenticated)
                .detail("Send an access token as `Authorization: Bearer <token>`"));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Problem::new(ProblemKind::Unauthenticated)
                    .detail("The Authorization header must use the Bearer scheme")
            })?;
        self.verify(token)
    }

    fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, Problem> {
        self.keys.verify_shared(token).map_err(|e| match e {
            TokenError::Expired => Problem::new(ProblemKind::TokenExpired)
                .detail("Refresh the access token and try again"),
            TokenError::Invalid => Problem::new(ProblemKind::InvalidToken),
        })
    }

    /// The second half: the session of verified `claims` is not denied (logged out). On
    /// success the caller is named on the request's log lines from here on.
    pub async fn check_session(&self, claims: &Arc<AccessClaims>) -> Result<(), Problem> {
        // In process the answer is at hand; only a remote deny-list needs the await.
        let denied = match self.deny_list.is_denied_now(&claims.sid) {
            Some(answer) => answer,
            None => self.deny_list.is_denied(&claims.sid).await,
        };
        self.session_verdict(claims, denied)
    }

    /// [`check_session`](Self::check_session) given the deny-list's answer about the session
    /// of `claims`, for a caller that asked it together with something else (the gateway
    /// asks Redis about the session and the rate-limit counter in one command).
    pub fn session_verdict(
        &self,
        claims: &Arc<AccessClaims>,
        denied: Result<bool, SharedStateError>,
    ) -> Result<(), Problem> {
        match denied {
            Ok(false) => {}
            Ok(true) => {
                return Err(Problem::new(ProblemKind::SessionRevoked)
                    .detail("This session was logged out; log in again"));
            }
            Err(e) if self.fail_open => {
                tracing::warn!(error = %e, "session deny-list unreachable; accepting token (fail-open)");
            }
            Err(e) => return Err(Problem::unavailable("the session store", e)),
        }
        crate::telemetry::record_caller(claims);
        Ok(())
    }
}

/// The authenticated caller, from a verified access token whose session is not denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: String,
    pub session_id: String,
    pub email: String,
    pub role: String,
    /// The bearer token itself, for calls to other services on the caller's behalf.
    pub token: Option<String>,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

impl From<AccessClaims> for AuthUser {
    fn from(c: AccessClaims) -> Self {
        Self {
            user_id: c.sub,
            session_id: c.sid,
            email: c.email,
            role: c.role,
            token: None,
        }
    }
}

impl From<&AccessClaims> for AuthUser {
    fn from(c: &AccessClaims) -> Self {
        Self {
            user_id: c.sub.clone(),
            session_id: c.sid.clone(),
            email: c.email.clone(),
            role: c.role.clone(),
            token: None,
        }
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let authenticator = Authenticator::from_ref(state);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let mut user = authenticator.authenticate_header(header).await?;
        user.token = header.and_then(|h| h.get(7..)).map(|t| t.trim().to_owned());
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// Declares the `bearer` security scheme in a service's OpenAPI document.
#[derive(Debug)]
pub struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_state::MemoryState;

    fn keys(ttl: Duration) -> TokenKeys {
        TokenKeys::new(&Secret::new("k".repeat(32)), ttl)
    }

    #[test]
    fn a_signed_token_verifies_and_round_trips_its_claims() {
        let k = keys(Duration::from_secs(60));
        let claims = k.claims_for("u1", "s1", "a@b.c", "user");
        assert_eq!(k.verify(&k.sign(&claims)).unwrap(), claims);
    }

    #[test]
    fn tokens_from_another_secret_other_algorithms_or_expired_are_refused() {
        let k = keys(Duration::from_secs(60));
        let other = TokenKeys::new(&Secret::new("o".repeat(32)), Duration::from_secs(60));
        let claims = k.claims_for("u1", "s1", "a@b.c", "user");
        assert_eq!(k.verify(&other.sign(&claims)), Err(TokenError::Invalid));

        // HS512 with the same secret: the algorithm is pinned, so it is refused.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret("k".repeat(32).as_bytes()),
        )
        .unwrap();
        assert_eq!(k.verify(&hs512), Err(TokenError::Invalid));

        // alg=none, hand-made.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_vec(&claims).unwrap())
        );
        assert_eq!(k.verify(&none), Err(TokenError::Invalid));

        let mut expired = claims.clone();
        expired.exp = chrono::Utc::now().timestamp() - 60;
        assert_eq!(k.verify(&k.sign(&expired)), Err(TokenError::Expired));

        let mut wrong_aud = claims;
        wrong_aud.aud = "someone-else".into();
        assert_eq!(k.verify(&k.sign(&wrong_aud)), Err(TokenError::Invalid));
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_tampered_one_is_verified_in_full() {
        let k = keys(Duration::from_secs(60));
        let claims = k.claims_for("u1", "s1", "a@b.c", "user");
        let token = k.sign(&claims);
        let now = chrono::Utc::now().timestamp();
        assert_eq!(*k.verify_at(&token, now).unwrap(), claims);
        assert_eq!(k.remembered_here(), 1, "remembered");
        // Served from memory, yet past its expiry (plus the leeway) it is refused.
        assert_eq!(*k.verify_at(&token, now).unwrap(), claims);
        assert_eq!(*k.verify_at(&token, claims.exp + 5).unwrap(), claims);
        assert_eq!(
            k.verify_at(&token, claims.exp + 6),
            Err(TokenError::Expired)
        );

        // One changed character of the signature: not the remembered text, refused.
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(k.verify_at(&tampered, now), Err(TokenError::Invalid));
        // The remembered signature on other claims (remembered entries are found by their
        // signature): the whole text differs, so it is verified in full and refused.
        let signature = token.rsplit('.').next().unwrap();
        let mut forged_claims = claims.clone();
        forged_claims.sub = "someone-else".into();
        let forged = k.sign(&forged_claims);
        let forged = format!("{}.{signature}", forged.rsplit_once('.').unwrap().0);
        assert_eq!(k.verify_at(&forged, now), Err(TokenError::Invalid));
        // The same claims re-signed with another secret are not the remembered token either.
        let other = TokenKeys::new(&Secret::new("o".repeat(32)), Duration::from_secs(60));
        assert_eq!(k.verify(&other.sign(&claims)), Err(TokenError::Invalid));
        assert_eq!(k.remembered_here(), 1, "failures are not remembered");
        // Keys with another secret do not take the token these keys remembered.
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
        // Another thread verifies on its own, with the same outcome.
        let k2 = k.clone();
        std::thread::spawn(move || {
            assert_eq!(k2.remembered_here(), 0);
            assert_eq!(*k2.verify_at(&token, now).unwrap(), claims);
            assert_eq!(k2.remembered_here(), 1);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_memory_of_verified_tokens_is_bounded() {
        let k = keys(Duration::from_secs(60));
        for i in 0..VERIFIED_TOKENS_PER_THREAD + 5 {
            let token = k.sign(&k.claims_for(&format!("u{i}"), "s", "a@b.c", "user"));
            k.verify(&token).unwrap();
        }
        assert!(k.remembered_here() <= VERIFIED_TOKENS_PER_THREAD);
    }

    #[tokio::test]
    async fn a_denied_session_is_refused() {
        let k = Arc::new(keys(Duration::from_secs(60)));
        let deny = Arc::new(MemoryState::default());
        let auth = Authenticator::new(k.clone(), deny.clone(), false);
        let token = k.sign(&k.claims_for("u1", "s1", "a@b.c", "user"));
        assert_eq!(auth.authenticate(&token).await.unwrap().user_id, "u1");
        deny.deny("s1", Duration::from_secs(60)).await.unwrap();
        let p = auth.authenticate(&token).await.unwrap_err();
        assert_eq!(p.kind, Some(ProblemKind::SessionRevoked));
    }
}
