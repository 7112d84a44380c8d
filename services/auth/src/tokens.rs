//! Refresh tokens: JWTs signed with `REFRESH_TOKEN_SECRET` (so forged ones are refused before
//! any database work), stored only as their SHA-256 hash.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use plangen_core::Secret;
use plangen_core::auth::TOKEN_ISSUER;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const REFRESH_AUDIENCE: &str = "plangen-refresh";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// A freshly issued refresh token.
pub struct IssuedRefreshToken {
    pub token: String,
    pub id: String,
    pub hash: String,
    pub expires_at: DateTime<Utc>,
}

pub struct RefreshKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl: Duration,
}

impl RefreshKeys {
    pub fn new(secret: &Secret, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_audience(&[REFRESH_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            ttl,
        }
    }

    pub fn issue(&self, user_id: &str, session_id: &str, now: DateTime<Utc>) -> IssuedRefreshToken {
        let expires_at =
            now + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(7));
        let id = uuid::Uuid::now_v7().to_string();
        let claims = RefreshClaims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            jti: id.clone(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: TOKEN_ISSUER.to_owned(),
            aud: REFRESH_AUDIENCE.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail");
        IssuedRefreshToken {
            hash: hash_token(&token),
            token,
            id,
            expires_at,
        }
    }

    /// The claims of a well-signed refresh token (expired ones included: the store decides).
    pub fn verify(&self, token: &str) -> Option<RefreshClaims> {
        let mut validation = self.validation.clone();
        validation.validate_exp = false;
        jsonwebtoken::decode::<RefreshClaims>(token, &self.decoding, &validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// What the database keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_only_their_hash_is_kept() {
        let keys = RefreshKeys::new(&Secret::new("r".repeat(32)), Duration::from_secs(60));
        let issued = keys.issue("u1", "s1", Utc::now());
        let claims = keys.verify(&issued.token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid.as_str()), ("u1", "s1"));
        assert_eq!(claims.jti, issued.id);
        assert_eq!(issued.hash.len(), 64);
        assert!(!issued.hash.contains(&issued.token));
        let other = RefreshKeys::new(&Secret::new("x".repeat(32)), Duration::from_secs(60));
        assert!(other.verify(&issued.token).is_none());
    }

    #[test]
    fn access_tokens_are_not_refresh_tokens() {
        let secret = Secret::new("r".repeat(32));
        let access = plangen_core::TokenKeys::new(&secret, Duration::from_secs(60));
        let token = access.sign(&access.claims_for("u1", "s1", "a@b.c", "user"));
        let keys = RefreshKeys::new(&secret, Duration::from_secs(60));
        assert!(keys.verify(&token).is_none(), "the audience differs");
    }
}
