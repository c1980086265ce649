//! The practitioner's calendars and feed link over the API: the same as the
//! Calendar page, for scripts and other systems (e.g. an agency's rota).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use endwell_core::DomainError;
use endwell_store::calendars::Calendar;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiJson, ApiResult, id};
use crate::AppState;
use crate::auth::ApiUser;
use crate::calendars::{feed_url, new_feed_token, read};
use crate::error::ErrorBody;

/// A closed spell: whole local days (`to` inclusive) or local date-times.
#[derive(Serialize, ToSchema)]
pub struct ClosureOut {
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// One of the practitioner's calendars.
#[derive(Serialize, ToSchema)]
pub struct CalendarOut {
    pub id: String,
    pub name: String,
    /// The subscribed address; null for an uploaded file.
    pub url: Option<String>,
    /// The zone the closures' local times are in.
    pub zone: String,
    pub closures: Vec<ClosureOut>,
    /// What was not used when it was last read, and why.
    pub notes: Vec<String>,
    pub refreshed_at: String,
    /// Why the last refresh failed (the last good closures still apply).
    pub last_error: Option<String>,
}

impl From<&Calendar> for CalendarOut {
    fn from(c: &Calendar) -> Self {
        CalendarOut {
            id: c.id.to_string(),
            name: c.name.clone(),
            url: c.url.clone(),
            zone: c.closures.zone.name().to_string(),
            closures: c
                .closures
                .exceptions
                .iter()
                .map(|e| ClosureOut {
                    from: e.from.to_string(),
                    to: e.to.to_string(),
                    reason: e.reason.clone(),
                })
                .collect(),
            notes: c.notes.clone(),
            refreshed_at: c.refreshed_at.to_string(),
            last_error: c.last_error.clone(),
        }
    }
}

/// A calendar to keep: give `url` (subscribe) or `ics` (the file's text).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarIn {
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub ics: Option<String>,
}

/// The private feed's address; null when there is none.
#[derive(Serialize, ToSchema)]
pub struct FeedOut {
    pub url: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/calendars", tag = "calendars", security(("bearer" = [])),
    responses((status = 200, description = "The practitioner's calendars, oldest first", body = Vec<CalendarOut>)))]
pub async fn list(State(s): State<AppState>, user: ApiUser) -> ApiResult<Json<Vec<CalendarOut>>> {
    let list = s.store.calendars(user.viewer()).await?;
    Ok(Json(list.iter().map(CalendarOut::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/calendars", tag = "calendars", security(("bearer" = [])), request_body = CalendarIn,
    responses((status = 201, body = CalendarOut), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(
    State(s): State<AppState>,
    user: ApiUser,
    ApiJson(body): ApiJson<CalendarIn>,
) -> ApiResult<(StatusCode, Json<CalendarOut>)> {
    let url = body.url.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let c = match (url, body.ics) {
        (Some(u), None) => crate::calendars::subscribe(&s.store, &user.0, &body.name, u).await?,
        (None, Some(ics)) => {
            let r = read(ics, &user.0.zone(), Timestamp::now())?;
            s.store.add_calendar(user.viewer(), &body.name, None, r).await?
        }
        _ => return Err(DomainError::invalid("url", "give either url (to subscribe) or ics (a file's text)").into()),
    };
    Ok((StatusCode::CREATED, Json(CalendarOut::from(&c))))
}

#[utoipa::path(delete, path = "/api/v1/calendars/{id}", tag = "calendars", security(("bearer" = [])),
    params(("id" = String, Path, description = "Calendar id")),
    responses((status = 204, description = "Removed; its closures no longer apply"), (status = 404, body = ErrorBody)))]
pub async fn remove(State(s): State<AppState>, user: ApiUser, Path(cid): Path<String>) -> ApiResult<StatusCode> {
    let cid: Uuid = id(&cid)?;
    s.store.remove_calendar(user.viewer(), cid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/calendars/{id}/refresh", tag = "calendars", security(("bearer" = [])),
    params(("id" = String, Path, description = "Calendar id")),
    responses((status = 200, description = "Read again; a failure is in last_error", body = CalendarOut), (status = 404, body = ErrorBody)))]
pub async fn refresh(
    State(s): State<AppState>,
    user: ApiUser,
    Path(cid): Path<String>,
) -> ApiResult<Json<CalendarOut>> {
    let cid: Uuid = id(&cid)?;
    crate::calendars::refresh_now(&s, &user.0, cid).await?;
    let (c, _) = s.store.calendar(user.viewer(), cid).await?;
    Ok(Json(CalendarOut::from(&c)))
}

#[utoipa::path(get, path = "/api/v1/calendar-feed", tag = "calendars", security(("bearer" = [])),
    responses((status = 200, body = FeedOut)))]
pub async fn feed(State(s): State<AppState>, user: ApiUser, headers: HeaderMap) -> ApiResult<Json<FeedOut>> {
    let token = s.store.feed_token(user.viewer()).await?;
    Ok(Json(FeedOut {
        url: token.map(|t| feed_url(&s, &headers, &t)),
    }))
}

#[utoipa::path(post, path = "/api/v1/calendar-feed", tag = "calendars", security(("bearer" = [])),
    responses((status = 201, description = "A new address; any earlier one stops working", body = FeedOut)))]
pub async fn new_feed(State(s): State<AppState>, user: ApiUser, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    let token = new_feed_token(&s.store, user.viewer()).await?;
    Ok((
        StatusCode::CREATED,
        Json(FeedOut {
            url: Some(feed_url(&s, &headers, &token)),
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/calendar-feed", tag = "calendars", security(("bearer" = [])),
    responses((status = 204, description = "The feed is off; its address no longer works")))]
pub async fn feed_off(State(s): State<AppState>, user: ApiUser) -> ApiResult<StatusCode> {
    s.store.remove_feed_token(user.viewer()).await?;
    Ok(StatusCode::NO_CONTENT)
}
