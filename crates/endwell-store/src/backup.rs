//! The parts of an export beyond people, engagements and history: contacts
//! with their decisions, digests, the release queue, calendars, feed links
//! and transfer receivers. Each is a section of [`Export`] that an older
//! export simply lacks (it reads as empty), so exports stay loadable.

use endwell_core::terms::Exception;
use endwell_core::{EngagementId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use crate::contacts::{ContactEntry, Digest};
use crate::rows::{fmt_ts, id_col, parse_ts};
use crate::{Result, Store};

/// Everything of the office-hours machinery, unsealed like the rest of an export.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OfficeData {
    pub contacts: Vec<ContactEntry>,
    pub digests: Vec<ExportedDigest>,
    pub jobs: Vec<ExportedJob>,
    pub calendars: Vec<ExportedCalendar>,
    pub calendar_feeds: Vec<ExportedFeed>,
    pub transfers: Vec<ExportedTransfer>,
    /// Boundary incidents and set-aside proposals (absent from older exports).
    #[serde(default)]
    pub incidents: Vec<crate::boundary::Incident>,
    #[serde(default)]
    pub dismissals: Vec<crate::boundary::Dismissal>,
}

/// (No `deny_unknown_fields` here: serde does not support it with `flatten`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedDigest {
    #[serde(flatten)]
    pub digest: Digest,
    pub job_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedJob {
    pub id: String,
    pub kind: String,
    pub practitioner_id: UserId,
    pub run_at: Timestamp,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub done_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedCalendar {
    pub id: Uuid,
    pub practitioner_id: UserId,
    pub name: String,
    pub url: Option<String>,
    pub source: String,
    pub zone: String,
    pub closures: Vec<Exception>,
    pub notes: Vec<String>,
    pub refreshed_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedFeed {
    pub practitioner_id: UserId,
    pub token: String,
    pub created_at: Timestamp,
}

/// A transferred engagement and the practitioner here who took it on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedTransfer {
    pub engagement_id: EngagementId,
    pub to: UserId,
}

fn opt_ts(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<Timestamp>> {
    r.try_get::<Option<String>, _>(col)?.map(|t| parse_ts(&t)).transpose()
}

impl Store {
    pub(crate) async fn export_office(&self) -> Result<OfficeData> {
        let rows = sqlx::query("SELECT * FROM contacts ORDER BY received_at, id")
            .fetch_all(&self.pool)
            .await?;
        let contacts = rows.iter().map(|r| self.row_contact(r)).collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query("SELECT * FROM digests ORDER BY released_at, id")
            .fetch_all(&self.pool)
            .await?;
        let digests = rows
            .iter()
            .map(|r| {
                Ok(ExportedDigest {
                    digest: crate::contacts::row_digest(r)?,
                    job_id: r.try_get("job_id")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query("SELECT * FROM jobs ORDER BY run_at, id")
            .fetch_all(&self.pool)
            .await?;
        let jobs = rows
            .iter()
            .map(|r| {
                Ok(ExportedJob {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    practitioner_id: id_col(r, "practitioner_id")?,
                    run_at: parse_ts(&r.try_get::<String, _>("run_at")?)?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    done_at: opt_ts(r, "done_at")?,
                    created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query("SELECT * FROM calendars ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        let calendars = rows
            .iter()
            .map(|r| {
                let c = self.row_calendar(r)?;
                Ok(ExportedCalendar {
                    id: c.id,
                    practitioner_id: c.practitioner_id,
                    name: c.name,
                    url: c.url,
                    source: self.key.open(&r.try_get::<String, _>("source")?)?,
                    zone: c.closures.zone.name().to_string(),
                    closures: c.closures.exceptions,
                    notes: c.notes,
                    refreshed_at: c.refreshed_at,
                    last_error: c.last_error,
                    created_at: c.created_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query("SELECT * FROM calendar_feeds ORDER BY practitioner_id")
            .fetch_all(&self.pool)
            .await?;
        let calendar_feeds = rows
            .iter()
            .map(|r| {
                Ok(ExportedFeed {
                    practitioner_id: id_col(r, "practitioner_id")?,
                    token: self.key.open(&r.try_get::<String, _>("token")?)?,
                    created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows =
            sqlx::query("SELECT id, transferred_to FROM engagements WHERE transferred_to IS NOT NULL ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let transfers = rows
            .iter()
            .map(|r| {
                Ok(ExportedTransfer {
                    engagement_id: id_col(r, "id")?,
                    to: id_col(r, "transferred_to")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (incidents, dismissals) = self.export_boundary().await?;
        Ok(OfficeData {
            contacts,
            digests,
            jobs,
            calendars,
            calendar_feeds,
            transfers,
            incidents,
            dismissals,
        })
    }

    /// Write the office data inside the import's transaction, after users and engagements.
    pub(crate) async fn import_office(&self, tx: &mut Transaction<'static, Any>, d: &OfficeData) -> Result<()> {
        for t in &d.transfers {
            sqlx::query("UPDATE engagements SET transferred_to = $1 WHERE id = $2")
                .bind(t.to.to_string())
                .bind(t.engagement_id.to_string())
                .execute(&mut **tx)
                .await?;
        }
        for j in &d.jobs {
            sqlx::query(
                "INSERT INTO jobs (id, kind, practitioner_id, run_at, state, attempts, last_error, done_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&j.id)
            .bind(&j.kind)
            .bind(j.practitioner_id.to_string())
            .bind(fmt_ts(j.run_at))
            .bind(&j.state)
            .bind(j.attempts)
            .bind(&j.last_error)
            .bind(j.done_at.map(fmt_ts))
            .bind(fmt_ts(j.created_at))
            .execute(&mut **tx)
            .await?;
        }
        for g in &d.digests {
            sqlx::query(
                "INSERT INTO digests (id, practitioner_id, released_at, contact_count, job_id) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(g.digest.id.to_string())
            .bind(g.digest.practitioner_id.to_string())
            .bind(fmt_ts(g.digest.released_at))
            .bind(g.digest.contact_count)
            .bind(&g.job_id)
            .execute(&mut **tx)
            .await?;
        }
        for c in &d.contacts {
            self.insert_contact(tx, c).await?;
            if c.released_at.is_some() || c.digest_id.is_some() {
                sqlx::query("UPDATE contacts SET released_at = $1, digest_id = $2 WHERE id = $3")
                    .bind(c.released_at.map(fmt_ts))
                    .bind(c.digest_id.map(|d| d.to_string()))
                    .bind(c.id.to_string())
                    .execute(&mut **tx)
                    .await?;
            }
            if let Some(at) = c.acknowledged_at {
                sqlx::query("UPDATE contacts SET acknowledged_at = $1 WHERE id = $2")
                    .bind(fmt_ts(at))
                    .bind(c.id.to_string())
                    .execute(&mut **tx)
                    .await?;
            }
        }
        self.import_boundary(tx, &d.incidents, &d.dismissals).await?;
        for c in &d.calendars {
            let zone: endwell_core::terms::Zone = c.zone.parse()?;
            sqlx::query(
                "INSERT INTO calendars (id, practitioner_id, name, url, source, zone, closures, refreshed_at, last_error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(c.id.to_string())
            .bind(c.practitioner_id.to_string())
            .bind(&c.name)
            .bind(c.url.as_deref().map(|u| self.key.seal(u)))
            .bind(self.key.seal(&c.source))
            .bind(zone.name())
            .bind(self.seal_closures(&c.closures, &c.notes)?)
            .bind(fmt_ts(c.refreshed_at))
            .bind(&c.last_error)
            .bind(fmt_ts(c.created_at))
            .execute(&mut **tx)
            .await?;
        }
        for f in &d.calendar_feeds {
            sqlx::query(
                "INSERT INTO calendar_feeds (practitioner_id, token_key, token, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(f.practitioner_id.to_string())
            .bind(self.key.fingerprint(&f.token))
            .bind(self.key.seal(&f.token))
            .bind(fmt_ts(f.created_at))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
