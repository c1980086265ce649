//! Who is asking: passwords (argon2id), browser sessions in cookies with a
//! CSRF token per session, and bearer tokens for the API. Only hashes of
//! session and API tokens are stored, so a database copy cannot be used to
//! log in.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use endwell_core::access::Viewer;
use endwell_core::model::User;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{ApiError, AppError};

pub const SESSION_COOKIE: &str = "endwell_session";
pub const LOGIN_CSRF_COOKIE: &str = "endwell_login_csrf";

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Check a password against a stored hash. Without a hash, a dummy check
/// runs anyway so that response time does not reveal which accounts exist.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let (h, real) = match hash {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let ok = PasswordHash::new(h)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false);
    ok && real
}

/// The rules for a new password: long enough to be worth having.
pub fn check_new_password(password: &str) -> Result<(), endwell_core::DomainError> {
    if password.chars().count() < 10 {
        return Err(endwell_core::DomainError::invalid(
            "password",
            "use at least 10 characters",
        ));
    }
    Ok(())
}

/// A new random secret (256 bits), URL-safe.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, and Secure when served over HTTPS.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> String {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// The logged-in user of a page request, with the session's CSRF token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub csrf: String,
    pub session_hash: String,
    /// Crisis contacts not yet acknowledged: an alert on every page.
    pub crisis_alerts: i64,
}

impl CurrentUser {
    pub fn viewer(&self) -> Viewer {
        Viewer::of(&self.user)
    }

    /// Refuse a form whose token is not this session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AppError> {
        if constant_time_eq(submitted.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Not logged in: go to the login page and come back afterwards.
pub struct LoginRedirect(String);

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        let next: String = url_encode(&self.0);
        Redirect::to(&format!("/login?next={next}")).into_response()
    }
}

pub fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e[1..].to_string())
        .unwrap_or_default()
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(LoginRedirect(here).into_response());
        };
        let hash = token_hash(&token);
        match state.store.session(&hash).await {
            Ok(Some((user, csrf, crisis_alerts))) => Ok(CurrentUser {
                user,
                csrf,
                session_hash: hash,
                crisis_alerts,
            }),
            Ok(None) => Err(LoginRedirect(here).into_response()),
            Err(e) => Err(crate::pages::error_page(None, AppError::from(e))),
        }
    }
}

/// Users by API token hash, kept for [`ApiTokenCache::TTL`] so that a busy
/// API client does not cost a query per request. Only known tokens are kept
/// (a new token works at once; guessing gains nothing). API tokens cannot be
/// revoked today; whatever revokes one later (or changes a user's role or
/// time zone) is seen by every instance within the TTL at most — keep it short.
#[derive(Default)]
pub struct ApiTokenCache {
    inner: std::sync::Mutex<std::collections::HashMap<String, (User, std::time::Instant)>>,
}

impl ApiTokenCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);

    fn get(&self, hash: &str) -> Option<User> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(u, _)| u.clone())
    }

    fn put(&self, hash: String, user: User) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= 1_000 {
            map.retain(|_, (_, at)| at.elapsed() < Self::TTL);
        }
        map.insert(hash, (user, std::time::Instant::now()));
    }
}

/// The user behind an API request's bearer token.
#[derive(Debug, Clone)]
pub struct ApiUser(pub User);

impl ApiUser {
    pub fn viewer(&self) -> Viewer {
        Viewer::of(&self.0)
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AppError::Unauthenticated)?;
        let hash = token_hash(token);
        if let Some(u) = state.api_tokens.get(&hash) {
            return Ok(ApiUser(u));
        }
        match state.store.user_by_api_token(&hash).await? {
            Some(u) => {
                state.api_tokens.put(hash, u.clone());
                Ok(ApiUser(u))
            }
            None => Err(AppError::Unauthenticated.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(Some(&h), "correct horse battery"));
        assert!(!verify_password(Some(&h), "wrong"));
        assert!(!verify_password(None, "not a real password"));
        assert!(!verify_password(Some("garbage"), "x"));
    }

    #[test]
    fn token_cache_keeps_known_tokens_briefly() {
        let cache = ApiTokenCache::default();
        let user = User {
            id: endwell_core::UserId::new(),
            email: "sam@clinic.example".into(),
            display_name: "Sam".into(),
            role: endwell_core::model::Role::Practitioner,
            profession: String::new(),
            timezone: "Europe/London".into(),
            supervisor_id: None,
            created_at: jiff::Timestamp::now(),
        };
        assert!(cache.get("h").is_none());
        cache.put("h".into(), user.clone());
        assert_eq!(cache.get("h").map(|u| u.id), Some(user.id));
        assert!(cache.get("other").is_none());
        // An entry older than the TTL is not used.
        cache.inner.lock().unwrap().get_mut("h").unwrap().1 -= ApiTokenCache::TTL;
        assert!(cache.get("h").is_none());
    }

    #[test]
    fn tokens_and_cookies() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(token_hash(&t), t);
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; endwell_session=xyz; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(url_encode("/caseload?state=ended"), "%2Fcaseload%3Fstate%3Dended");
    }
}
