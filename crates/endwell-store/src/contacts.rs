//! Contacts, their decisions, and the durable release of held contacts.
//!
//! A held contact is written in the same transaction as a `release` job for
//! its practitioner at its release time, so a crash can lose neither. The
//! scheduler claims due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the
//! writer lock on SQLite) and, in one transaction, marks the practitioner's
//! due contacts released into one digest and the job done: a restart
//! retries an unfinished release, and a finished one is never repeated.
//! Contacts carry `released_at IS NULL` in the update's condition, so even
//! two jobs for one practitioner racing on two instances release each
//! contact once.

use endwell_core::access::Viewer;
use endwell_core::decision::{Action, Decision, Reply};
use endwell_core::terms::Channel;
use endwell_core::triage::Finding;
use endwell_core::{AgreementId, EngagementId, UserId};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use crate::rows::{fmt_ts, id_col, parse_ts, row_engagement};
use crate::{Backend, Result, Store, StoreError, now};

/// A contact to record, with the decision already taken.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub practitioner_id: UserId,
    pub engagement_id: Option<EngagementId>,
    pub channel: Channel,
    pub sender: String,
    pub subject: Option<String>,
    pub body: String,
    pub received_at: Timestamp,
    pub labels: Vec<Finding>,
    pub decision: Decision,
}

impl NewContact {
    /// The contact as it is stored (not yet released), with a new id.
    pub fn into_entry(self) -> ContactEntry {
        ContactEntry {
            id: Uuid::now_v7(),
            practitioner_id: self.practitioner_id,
            engagement_id: self.engagement_id,
            channel: self.channel,
            sender: self.sender,
            subject: self.subject,
            body: self.body,
            received_at: self.received_at,
            action: self.decision.action,
            reasons: self.decision.reasons,
            labels: self.labels,
            reply: self.decision.reply,
            release_at: self.decision.release_at,
            released_at: None,
            digest_id: None,
            acknowledged_at: None,
        }
    }
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactEntry {
    pub id: Uuid,
    pub practitioner_id: UserId,
    pub engagement_id: Option<EngagementId>,
    pub channel: Channel,
    pub sender: String,
    pub subject: Option<String>,
    pub body: String,
    pub received_at: Timestamp,
    pub action: Action,
    pub reasons: Vec<String>,
    pub labels: Vec<Finding>,
    pub reply: Option<Reply>,
    pub release_at: Option<Timestamp>,
    pub released_at: Option<Timestamp>,
    pub digest_id: Option<Uuid>,
    /// For a crisis: when the practitioner said they had seen it and acted;
    /// until then it is an alert on every page.
    #[serde(default)]
    pub acknowledged_at: Option<Timestamp>,
}

impl ContactEntry {
    /// Held and not yet released.
    pub fn is_waiting(&self) -> bool {
        self.action.is_held() && self.released_at.is_none()
    }

    /// May be a crisis and not yet acknowledged: an alert.
    pub fn is_alert(&self) -> bool {
        self.action == Action::Crisis && self.acknowledged_at.is_none()
    }
}

/// Held contacts released together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub id: Uuid,
    pub practitioner_id: UserId,
    pub released_at: Timestamp,
    pub contact_count: i64,
}

/// Which contacts an inbox page shows.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// Only held contacts not yet released.
    pub waiting_only: bool,
    /// Only this engagement's contacts.
    pub engagement: Option<EngagementId>,
    /// Keyset: contacts received before this (time, id).
    pub before: Option<(Timestamp, Uuid)>,
    pub per_page: u32,
}

const JOB_RELEASE: &str = "release";

/// At most this many contacts are written in one transaction.
const MAX_BATCH: usize = 128;

/// Contacts waiting for the group-commit writer.
#[derive(Default)]
pub(crate) struct ContactQueue(std::sync::Mutex<QueueState>);

#[derive(Default)]
pub(crate) struct QueueState {
    /// Release jobs known to exist. A job row is never deleted (a done one
    /// stays, and `ON CONFLICT DO NOTHING` would skip it), so once one is
    /// committed, writing it again can be left out — also with other
    /// instances. Whatever deletes release jobs must clear this set.
    known_jobs: std::collections::HashSet<(UserId, Timestamp)>,
    waiting: Vec<Queued>,
    /// A writer task is running and will take what is waiting.
    writing: bool,
}

struct Queued {
    entry: ContactEntry,
    row: ContactRow,
    done: tokio::sync::oneshot::Sender<Result<ContactEntry>>,
}

/// The columns of one contact, ready to bind.
struct ContactRow {
    id: String,
    practitioner_id: String,
    engagement_id: Option<String>,
    channel: &'static str,
    sender: String,
    sender_key: String,
    subject: Option<String>,
    body: String,
    received_at: String,
    action: &'static str,
    reasons: String,
    labels: String,
    reply: Option<String>,
    replied: i64,
    release_at: Option<String>,
    created_at: String,
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// Rows per multi-row INSERT (16 parameters each: 1,024 at most, well
/// within SQLite's and PostgreSQL's limits).
const ROWS_PER_INSERT: usize = 64;

/// The multi-row INSERT with the rows of `batch` bound.
fn insert_contacts_query<'q>(
    sql: &'q str,
    rows: impl IntoIterator<Item = &'q ContactRow>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for r in rows {
        q = q
            .bind(r.id.as_str())
            .bind(r.practitioner_id.as_str())
            .bind(r.engagement_id.as_deref())
            .bind(r.channel)
            .bind(r.sender.as_str())
            .bind(r.sender_key.as_str())
            .bind(r.subject.as_deref())
            .bind(r.body.as_str())
            .bind(r.received_at.as_str())
            .bind(r.action)
            .bind(r.reasons.as_str())
            .bind(r.labels.as_str())
            .bind(r.reply.as_deref())
            .bind(r.replied)
            .bind(r.release_at.as_deref())
            .bind(r.created_at.as_str());
    }
    q
}

/// `INSERT INTO contacts … VALUES (…), (…)` for `rows` rows.
fn insert_contacts_sql(rows: usize) -> String {
    const COLUMNS: usize = 16;
    let mut sql = String::from(
        "INSERT INTO contacts (id, practitioner_id, engagement_id, channel, sender, sender_key, subject, body, received_at, action, reasons, labels, reply, replied, release_at, created_at) VALUES ",
    );
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..COLUMNS {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * COLUMNS + c + 1));
        }
        sql.push(')');
    }
    sql
}

impl ContactQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn jobs_written(&self, jobs: Vec<(UserId, Timestamp)>) {
        let mut q = self.lock();
        if q.known_jobs.len() + jobs.len() > 100_000 {
            q.known_jobs.clear();
        }
        q.known_jobs.extend(jobs);
    }
}

impl Store {
    fn sender_key(&self, sender: &str) -> String {
        self.key.fingerprint(&sender.trim().to_lowercase())
    }

    /// When this practitioner's contacts from `sender` last got an automatic reply.
    pub async fn last_reply(&self, practitioner: UserId, sender: &str) -> Result<Option<Timestamp>> {
        let row = sqlx::query(
            "SELECT MAX(received_at) AS t FROM contacts WHERE practitioner_id = $1 AND sender_key = $2 AND replied = 1",
        )
        .bind(practitioner.to_string())
        .bind(self.sender_key(sender))
        .fetch_one(&self.pool)
        .await?;
        row.try_get::<Option<String>, _>("t")?.map(|t| parse_ts(&t)).transpose()
    }

    /// Record a contact and its decision; a held one also gets its release job.
    ///
    /// Group commit: contacts recorded at the same time are written by one
    /// task in one transaction, and each call returns only after that
    /// transaction has committed (or failed: then every call in it fails,
    /// and none of its contacts is stored). Cancelling a call does not
    /// cancel the write it has joined.
    pub async fn record_contact(&self, viewer: Viewer, c: NewContact) -> Result<ContactEntry> {
        if viewer.id != c.practitioner_id {
            return Err(StoreError::NotFound);
        }
        let entry = c.into_entry();
        // Sealing and encoding happen here, in parallel, not in the writer.
        let row = self.contact_row(&entry)?;
        let (done, answer) = tokio::sync::oneshot::channel();
        let start = {
            let mut q = self.contact_queue.lock();
            q.waiting.push(Queued { entry, row, done });
            !std::mem::replace(&mut q.writing, true)
        };
        if start {
            tokio::spawn(self.clone().write_queued_contacts());
        }
        answer
            .await
            .map_err(|_| StoreError::Conflict("the contact was not stored: the server is stopping".into()))?
    }

    /// The practitioner a transferred engagement went to, when it names one.
    pub async fn receiving_worker(
        &self,
        viewer: Viewer,
        engagement: EngagementId,
    ) -> Result<Option<endwell_core::model::User>> {
        let e = self.engagement(viewer, engagement).await?;
        let row = sqlx::query(
            "SELECT u.* FROM engagements e JOIN users u ON u.id = e.transferred_to WHERE e.id = $1 AND e.state = 'transferred'",
        )
        .bind(e.id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(crate::rows::row_user).transpose()
    }

    /// Record a contact for a transferred engagement in the inbox of the
    /// practitioner it went to. Only the former practitioner (whose channels
    /// still receive it) may, and only to the receiver the transfer names.
    pub async fn record_forwarded(
        &self,
        viewer: Viewer,
        engagement: EngagementId,
        c: NewContact,
    ) -> Result<ContactEntry> {
        let row = sqlx::query(
            "SELECT practitioner_id, transferred_to FROM engagements WHERE id = $1 AND state = 'transferred'",
        )
        .bind(engagement.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let owner: String = row.try_get("practitioner_id")?;
        let to: Option<String> = row.try_get("transferred_to")?;
        if owner != viewer.id.to_string() || to != Some(c.practitioner_id.to_string()) {
            return Err(StoreError::Forbidden);
        }
        let entry = c.into_entry();
        let (_g, mut tx) = self.begin_write().await?;
        self.insert_contact(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// One contact, inside the caller's transaction (forwarding, import).
    pub(crate) async fn insert_contact(&self, tx: &mut Transaction<'static, Any>, e: &ContactEntry) -> Result<()> {
        let row = self.contact_row(e)?;
        insert_contacts_query(&insert_contacts_sql(1), [&row])
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Write queued contacts, a batch per transaction, until none are left.
    async fn write_queued_contacts(self) {
        /// Lets the next caller start a writer again should this one panic
        /// or be dropped with its runtime; queued callers are then answered
        /// with an error (their channels close).
        struct Finish<'a>(&'a ContactQueue, bool);
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    let mut q = self.0.lock();
                    q.writing = false;
                    q.waiting.clear();
                }
            }
        }
        let queue = self.contact_queue.clone();
        let mut finish = Finish(&queue, false);
        loop {
            let batch: Vec<Queued> = {
                let mut q = queue.lock();
                if q.waiting.is_empty() {
                    q.writing = false;
                    finish.1 = true;
                    return;
                }
                let n = q.waiting.len().min(MAX_BATCH);
                q.waiting.drain(..n).collect()
            };
            let result = self.insert_contacts(&batch).await;
            match result {
                Ok(()) => {
                    for q in batch {
                        let _ = q.done.send(Ok(q.entry));
                    }
                }
                Err(e) if batch.len() == 1 => {
                    if let Some(q) = batch.into_iter().next() {
                        let _ = q.done.send(Err(e));
                    }
                }
                Err(e) => {
                    tracing::warn!(contacts = batch.len(), "writing a batch of contacts failed: {e}");
                    let e = Arc::new(e);
                    for q in batch {
                        let _ = q.done.send(Err(StoreError::Batch(e.clone())));
                    }
                }
            }
        }
    }

    /// Insert contacts and the release jobs of the held ones, atomically:
    /// in one transaction, or, when that is one statement, in one statement.
    async fn insert_contacts(&self, batch: &[Queued]) -> Result<()> {
        let jobs: Vec<(UserId, Timestamp)> = {
            let queue = self.contact_queue.lock();
            let wanted: std::collections::BTreeSet<(UserId, Timestamp)> = batch
                .iter()
                .filter(|q| q.entry.action.is_held())
                .filter_map(|q| q.entry.release_at.map(|at| (q.entry.practitioner_id, at)))
                .filter(|job| !queue.known_jobs.contains(job))
                .collect();
            wanted.into_iter().collect()
        };
        if jobs.is_empty() && batch.len() <= ROWS_PER_INSERT {
            let (_g, mut conn) = self.write_connection().await?;
            insert_contacts_query(&insert_contacts_sql(batch.len()), batch.iter().map(|q| &q.row))
                .execute(&mut *conn)
                .await?;
            return Ok(());
        }
        let (_g, mut tx) = self.begin_write().await?;
        for chunk in batch.chunks(ROWS_PER_INSERT) {
            insert_contacts_query(&insert_contacts_sql(chunk.len()), chunk.iter().map(|q| &q.row))
                .execute(&mut *tx)
                .await?;
        }
        if !jobs.is_empty() {
            let mut sql =
                String::from("INSERT INTO jobs (id, kind, practitioner_id, run_at, state, created_at) VALUES ");
            for i in 0..jobs.len() {
                let n = i * 5;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, 'pending', ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5
                ));
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            let mut q = sqlx::query(&sql);
            let created = fmt_ts(now());
            for (practitioner, at) in &jobs {
                q = q
                    .bind(Uuid::now_v7().to_string())
                    .bind(JOB_RELEASE)
                    .bind(practitioner.to_string())
                    .bind(fmt_ts(*at))
                    .bind(created.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.contact_queue.jobs_written(jobs);
        Ok(())
    }

    /// A contact's column values as stored: sealed where the schema says so.
    fn contact_row(&self, e: &ContactEntry) -> Result<ContactRow> {
        Ok(ContactRow {
            id: e.id.to_string(),
            practitioner_id: e.practitioner_id.to_string(),
            engagement_id: e.engagement_id.map(|id| id.to_string()),
            channel: e.channel.key(),
            sender: self.key.seal(&e.sender),
            sender_key: self.sender_key(&e.sender),
            subject: e.subject.as_deref().map(|s| self.key.seal(s)),
            body: self.key.seal(&e.body),
            received_at: fmt_ts(e.received_at),
            action: e.action.key(),
            reasons: json(&e.reasons)?,
            labels: json(&e.labels)?,
            reply: e
                .reply
                .as_ref()
                .map(|r| json(r).map(|j| self.key.seal(&j)))
                .transpose()?,
            replied: i64::from(e.reply.is_some()),
            release_at: e.release_at.map(fmt_ts),
            created_at: fmt_ts(now()),
        })
    }

    pub(crate) fn row_contact(&self, r: &AnyRow) -> Result<ContactEntry> {
        let opt_ts = |col: &str| -> Result<Option<Timestamp>> {
            r.try_get::<Option<String>, _>(col)?.map(|t| parse_ts(&t)).transpose()
        };
        let json = |col: &str| -> Result<String> { Ok(r.try_get::<String, _>(col)?) };
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let action: String = r.try_get("action")?;
        let channel: String = r.try_get("channel")?;
        let reply = match r.try_get::<Option<String>, _>("reply")? {
            Some(s) if !s.is_empty() => Some(serde_json::from_str(&self.key.open(&s)?).map_err(corrupt)?),
            _ => None,
        };
        let engagement: Option<String> = r.try_get("engagement_id")?;
        let digest: Option<String> = r.try_get("digest_id")?;
        Ok(ContactEntry {
            id: id_col(r, "id")?,
            practitioner_id: id_col(r, "practitioner_id")?,
            engagement_id: engagement
                .map(|s| {
                    s.parse()
                        .map_err(|_| StoreError::Corrupt(format!("engagement_id {s:?}")))
                })
                .transpose()?,
            channel: channel
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("channel {channel:?}")))?,
            sender: self.key.open(&r.try_get::<String, _>("sender")?)?,
            subject: r
                .try_get::<Option<String>, _>("subject")?
                .map(|s| self.key.open(&s))
                .transpose()?,
            body: self.key.open(&r.try_get::<String, _>("body")?)?,
            received_at: parse_ts(&r.try_get::<String, _>("received_at")?)?,
            action: Action::parse(&action).ok_or_else(|| StoreError::Corrupt(format!("action {action:?}")))?,
            reasons: serde_json::from_str(&json("reasons")?).map_err(corrupt)?,
            labels: serde_json::from_str(&json("labels")?).map_err(corrupt)?,
            reply,
            release_at: opt_ts("release_at")?,
            released_at: opt_ts("released_at")?,
            digest_id: digest
                .map(|s| s.parse().map_err(|_| StoreError::Corrupt(format!("digest_id {s:?}"))))
                .transpose()?,
            acknowledged_at: opt_ts("acknowledged_at")?,
        })
    }

    /// The viewer's own contacts, newest first. Contacts are the
    /// practitioner's alone: a supervisor reads caseloads, not inboxes.
    pub async fn inbox(&self, viewer: Viewer, q: InboxQuery) -> Result<Vec<ContactEntry>> {
        let per_page = q.per_page.clamp(1, 200);
        let mut sql = String::from("SELECT * FROM contacts WHERE practitioner_id = $1");
        let mut binds: Vec<String> = vec![viewer.id.to_string()];
        if q.waiting_only {
            sql.push_str(&format!(" AND released_at IS NULL AND {}", held_actions()));
        }
        if let Some(e) = q.engagement {
            binds.push(e.to_string());
            sql.push_str(&format!(" AND engagement_id = ${}", binds.len()));
        }
        if let Some((t, id)) = q.before {
            binds.push(fmt_ts(t));
            binds.push(id.to_string());
            let (a, b) = (binds.len() - 1, binds.len());
            sql.push_str(&format!(
                " AND (received_at < ${a} OR (received_at = ${a} AND id < ${b}))"
            ));
        }
        sql.push_str(&format!(" ORDER BY received_at DESC, id DESC LIMIT {per_page}"));
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|r| self.row_contact(r)).collect()
    }

    /// One of the viewer's contacts.
    pub async fn contact(&self, viewer: Viewer, id: Uuid) -> Result<ContactEntry> {
        let row = sqlx::query("SELECT * FROM contacts WHERE id = $1 AND practitioner_id = $2")
            .bind(id.to_string())
            .bind(viewer.id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.row_contact(&row)
    }

    /// The viewer's digests, newest first.
    pub async fn digests(&self, viewer: Viewer, limit: u32) -> Result<Vec<Digest>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM digests WHERE practitioner_id = $1 ORDER BY released_at DESC, id DESC LIMIT {}",
            limit.clamp(1, 200)
        ))
        .bind(viewer.id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_digest).collect()
    }

    /// The contacts released in one of the viewer's digests.
    pub async fn digest_contacts(&self, viewer: Viewer, digest: Uuid) -> Result<Vec<ContactEntry>> {
        let rows = sqlx::query(
            "SELECT * FROM contacts WHERE digest_id = $1 AND practitioner_id = $2 ORDER BY received_at, id",
        )
        .bind(digest.to_string())
        .bind(viewer.id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.row_contact(r)).collect()
    }

    /// Release every held contact of the viewer now (they chose to look),
    /// as one digest. `None` when nothing was waiting.
    pub async fn release_now(&self, viewer: Viewer) -> Result<Option<Digest>> {
        let at = now();
        let (_g, mut tx) = self.begin_write().await?;
        let job = Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO jobs (id, kind, practitioner_id, run_at, state, done_at, created_at) VALUES ($1, 'release_now', $2, $3, 'done', $3, $3)",
        )
        .bind(&job)
        .bind(viewer.id.to_string())
        .bind(fmt_ts(at))
        .execute(&mut *tx)
        .await?;
        let digest = release_in(&mut tx, viewer.id, &job, at, None).await?;
        tx.commit().await?;
        Ok(digest)
    }

    /// Give a release job (due `now`) to every practitioner with a held
    /// contact whose release time passed more than `grace` ago and is still
    /// unreleased. That happens when a contact is stored just after the job
    /// for its release time already ran (it arrived a moment before the
    /// spell opened, or was recorded with an earlier time): without this it
    /// would wait for the practitioner's next release, perhaps days away.
    pub async fn reschedule_overdue(&self, now: Timestamp, grace: jiff::SignedDuration) -> Result<usize> {
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT practitioner_id FROM contacts WHERE released_at IS NULL AND release_at <= $1 AND {}",
            held_actions()
        ))
        .bind(fmt_ts(now - grace))
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let (_g, mut tx) = self.begin_write().await?;
        for r in &rows {
            let practitioner: String = r.try_get("practitioner_id")?;
            sqlx::query(
                "INSERT INTO jobs (id, kind, practitioner_id, run_at, state, created_at) VALUES ($1, $2, $3, $4, 'pending', $4) ON CONFLICT DO NOTHING",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(JOB_RELEASE)
            .bind(&practitioner)
            .bind(fmt_ts(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Run due release jobs (up to `batch`), each in its own transaction.
    /// Safe to call from any number of instances at once.
    pub async fn release_due(&self, at: Timestamp, batch: u32) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for _ in 0..batch {
            let (_g, mut tx) = self.begin_write().await?;
            let claim = match self.backend {
                Backend::Postgres => {
                    "SELECT id, practitioner_id FROM jobs WHERE state = 'pending' AND run_at <= $1 ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
                }
                Backend::Sqlite => {
                    "SELECT id, practitioner_id FROM jobs WHERE state = 'pending' AND run_at <= $1 ORDER BY run_at, id LIMIT 1"
                }
            };
            let Some(row) = sqlx::query(claim).bind(fmt_ts(at)).fetch_optional(&mut *tx).await? else {
                break;
            };
            let job: String = row.try_get("id")?;
            let practitioner: UserId = id_col(&row, "practitioner_id")?;
            let digest = release_in(&mut tx, practitioner, &job, at, Some(at)).await?;
            sqlx::query("UPDATE jobs SET state = 'done', done_at = $1, attempts = attempts + 1 WHERE id = $2")
                .bind(fmt_ts(at))
                .bind(&job)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            out.extend(digest);
        }
        Ok(out)
    }

    /// The earliest pending job, so a scheduler can sleep until then.
    pub async fn next_job_at(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT MIN(run_at) AS t FROM jobs WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        row.try_get::<Option<String>, _>("t")?.map(|t| parse_ts(&t)).transpose()
    }
}

/// Mark a practitioner's held contacts released (those due by `due`, or all)
/// into one digest made by `job`.
async fn release_in(
    tx: &mut Transaction<'static, Any>,
    practitioner: UserId,
    job: &str,
    at: Timestamp,
    due: Option<Timestamp>,
) -> Result<Option<Digest>> {
    let digest = Digest {
        id: Uuid::now_v7(),
        practitioner_id: practitioner,
        released_at: at,
        contact_count: 0,
    };
    let mut sql = format!(
        "UPDATE contacts SET released_at = $1, digest_id = $2 WHERE practitioner_id = $3 AND released_at IS NULL AND {}",
        held_actions()
    );
    if due.is_some() {
        sql.push_str(" AND release_at <= $4");
    }
    let mut q = sqlx::query(&sql)
        .bind(fmt_ts(at))
        .bind(digest.id.to_string())
        .bind(practitioner.to_string());
    if let Some(d) = due {
        q = q.bind(fmt_ts(d));
    }
    let n = q.execute(&mut **tx).await?.rows_affected() as i64;
    if n == 0 {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO digests (id, practitioner_id, released_at, contact_count, job_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(digest.id.to_string())
    .bind(practitioner.to_string())
    .bind(fmt_ts(at))
    .bind(n)
    .bind(job)
    .execute(&mut **tx)
    .await?;
    Ok(Some(Digest {
        contact_count: n,
        ..digest
    }))
}

/// `action IN (…)` for the actions that hold a message, as the core defines them.
fn held_actions() -> String {
    let keys: Vec<String> = Action::ALL
        .iter()
        .filter(|a| a.is_held())
        .map(|a| format!("'{}'", a.key()))
        .collect();
    format!("action IN ({})", keys.join(", "))
}

impl Store {
    /// The viewer's crisis contacts not yet acknowledged, newest first.
    pub async fn crisis_alerts(&self, viewer: Viewer) -> Result<Vec<ContactEntry>> {
        let rows = sqlx::query(
            "SELECT * FROM contacts WHERE practitioner_id = $1 AND action = 'crisis' AND acknowledged_at IS NULL ORDER BY received_at DESC, id DESC LIMIT 100",
        )
        .bind(viewer.id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.row_contact(r)).collect()
    }

    /// The practitioner has seen a crisis contact and acted: it is no longer
    /// an alert. Only their own, and only a crisis; saying it twice is fine.
    pub async fn acknowledge_crisis(&self, viewer: Viewer, contact: Uuid) -> Result<ContactEntry> {
        let c = self.contact(viewer, contact).await?;
        if c.practitioner_id != viewer.id {
            return Err(StoreError::Forbidden);
        }
        if c.action != Action::Crisis {
            return Err(StoreError::Conflict(
                "only a contact that may be a crisis is acknowledged".into(),
            ));
        }
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE contacts SET acknowledged_at = $1 WHERE id = $2 AND acknowledged_at IS NULL")
            .bind(fmt_ts(now()))
            .bind(contact.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.contact(viewer, contact).await
    }
}

pub(crate) fn row_digest(r: &AnyRow) -> Result<Digest> {
    Ok(Digest {
        id: id_col(r, "id")?,
        practitioner_id: id_col(r, "practitioner_id")?,
        released_at: parse_ts(&r.try_get::<String, _>("released_at")?)?,
        contact_count: r.try_get("contact_count")?,
    })
}

/// What deciding a contact needs, read together (`Store::decision_inputs`).
#[derive(Debug, Clone)]
pub struct DecisionInputs {
    pub engagement: endwell_core::model::Engagement,
    /// The terms in force (`model::in_force`); `None` before any terms.
    /// Shared: the same terms are the same `Arc` while they are cached.
    pub terms: Option<Arc<endwell_core::Terms>>,
    /// When the viewer's contacts from the sender last got an automatic reply.
    pub last_reply: Option<Timestamp>,
}

/// Parsed terms by agreement version. A version's terms never change once
/// written (a change is a new version with a new id), so an entry never goes
/// stale, also when other instances write: nothing needs invalidating.
#[derive(Default)]
pub(crate) struct TermsCache(std::sync::Mutex<std::collections::HashMap<AgreementId, Arc<endwell_core::Terms>>>);

/// Terms merged with a practitioner's calendar closures, by agreement
/// version and the calendars' version (see `engagement_with_terms`).
#[derive(Default)]
pub(crate) struct ClosedTermsCache(
    std::sync::Mutex<std::collections::HashMap<(AgreementId, String), Arc<endwell_core::Terms>>>,
);

impl ClosedTermsCache {
    fn get(&self, key: &(AgreementId, String)) -> Option<Arc<endwell_core::Terms>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    fn put(&self, key: (AgreementId, String), terms: Arc<endwell_core::Terms>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(key, terms);
    }
}

impl TermsCache {
    fn get(&self, id: AgreementId) -> Option<Arc<endwell_core::Terms>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    fn put(&self, id: AgreementId, terms: Arc<endwell_core::Terms>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(id, terms);
    }
}

impl Store {
    /// The terms a contact is decided by (`model::in_force`), closed also
    /// where the practitioner's own calendars say so; `None` before any terms.
    pub async fn terms_in_force(
        &self,
        viewer: Viewer,
        engagement: EngagementId,
    ) -> Result<(endwell_core::model::Engagement, Option<endwell_core::Terms>)> {
        let (e, terms, _) = self.engagement_with_terms(viewer, engagement, None).await?;
        Ok((e, terms.map(Arc::unwrap_or_clone)))
    }

    /// The engagement, its terms in force and when the viewer last sent
    /// `sender` an automatic reply, in one query (the terms come from the
    /// cache after the first time).
    pub async fn decision_inputs(
        &self,
        viewer: Viewer,
        engagement: EngagementId,
        sender: &str,
    ) -> Result<DecisionInputs> {
        let (engagement, terms, last_reply) = self.engagement_with_terms(viewer, engagement, Some(sender)).await?;
        Ok(DecisionInputs {
            engagement,
            terms,
            last_reply,
        })
    }

    async fn engagement_with_terms(
        &self,
        viewer: Viewer,
        engagement: EngagementId,
        sender: Option<&str>,
    ) -> Result<(
        endwell_core::model::Engagement,
        Option<Arc<endwell_core::Terms>>,
        Option<Timestamp>,
    )> {
        // One row per version, newest first (one row with NULLs before any).
        let rows = sqlx::query(
            "SELECT e.*, a.id AS agreement_id, a.consent_at AS agreement_consent_at, \
             (SELECT MAX(c.received_at) FROM contacts c WHERE c.practitioner_id = $2 AND c.sender_key = $3 AND c.replied = 1) AS last_reply, \
             (SELECT CAST(COUNT(*) AS TEXT) || ' ' || COALESCE(MAX(k.refreshed_at), '') FROM calendars k WHERE k.practitioner_id = e.practitioner_id) AS calendars_version \
             FROM engagements e LEFT JOIN agreements a ON a.engagement_id = e.id \
             WHERE e.id = $1 ORDER BY a.version DESC",
        )
        .bind(engagement.to_string())
        .bind(viewer.id.to_string())
        // Without a sender, a key no contact has (fingerprints are hex).
        .bind(sender.map(|s| self.sender_key(s)).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let first = rows.first().ok_or(StoreError::NotFound)?;
        let e = row_engagement(first)?;
        self.check_readable(viewer, e.practitioner_id).await?;
        let last_reply = first
            .try_get::<Option<String>, _>("last_reply")?
            .map(|t| parse_ts(&t))
            .transpose()?;
        let mut versions = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(id) = r.try_get::<Option<String>, _>("agreement_id")? {
                let id: AgreementId = id
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("agreement id {id:?}")))?;
                let consented = r.try_get::<Option<String>, _>("agreement_consent_at")?.is_some();
                versions.push((id, consented));
            }
        }
        let calendars: String = first.try_get("calendars_version")?;
        let in_force = endwell_core::model::in_force_by(&versions, |(_, consented)| *consented).map(|(id, _)| *id);
        let terms = match &in_force {
            None => None,
            Some(id) => Some(match self.terms_cache.get(*id) {
                Some(t) => t,
                None => {
                    let row = sqlx::query("SELECT terms FROM agreements WHERE id = $1")
                        .bind(id.to_string())
                        .fetch_one(&self.pool)
                        .await?;
                    let terms: endwell_core::Terms = serde_json::from_str(&row.try_get::<String, _>("terms")?)
                        .map_err(|e| StoreError::Corrupt(format!("terms: {e}")))?;
                    let terms = Arc::new(terms);
                    self.terms_cache.put(*id, terms.clone());
                    terms
                }
            }),
        };
        // The practitioner's calendars close these terms too. The merged
        // terms are cached by what they were made from: the version (whose
        // terms never change) and the calendars' count and last read (which
        // change whenever a calendar is added, read again or removed).
        let terms = match (terms, in_force) {
            (Some(t), Some(id)) if !calendars.starts_with("0 ") => {
                let key = (id, calendars);
                match self.closed_terms_cache.get(&key) {
                    Some(closed) => Some(closed),
                    None => {
                        let closed = Arc::new(self.with_closures(e.practitioner_id, &t).await?);
                        self.closed_terms_cache.put(key, closed.clone());
                        Some(closed)
                    }
                }
            }
            (t, _) => t,
        };
        Ok((e, terms, last_reply))
    }

    /// `terms` closed also where the practitioner's calendars say so.
    pub async fn with_closures(
        &self,
        practitioner: UserId,
        terms: &endwell_core::Terms,
    ) -> Result<endwell_core::Terms> {
        let closures = self.closures_of(practitioner).await?;
        Ok(closures.iter().fold(terms.clone(), |t, c| c.apply_to(&t)))
    }
}

/// Release held contacts as they fall due, until `shutdown` resolves.
/// Wakes every `every` (and so notices jobs written by other instances).
pub async fn run_scheduler(store: Store, every: std::time::Duration, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let at = now();
        if let Err(e) = store.reschedule_overdue(at, jiff::SignedDuration::from_secs(60)).await {
            tracing::warn!("looking for overdue held contacts failed, will retry: {e}");
        }
        match store.release_due(at, 100).await {
            Ok(digests) => {
                for d in digests {
                    tracing::info!(digest = %d.id, contacts = d.contact_count, "released held contacts");
                }
            }
            Err(e) => tracing::warn!("releasing held contacts failed, will retry: {e}"),
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
