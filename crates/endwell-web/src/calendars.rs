//! A practitioner's calendars: reading an uploaded file or a subscribed
//! address into closures, keeping them fresh, and the private feed.
//!
//! The core reads iCalendar (`calendar::import_ics`) and writes the feed
//! (`calendar::practitioner_feed`, `calendar::feed`); this module does the
//! I/O around them: fetching over HTTP with limits, and the refresh loop
//! that `serve` runs.

use std::time::Duration;

use endwell_core::DomainError;
use endwell_core::access::Viewer;
use endwell_core::calendar::{OpenWork, feed, feed_of_work, read_kept};
use endwell_core::model::User;
use endwell_core::terms::Zone;
use endwell_store::Store;
use endwell_store::calendars::CalendarRead;
use jiff::Timestamp;
use uuid::Uuid;

use crate::error::AppError;

/// Largest calendar read, uploaded or fetched.
pub const MAX_CALENDAR_BYTES: usize = 4 * 1024 * 1024;

/// A calendar to keep: its text with what `calendar::read_kept` finds in it.
pub fn read(source: String, zone: &Zone, now: Timestamp) -> Result<CalendarRead, DomainError> {
    let (closures, notes) = read_kept(&source, zone, now)?;
    Ok(CalendarRead {
        source,
        zone: zone.clone(),
        closures,
        notes,
    })
}

/// The address to fetch: `webcal://` (as calendar programs hand out) is HTTPS.
pub fn fetch_url(address: &str) -> Result<String, DomainError> {
    let a = address.trim();
    let lower = a.to_ascii_lowercase();
    let url = if let Some(rest) = lower.strip_prefix("webcal://").map(|_| &a["webcal://".len()..]) {
        format!("https://{rest}")
    } else if lower.starts_with("https://") || lower.starts_with("http://") {
        a.to_string()
    } else {
        return Err(DomainError::invalid(
            "url",
            "give the calendar's address, beginning https:// or webcal:// (in Google Calendar: Settings → \
             your calendar → Secret address in iCal format)",
        ));
    };
    reqwest::Url::parse(&url).map_err(|_| DomainError::invalid("url", "this is not a web address"))?;
    Ok(url)
}

/// Fetch a subscribed calendar's text. Errors are sentences for the page;
/// they never repeat what the server sent, only what went wrong.
pub async fn fetch(address: &str) -> Result<String, String> {
    let url = fetch_url(address).map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("Endwell/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("could not prepare the request: {e}"))?;
    let mut resp = client.get(&url).send().await.map_err(|e| {
        if e.is_timeout() {
            "the calendar's server did not answer within 20 seconds".to_string()
        } else if e.is_connect() {
            "could not connect to the calendar's server; is the address right?".to_string()
        } else {
            "the calendar could not be fetched; is the address right?".to_string()
        }
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!(
            "the calendar's server answered {status}{}",
            if status.as_u16() == 404 || status.as_u16() == 401 || status.as_u16() == 403 {
                "; the address may have been changed or made private"
            } else {
                ""
            }
        ));
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| "the calendar stopped arriving part way; try again later".to_string())?
    {
        if body.len() + chunk.len() > MAX_CALENDAR_BYTES {
            return Err(format!(
                "the calendar is larger than {} MB",
                MAX_CALENDAR_BYTES / (1024 * 1024)
            ));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the calendar is not text in UTF-8, as iCalendar must be".to_string())
}

/// Subscribe `user` to the calendar at `address`: checked, fetched and read
/// now (an address that does not work is refused, not kept), then kept.
pub async fn subscribe(
    store: &Store,
    user: &User,
    name: &str,
    address: &str,
) -> Result<endwell_store::calendars::Calendar, AppError> {
    fetch_url(address)?;
    let text = fetch(address)
        .await
        .map_err(|why| DomainError::invalid("url", format!("Endwell could not read this calendar: {why}")))?;
    let r = read(text, &user.zone(), Timestamp::now())?;
    Ok(store
        .add_calendar(Viewer::of(user), name, Some(address.trim()), r)
        .await?)
}

/// Read one calendar again: a subscribed one from its address, an uploaded
/// one from its kept text (its repeating events move on with the window).
pub async fn refresh_one(store: &Store, due: endwell_store::calendars::DueCalendar) -> Result<(), AppError> {
    let now = Timestamp::now();
    let outcome = match &due.calendar.url {
        Some(url) => match fetch(url).await {
            Ok(text) => read(text, &due.zone, now).map_err(|e| e.to_string()),
            Err(why) => Err(why),
        },
        None => read(due.source, &due.zone, now).map_err(|e| e.to_string()),
    };
    if let Err(why) = &outcome {
        tracing::warn!(calendar = %due.calendar.id, "calendar refresh failed, keeping its last closures: {why}");
    }
    store.save_refresh(due.calendar.id, outcome).await?;
    Ok(())
}

/// Read one of the user's calendars again now; a failure is kept on the
/// calendar (and shown) like a background refresh's.
pub async fn refresh_now(state: &crate::AppState, user: &endwell_core::model::User, id: Uuid) -> Result<(), AppError> {
    let viewer = endwell_core::access::Viewer::of(user);
    let (calendar, source) = state.store.calendar(viewer, id).await?;
    refresh_one(
        &state.store,
        endwell_store::calendars::DueCalendar {
            calendar,
            source,
            zone: user.zone(),
        },
    )
    .await
}

/// Refresh calendars last read more than `every` ago, until `shutdown`.
pub async fn run_refresher(store: Store, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let tick = every.min(Duration::from_secs(300));
    loop {
        let before = Timestamp::now() - jiff::SignedDuration::try_from(every).unwrap_or_default();
        match store.calendars_due(before, 50).await {
            Ok(list) => {
                for due in list {
                    if let Err(e) = refresh_one(&store, due).await {
                        tracing::warn!("saving a calendar refresh failed, will retry: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("looking for calendars to refresh failed, will retry: {e}"),
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

/// The practitioner's private feed (`calendar::feed_of_work`).
pub async fn feed_text(store: &Store, user: &User) -> Result<String, AppError> {
    let work = store.open_work(user.id).await?;
    let closures = store.closures_of(user.id).await?;
    let open: Vec<OpenWork> = work
        .iter()
        .map(|w| OpenWork {
            engagement: &w.engagement,
            client_name: &w.client_name,
            terms: w.terms.as_ref(),
        })
        .collect();
    let spec = feed_of_work(
        &user.display_name,
        &user.id.to_string(),
        &user.zone(),
        &open,
        &closures,
        Timestamp::now(),
    );
    Ok(feed(&spec))
}

/// The feed's address for a token: `public_url` when configured, else the
/// request's Host (HTTPS when cookies are marked Secure).
pub fn feed_url(state: &crate::AppState, headers: &axum::http::HeaderMap, token: &str) -> String {
    let base = match &state.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
                .unwrap_or("127.0.0.1:8080");
            let scheme = if state.config.secure_cookies { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    };
    format!("{base}/feed/{token}.ics")
}

/// Make (or replace) the viewer's feed link; the token is returned once
/// here and kept sealed for showing again.
pub async fn new_feed_token(store: &Store, viewer: Viewer) -> Result<String, AppError> {
    let token = crate::auth::new_token();
    store.new_feed_token(viewer, &token).await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            fetch_url("webcal://calendar.example/x.ics").unwrap(),
            "https://calendar.example/x.ics"
        );
        assert_eq!(
            fetch_url(" http://127.0.0.1:9/a.ics ").unwrap(),
            "http://127.0.0.1:9/a.ics"
        );
        assert!(fetch_url("ftp://x/y").is_err());
        assert!(fetch_url("calendar.ics").is_err());
    }
}
