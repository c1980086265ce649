//! One mapping from every error to a response: a status, a stable code, and
//! a message a person can act on. The JSON API sends it as
//! `{"error": code, "message": …, "field": …}`; pages show the message.
//! Internal errors are logged with their detail and shown only as a code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use endwell_core::DomainError;
use endwell_store::StoreError;
use serde::Serialize;

/// An error on its way to a person.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The request itself is malformed (not JSON, wrong types).
    #[error("{0}")]
    BadRequest(String),
    #[error("log in to continue")]
    Unauthenticated,
    #[error("this form has expired; reload the page and try again")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a response says about an error.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code, e.g. `invalid_field`, `not_found`.
    pub error: &'static str,
    /// What went wrong and what to do, for a person.
    pub message: String,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn classify(&self) -> (StatusCode, ErrorBody) {
        let body = |error, message: String, field: Option<String>| ErrorBody { error, message, field };
        match self {
            AppError::Store(StoreError::Domain(d)) | AppError::Domain(d) => domain(d),
            AppError::Store(StoreError::NotFound) | AppError::NotFound => (
                StatusCode::NOT_FOUND,
                body("not_found", "There is nothing here, or it is not yours to see.".into(), None),
            ),
            AppError::Store(StoreError::Forbidden) => (
                StatusCode::FORBIDDEN,
                body("forbidden", "Only the responsible practitioner can change this.".into(), None),
            ),
            AppError::Store(StoreError::Conflict(m)) => (StatusCode::CONFLICT, body("conflict", m.clone(), None)),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, body("bad_request", m.clone(), None)),
            AppError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                body("unauthenticated", "Log in, or send a valid bearer token (endwell token create).".into(), None),
            ),
            AppError::Csrf => (
                StatusCode::FORBIDDEN,
                body("csrf", "This form has expired or did not come from Endwell. Reload the page and try again; nothing was saved.".into(), None),
            ),
            AppError::Store(other) => internal(&other.to_string()),
            AppError::Internal(m) => internal(m),
        }
    }
}

fn domain(d: &DomainError) -> (StatusCode, ErrorBody) {
    match d {
        DomainError::Invalid { field, message } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody {
                error: d.code(),
                message: format!("{field}: {message}"),
                field: Some(field.clone()),
            },
        ),
        DomainError::InvalidTransition { .. } => (
            StatusCode::CONFLICT,
            ErrorBody {
                error: d.code(),
                message: capitalise(&d.to_string()),
                field: None,
            },
        ),
        DomainError::Terms(_) | DomainError::TriagePack(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody {
                error: d.code(),
                message: d.to_string(),
                field: Some("terms".into()),
            },
        ),
    }
}

fn internal(detail: &str) -> (StatusCode, ErrorBody) {
    tracing::error!(detail, "internal error");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorBody {
            error: "internal",
            message: "Something went wrong on our side. Nothing you entered was lost; please try again, and tell your administrator if it keeps happening.".into(),
            field: None,
        },
    )
}

pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// API errors answer in JSON.
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.0.classify();
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection::*;
        match r {
            JsonDataError(e) => {
                // serde's message names the field ("missing field `given_name`").
                let msg = std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| e.body_text());
                AppError::Domain(DomainError::invalid(field_of(&msg), msg))
            }
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

/// The field a serde message is about, or "body".
fn field_of(msg: &str) -> String {
    for marker in ["field `", "at `"] {
        if let Some(i) = msg.find(marker) {
            let rest = &msg[i + marker.len()..];
            if let Some(end) = rest.find('`') {
                return rest[..end].to_string();
            }
        }
    }
    if let Some(path) = msg.split(':').next().filter(|p| !p.contains(' ')) {
        return path.to_string();
    }
    "body".into()
}
