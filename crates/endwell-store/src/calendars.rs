//! A practitioner's own calendars and the secret link of their feed.
//!
//! A calendar is an uploaded iCalendar file or a subscribed address. Its
//! text is kept (sealed) with the closures last read from it, so a failed
//! fetch keeps the closures that were there and a file's repeating events
//! can be read again as the import window moves on. Calendars are the
//! practitioner's alone: supervisors and admins see none.

use endwell_core::UserId;
use endwell_core::access::Viewer;
use endwell_core::calendar::Closures;
use endwell_core::model::User;
use endwell_core::terms::{Exception, Zone};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::rows::{fmt_ts, id_col, parse_ts, row_user};
use crate::{Result, Store, StoreError, now};

/// Most calendars one practitioner keeps.
pub const MAX_CALENDARS: usize = 20;

/// A stored calendar, without its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub id: Uuid,
    pub practitioner_id: UserId,
    pub name: String,
    /// The subscribed address; `None` for an uploaded file.
    pub url: Option<String>,
    pub closures: Closures,
    /// What was skipped or left out when it was last read, in words.
    pub notes: Vec<String>,
    pub refreshed_at: Timestamp,
    /// Why the last refresh failed; the closures are those of the last good one.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

/// The result of reading a calendar's text.
#[derive(Debug, Clone)]
pub struct CalendarRead {
    pub source: String,
    pub zone: Zone,
    pub closures: Vec<Exception>,
    pub notes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    closures: Vec<Exception>,
    notes: Vec<String>,
}

/// A calendar whose turn to be read again has come.
#[derive(Debug, Clone)]
pub struct DueCalendar {
    pub calendar: Calendar,
    pub source: String,
    /// The practitioner's zone now (they may have moved).
    pub zone: Zone,
}

impl Store {
    fn practitioner_only(viewer: Viewer) -> Result<()> {
        if viewer.role == endwell_core::model::Role::Admin {
            return Err(StoreError::Forbidden);
        }
        Ok(())
    }

    /// Keep a calendar the viewer uploaded or subscribed to.
    pub async fn add_calendar(
        &self,
        viewer: Viewer,
        name: &str,
        url: Option<&str>,
        read: CalendarRead,
    ) -> Result<Calendar> {
        Self::practitioner_only(viewer)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(endwell_core::DomainError::invalid("name", "give the calendar a name").into());
        }
        let at = now();
        let (_g, mut tx) = self.begin_write().await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM calendars WHERE practitioner_id = $1")
            .bind(viewer.id.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if count as usize >= MAX_CALENDARS {
            return Err(StoreError::Conflict(format!(
                "you already have {MAX_CALENDARS} calendars; remove one before adding another"
            )));
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO calendars (id, practitioner_id, name, url, source, zone, closures, refreshed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id.to_string())
        .bind(viewer.id.to_string())
        .bind(name)
        .bind(url.map(|u| self.key.seal(u)))
        .bind(self.key.seal(&read.source))
        .bind(read.zone.name())
        .bind(self.seal_closures(&read.closures, &read.notes)?)
        .bind(fmt_ts(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Calendar {
            id,
            practitioner_id: viewer.id,
            name: name.to_string(),
            url: url.map(str::to_string),
            closures: Closures {
                zone: read.zone,
                exceptions: read.closures,
            },
            notes: read.notes,
            refreshed_at: at,
            last_error: None,
            created_at: at,
        })
    }

    pub(crate) fn seal_closures(&self, closures: &[Exception], notes: &[String]) -> Result<String> {
        let json = serde_json::to_string(&Sealed {
            closures: closures.to_vec(),
            notes: notes.to_vec(),
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(self.key.seal(&json))
    }

    pub(crate) fn row_calendar(&self, r: &AnyRow) -> Result<Calendar> {
        let zone: String = r.try_get("zone")?;
        let sealed: Sealed = serde_json::from_str(&self.key.open(&r.try_get::<String, _>("closures")?)?)
            .map_err(|e| StoreError::Corrupt(format!("calendar closures: {e}")))?;
        Ok(Calendar {
            id: id_col(r, "id")?,
            practitioner_id: id_col(r, "practitioner_id")?,
            name: r.try_get("name")?,
            url: r
                .try_get::<Option<String>, _>("url")?
                .map(|u| self.key.open(&u))
                .transpose()?,
            closures: Closures {
                zone: zone
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("calendar zone {zone:?}")))?,
                exceptions: sealed.closures,
            },
            notes: sealed.notes,
            refreshed_at: parse_ts(&r.try_get::<String, _>("refreshed_at")?)?,
            last_error: r.try_get("last_error")?,
            created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
        })
    }

    /// The viewer's calendars, oldest first.
    pub async fn calendars(&self, viewer: Viewer) -> Result<Vec<Calendar>> {
        let rows = sqlx::query("SELECT * FROM calendars WHERE practitioner_id = $1 ORDER BY created_at, id")
            .bind(viewer.id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.row_calendar(r)).collect()
    }

    /// One of the viewer's calendars with its text.
    pub async fn calendar(&self, viewer: Viewer, id: Uuid) -> Result<(Calendar, String)> {
        let row = sqlx::query("SELECT * FROM calendars WHERE id = $1 AND practitioner_id = $2")
            .bind(id.to_string())
            .bind(viewer.id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((
            self.row_calendar(&row)?,
            self.key.open(&row.try_get::<String, _>("source")?)?,
        ))
    }

    /// Forget one of the viewer's calendars; its closures stop applying.
    pub async fn remove_calendar(&self, viewer: Viewer, id: Uuid) -> Result<()> {
        let (_g, mut tx) = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM calendars WHERE id = $1 AND practitioner_id = $2")
            .bind(id.to_string())
            .bind(viewer.id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The closures of a practitioner's calendars, for deciding their contacts.
    pub async fn closures_of(&self, practitioner: UserId) -> Result<Vec<Closures>> {
        let rows = sqlx::query("SELECT * FROM calendars WHERE practitioner_id = $1 ORDER BY created_at, id")
            .bind(practitioner.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.row_calendar(r).map(|c| c.closures)).collect()
    }

    /// Calendars last read before `before`, oldest first, at most `limit`.
    /// Any instance may refresh them; a refresh only replaces what it read.
    pub async fn calendars_due(&self, before: Timestamp, limit: u32) -> Result<Vec<DueCalendar>> {
        let rows = sqlx::query(&format!(
            "SELECT c.*, u.timezone AS user_zone FROM calendars c JOIN users u ON u.id = c.practitioner_id WHERE c.refreshed_at < $1 ORDER BY c.refreshed_at, c.id LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(fmt_ts(before))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let calendar = self.row_calendar(r)?;
                let user_zone: String = r.try_get("user_zone")?;
                Ok(DueCalendar {
                    zone: user_zone.parse().unwrap_or_else(|_| calendar.closures.zone.clone()),
                    source: self.key.open(&r.try_get::<String, _>("source")?)?,
                    calendar,
                })
            })
            .collect()
    }

    /// Record a calendar read again: new text and closures, or why it failed
    /// (the closures of the last good read stay).
    pub async fn save_refresh(&self, id: Uuid, outcome: std::result::Result<CalendarRead, String>) -> Result<()> {
        let at = fmt_ts(now());
        let (_g, mut tx) = self.begin_write().await?;
        match outcome {
            Ok(read) => {
                sqlx::query(
                    "UPDATE calendars SET source = $1, zone = $2, closures = $3, refreshed_at = $4, last_error = NULL WHERE id = $5",
                )
                .bind(self.key.seal(&read.source))
                .bind(read.zone.name())
                .bind(self.seal_closures(&read.closures, &read.notes)?)
                .bind(&at)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            Err(why) => {
                sqlx::query("UPDATE calendars SET refreshed_at = $1, last_error = $2 WHERE id = $3")
                    .bind(&at)
                    .bind(why)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------------ the feed

    /// The viewer's feed token, when they have made a link.
    pub async fn feed_token(&self, viewer: Viewer) -> Result<Option<String>> {
        let row = sqlx::query("SELECT token FROM calendar_feeds WHERE practitioner_id = $1")
            .bind(viewer.id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.key.open(&r.try_get::<String, _>("token")?))
            .transpose()
    }

    /// Make the viewer's feed link, replacing (and so disabling) any earlier one.
    pub async fn new_feed_token(&self, viewer: Viewer, token: &str) -> Result<()> {
        Self::practitioner_only(viewer)?;
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query("DELETE FROM calendar_feeds WHERE practitioner_id = $1")
            .bind(viewer.id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO calendar_feeds (practitioner_id, token_key, token, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(viewer.id.to_string())
        .bind(self.key.fingerprint(token))
        .bind(self.key.seal(token))
        .bind(fmt_ts(now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turn the viewer's feed link off.
    pub async fn remove_feed_token(&self, viewer: Viewer) -> Result<()> {
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query("DELETE FROM calendar_feeds WHERE practitioner_id = $1")
            .bind(viewer.id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whose feed a link's token opens.
    pub async fn user_by_feed_token(&self, token: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.* FROM calendar_feeds f JOIN users u ON u.id = f.practitioner_id WHERE f.token_key = $1",
        )
        .bind(self.key.fingerprint(token))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_user).transpose()
    }
}

/// An engagement that is not closed, with the terms in force and the
/// client's name, for the practitioner's feed.
#[derive(Debug, Clone)]
pub struct OpenWork {
    pub engagement: endwell_core::model::Engagement,
    pub client_name: String,
    pub terms: Option<endwell_core::Terms>,
}

impl Store {
    /// A practitioner's engagements that are not closed (proposed, active,
    /// ending), each with the terms in force (`model::in_force`), in two queries.
    pub async fn open_work(&self, practitioner: UserId) -> Result<Vec<OpenWork>> {
        let open = "('proposed', 'active', 'ending')";
        let rows = sqlx::query(&format!(
            "SELECT e.*, c.given_name AS c_given, c.family_name AS c_family, c.preferred_name AS c_preferred \
             FROM engagements e JOIN clients c ON c.id = e.client_id \
             WHERE e.practitioner_id = $1 AND e.state IN {open} ORDER BY e.id"
        ))
        .bind(practitioner.to_string())
        .fetch_all(&self.pool)
        .await?;
        let agreements = sqlx::query(&format!(
            "SELECT a.* FROM agreements a JOIN engagements e ON e.id = a.engagement_id \
             WHERE e.practitioner_id = $1 AND e.state IN {open} ORDER BY a.engagement_id, a.version DESC"
        ))
        .bind(practitioner.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut versions: std::collections::HashMap<endwell_core::EngagementId, Vec<endwell_core::model::Agreement>> =
            std::collections::HashMap::new();
        for r in &agreements {
            let a = crate::rows::row_agreement(r)?;
            versions.entry(a.engagement_id).or_default().push(a);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let engagement = crate::rows::row_engagement(r)?;
            let preferred: String = r.try_get("c_preferred")?;
            let given: String = r.try_get("c_given")?;
            let family: String = r.try_get("c_family")?;
            let first = if preferred.is_empty() { given } else { preferred };
            let terms = versions
                .get(&engagement.id)
                .and_then(|v| endwell_core::model::in_force(v))
                .map(|a| a.terms.clone());
            out.push(OpenWork {
                engagement,
                client_name: format!("{first} {family}").trim().to_string(),
                terms,
            });
        }
        Ok(out)
    }
}
