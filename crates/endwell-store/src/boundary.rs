//! The boundary log's first entries: incidents the practitioner records
//! from a contact's triage, and proposals they set aside.

use std::collections::HashSet;

use endwell_core::access::Viewer;
use endwell_core::boundary::{Category, InitiatedBy};
use endwell_core::event::NewEvent;
use endwell_core::{DomainError, EngagementId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::rows::{fmt_ts, id_col, parse_ts};
use crate::{Result, Store, StoreError, now, on_unique};

/// A recorded boundary incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    pub id: Uuid,
    pub engagement_id: EngagementId,
    pub practitioner_id: UserId,
    pub category: Category,
    pub initiated_by: InitiatedBy,
    pub what_happened: String,
    pub response: String,
    /// The contact it was recorded from, if any.
    pub contact_id: Option<Uuid>,
    pub created_by: UserId,
    pub created_at: Timestamp,
}

/// What the practitioner writes when recording one.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub category: Category,
    pub initiated_by: InitiatedBy,
    pub what_happened: String,
    pub response: String,
    pub contact_id: Option<Uuid>,
}

/// A proposal the practitioner said was not a crossing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dismissal {
    pub contact_id: Uuid,
    pub category: Category,
    pub dismissed_by: UserId,
    pub dismissed_at: Timestamp,
}

impl Store {
    /// Record an incident on the viewer's own engagement, from one of its
    /// contacts or not; it is added to the engagement's history.
    pub async fn record_incident(&self, viewer: Viewer, engagement: EngagementId, n: NewIncident) -> Result<Incident> {
        if let Some(c) = n.contact_id {
            let contact = self.contact(viewer, c).await?;
            if contact.engagement_id != Some(engagement) {
                return Err(DomainError::invalid("contact_id", "that contact belongs to another engagement").into());
            }
        }
        self.write_incident(viewer, engagement, n).await
    }

    /// Record an incident from one of the viewer's contacts (`n.contact_id`),
    /// on the engagement the contact belongs to.
    pub async fn record_incident_from_contact(&self, viewer: Viewer, n: NewIncident) -> Result<Incident> {
        let c = n
            .contact_id
            .ok_or_else(|| DomainError::invalid("contact_id", "say which contact the incident is recorded from"))?;
        let engagement = self
            .contact(viewer, c)
            .await?
            .engagement_id
            .ok_or(StoreError::NotFound)?;
        self.write_incident(viewer, engagement, n).await
    }

    async fn write_incident(&self, viewer: Viewer, engagement: EngagementId, n: NewIncident) -> Result<Incident> {
        let e = self.engagement(viewer, engagement).await?;
        if e.practitioner_id != viewer.id {
            return Err(StoreError::Forbidden);
        }
        let (what_happened, response) = endwell_core::boundary::report(&n.what_happened, &n.response)?;
        let incident = Incident {
            id: Uuid::now_v7(),
            engagement_id: engagement,
            practitioner_id: e.practitioner_id,
            category: n.category,
            initiated_by: n.initiated_by,
            what_happened,
            response,
            contact_id: n.contact_id,
            created_by: viewer.id,
            created_at: now(),
        };
        let (_g, mut tx) = self.begin_write().await?;
        self.insert_incident(&mut tx, &incident)
            .await
            .map_err(on_unique("this contact already has an incident in that category"))?;
        self.append_event(
            &mut tx,
            NewEvent::boundary_incident_recorded(
                viewer.id,
                e.client_id,
                engagement,
                incident.id,
                incident.category,
                incident.initiated_by,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(incident)
    }

    pub(crate) async fn insert_incident(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        i: &Incident,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO boundary_incidents (id, engagement_id, practitioner_id, category, initiated_by, what_happened, response, contact_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(i.id.to_string())
        .bind(i.engagement_id.to_string())
        .bind(i.practitioner_id.to_string())
        .bind(i.category.key())
        .bind(i.initiated_by.key())
        .bind(self.key.seal(&i.what_happened))
        .bind(self.key.seal(&i.response))
        .bind(i.contact_id.map(|c| c.to_string()))
        .bind(i.created_by.to_string())
        .bind(fmt_ts(i.created_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// An engagement's incidents, newest first (supervisors read them too).
    pub async fn incidents(&self, viewer: Viewer, engagement: EngagementId) -> Result<Vec<Incident>> {
        self.engagement(viewer, engagement).await?;
        let rows =
            sqlx::query("SELECT * FROM boundary_incidents WHERE engagement_id = $1 ORDER BY created_at DESC, id DESC")
                .bind(engagement.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| self.row_incident(r)).collect()
    }

    /// The practitioner says a proposal for their contact is not a crossing.
    pub async fn dismiss_proposal(&self, viewer: Viewer, contact: Uuid, category: Category) -> Result<()> {
        let c = self.contact(viewer, contact).await?;
        if c.practitioner_id != viewer.id {
            return Err(StoreError::Forbidden);
        }
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO proposal_dismissals (contact_id, category, dismissed_by, dismissed_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(contact.to_string())
        .bind(category.key())
        .bind(viewer.id.to_string())
        .bind(fmt_ts(now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Which (contact, category) proposals of these contacts were answered:
    /// recorded as an incident or set aside. The viewer's own contacts only.
    pub async fn answered_proposals(&self, viewer: Viewer, contacts: &[Uuid]) -> Result<HashSet<(Uuid, Category)>> {
        let mut out = HashSet::new();
        for chunk in contacts.chunks(200) {
            if chunk.is_empty() {
                continue;
            }
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT contact_id, category FROM boundary_incidents WHERE practitioner_id = $1 AND contact_id IN ({list}) \
                 UNION SELECT d.contact_id, d.category FROM proposal_dismissals d JOIN contacts c ON c.id = d.contact_id \
                 WHERE c.practitioner_id = $1 AND d.contact_id IN ({list})"
            );
            let mut q = sqlx::query(&sql).bind(viewer.id.to_string());
            for c in chunk {
                q = q.bind(c.to_string());
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: Uuid = id_col(&r, "contact_id")?;
                let cat: String = r.try_get("category")?;
                out.insert((
                    id,
                    cat.parse()
                        .map_err(|_| StoreError::Corrupt(format!("category {cat:?}")))?,
                ));
            }
        }
        Ok(out)
    }

    fn row_incident(&self, r: &AnyRow) -> Result<Incident> {
        let cat: String = r.try_get("category")?;
        let by: String = r.try_get("initiated_by")?;
        let contact: Option<String> = r.try_get("contact_id")?;
        Ok(Incident {
            id: id_col(r, "id")?,
            engagement_id: id_col(r, "engagement_id")?,
            practitioner_id: id_col(r, "practitioner_id")?,
            category: cat
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("category {cat:?}")))?,
            initiated_by: by
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("initiated_by {by:?}")))?,
            what_happened: self.key.open(&r.try_get::<String, _>("what_happened")?)?,
            response: self.key.open(&r.try_get::<String, _>("response")?)?,
            contact_id: contact
                .map(|c| c.parse().map_err(|_| StoreError::Corrupt(format!("contact_id {c:?}"))))
                .transpose()?,
            created_by: id_col(r, "created_by")?,
            created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
        })
    }

    /// Every incident and dismissal, for an export.
    pub(crate) async fn export_boundary(&self) -> Result<(Vec<Incident>, Vec<Dismissal>)> {
        let rows = sqlx::query("SELECT * FROM boundary_incidents ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        let incidents = rows.iter().map(|r| self.row_incident(r)).collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query("SELECT * FROM proposal_dismissals ORDER BY dismissed_at, contact_id")
            .fetch_all(&self.pool)
            .await?;
        let dismissals = rows
            .iter()
            .map(|r| {
                let cat: String = r.try_get("category")?;
                Ok(Dismissal {
                    contact_id: id_col(r, "contact_id")?,
                    category: cat
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("category {cat:?}")))?,
                    dismissed_by: id_col(r, "dismissed_by")?,
                    dismissed_at: parse_ts(&r.try_get::<String, _>("dismissed_at")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((incidents, dismissals))
    }

    pub(crate) async fn import_boundary(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        incidents: &[Incident],
        dismissals: &[Dismissal],
    ) -> Result<()> {
        for i in incidents {
            self.insert_incident(tx, i).await?;
        }
        for d in dismissals {
            sqlx::query(
                "INSERT INTO proposal_dismissals (contact_id, category, dismissed_by, dismissed_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(d.contact_id.to_string())
            .bind(d.category.key())
            .bind(d.dismissed_by.to_string())
            .bind(fmt_ts(d.dismissed_at))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
