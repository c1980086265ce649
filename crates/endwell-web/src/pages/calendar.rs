//! The calendar page: the practitioner's uploaded and subscribed calendars
//! whose busy events close office hours, and their private feed's link.
//! The feed itself (`/feed/{token}.ics`) is served here too: calendar
//! programs cannot log in, so its secret link is its authorization.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use endwell_core::DomainError;
use endwell_core::terms::LocalPoint;
use endwell_store::calendars::Calendar;
use jiff::Timestamp;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, OrPage, PageResult, fmt_time, parse_id, read_form, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::calendars::{MAX_CALENDAR_BYTES, feed_text, new_feed_token, read};
use crate::error::AppError;

pub struct CalendarRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub refreshed: String,
    pub count: usize,
    pub upcoming: Vec<String>,
    pub notes: Vec<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    layout: Layout,
    zone: String,
    done: Option<String>,
    calendars: Vec<CalendarRow>,
    refresh_text: String,
    feed_link: Option<String>,
    webcal_link: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Done {
    done: String,
}

fn row(c: &Calendar, tz: &str, today: jiff::civil::Date) -> CalendarRow {
    let upcoming: Vec<String> = c
        .closures
        .exceptions
        .iter()
        .filter(|e| match e.to {
            LocalPoint::Day(d) => d >= today,
            LocalPoint::At(dt) => dt.date() >= today,
        })
        .take(3)
        .map(|e| {
            if e.reason.is_empty() {
                e.when()
            } else {
                format!("{}: {}", e.reason, e.when())
            }
        })
        .collect();
    CalendarRow {
        id: c.id.to_string(),
        name: c.name.clone(),
        kind: if c.url.is_some() { "subscribed" } else { "uploaded file" },
        refreshed: fmt_time(c.refreshed_at, tz),
        count: c.closures.exceptions.len(),
        upcoming,
        notes: c.notes.clone(),
        error: c.last_error.clone(),
    }
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    headers: &HeaderMap,
    done: Option<String>,
) -> Result<CalendarPage, AppError> {
    let zone = user.user.zone();
    let today = Timestamp::now().to_zoned(zone.tz().clone()).date();
    let calendars = state.store.calendars(user.viewer()).await?;
    let token = state.store.feed_token(user.viewer()).await?;
    let feed_link = token.map(|t| crate::calendars::feed_url(state, headers, &t));
    let webcal_link = feed_link
        .as_deref()
        .map(|l| format!("webcal://{}", l.split_once("://").map(|(_, r)| r).unwrap_or(l)))
        .unwrap_or_default();
    let minutes = state.config.calendar_refresh.as_secs() / 60;
    Ok(CalendarPage {
        layout: Layout::new("Calendar", "calendar", Some(user)),
        zone: zone.name().to_string(),
        done,
        calendars: calendars.iter().map(|c| row(c, &user.user.timezone, today)).collect(),
        refresh_text: if minutes.is_multiple_of(60) {
            match minutes / 60 {
                1 => "hour".into(),
                h => format!("{h} hours"),
            }
        } else {
            format!("{minutes} minutes")
        },
        feed_link,
        webcal_link,
    })
}

pub async fn calendar_page(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Query(q): Query<Done>,
) -> PageResult {
    let done = match q.done.as_str() {
        "added" => Some("Calendar added. Its busy events now close your office hours.".to_string()),
        "refreshed" => Some("Calendar read again.".to_string()),
        "removed" => Some("Calendar removed. Its events no longer close your office hours.".to_string()),
        "feed" => Some("Your feed has a new address. Give the new one to your calendar program.".to_string()),
        "feed_off" => Some("Your feed is turned off; its address no longer works.".to_string()),
        _ => None,
    };
    let p = page(&state, &user, &headers, done).await.or_page(&user)?;
    Ok(render(StatusCode::OK, &p))
}

/// The page again with the problem at the top and nothing saved.
async fn with_error(state: &AppState, user: &CurrentUser, headers: &HeaderMap, e: AppError) -> PageResult {
    if !super::is_validation(&e) {
        return Err(e).or_page(user);
    }
    let mut p = page(state, user, headers, None).await.or_page(user)?;
    p.layout.error = Some(super::message_of(&e));
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &p))
}

/// An uploaded .ics file (multipart, so the browser sends the file itself).
pub async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    mut form: Multipart,
) -> PageResult {
    let (mut csrf, mut name, mut file) = (String::new(), String::new(), None::<Vec<u8>>);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let e = AppError::BadRequest(format!(
                    "the upload could not be read ({e}); files up to 1 MB are accepted"
                ));
                return Err(e).or_page(&user);
            }
        };
        let key = field.name().unwrap_or_default().to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| {
                AppError::BadRequest(format!(
                    "the upload could not be read ({e}); files up to 1 MB are accepted"
                ))
            })
            .or_page(&user)?;
        match key.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&data).into_owned(),
            "name" => name = String::from_utf8_lossy(&data).into_owned(),
            "file" => file = Some(data.to_vec()),
            _ => {}
        }
    }
    user.check_csrf(&csrf).or_page(&user)?;
    let outcome = async {
        let bytes = file
            .filter(|f| !f.is_empty())
            .ok_or_else(|| DomainError::invalid("file", "choose an .ics file exported from your calendar"))?;
        if bytes.len() > MAX_CALENDAR_BYTES {
            return Err(DomainError::invalid("file", "the file is larger than 4 MB").into());
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| DomainError::invalid("file", "this file is not iCalendar text (UTF-8)"))?;
        let r = read(text, &user.user.zone(), Timestamp::now())?;
        state.store.add_calendar(user.viewer(), &name, None, r).await?;
        Ok::<(), AppError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(Redirect::to("/calendar?done=added").into_response()),
        Err(e) => with_error(&state, &user, &headers, e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SubscribeForm {
    name: String,
    url: String,
}

pub async fn subscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let f: SubscribeForm = read_form(&user, &body)?;
    let outcome = crate::calendars::subscribe(&state.store, &user.user, &f.name, &f.url).await;
    match outcome {
        Ok(_) => Ok(Redirect::to("/calendar?done=added").into_response()),
        Err(e) => with_error(&state, &user, &headers, e).await,
    }
}

pub async fn refresh(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let _: super::CsrfOnly = read_form(&user, &body)?;
    let id: Uuid = parse_id(&id).or_page(&user)?;
    crate::calendars::refresh_now(&state, &user.user, id)
        .await
        .or_page(&user)?;
    Ok(Redirect::to("/calendar?done=refreshed").into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let _: super::CsrfOnly = read_form(&user, &body)?;
    let id: Uuid = parse_id(&id).or_page(&user)?;
    state.store.remove_calendar(user.viewer(), id).await.or_page(&user)?;
    Ok(Redirect::to("/calendar?done=removed").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FeedForm {
    action: String,
}

pub async fn feed_link(State(state): State<AppState>, user: CurrentUser, body: Bytes) -> PageResult {
    let f: FeedForm = read_form(&user, &body)?;
    match f.action.as_str() {
        "off" => {
            state.store.remove_feed_token(user.viewer()).await.or_page(&user)?;
            Ok(Redirect::to("/calendar?done=feed_off").into_response())
        }
        _ => {
            new_feed_token(&state.store, user.viewer()).await.or_page(&user)?;
            Ok(Redirect::to("/calendar?done=feed").into_response())
        }
    }
}

/// The feed, for calendar programs: `/feed/{token}.ics`. An unknown token
/// is a plain 404, the same as a page that does not exist.
pub async fn feed(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let token = token.strip_suffix(".ics").unwrap_or(&token);
    let user = match state.store.user_by_feed_token(token).await {
        Ok(Some(u)) => u,
        Ok(None) => return (StatusCode::NOT_FOUND, "No calendar feed at this address.").into_response(),
        Err(e) => {
            tracing::warn!("calendar feed failed: {e}");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The calendar feed is not available just now.",
            )
                .into_response();
        }
    };
    match feed_text(&state.store, &user).await {
        Ok(text) => {
            let mut r = text.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline; filename=\"endwell.ics\""),
            );
            r
        }
        Err(e) => {
            tracing::warn!("calendar feed failed: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The calendar feed is not available just now.",
            )
                .into_response()
        }
    }
}
