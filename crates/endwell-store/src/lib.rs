//! Endwell's storage: one set of migrations and one set of queries that run on
//! SQLite (the default: one file, WAL) and PostgreSQL (agencies).
//!
//! Why sqlx's `Any` driver rather than a trait with one implementation per
//! database: the schema uses only portable types (TEXT, BIGINT) and the
//! queries only portable SQL with `$N` placeholders, which both drivers
//! accept, so a second copy of every query would differ in nothing. The few
//! real dialect differences (SQLite's single writer, PostgreSQL's advisory
//! lock for the event chain, and later `FOR UPDATE SKIP LOCKED`) are branches
//! on [`Backend`] inside this crate; nothing outside it sees SQL.
//!
//! Every read and write of client data takes the [`Viewer`] asking, and the
//! access rules of `endwell_core::access` decide what they see: data they may
//! not see is `NotFound`, so its existence is not revealed.

pub mod backup;
pub mod boundary;
pub mod calendars;
pub mod contacts;
mod rows;
pub mod seal;
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use endwell_core::access::{self, Viewer};
use endwell_core::event::{Event, NewEvent};
use endwell_core::lifecycle::{self, TransitionContext};
use endwell_core::model::{
    Agreement, Client, ClientFields, Consent, ConsentMethod, Engagement, EngagementFields, NewUser, User,
};
use endwell_core::{AgreementId, ClientId, DomainError, EngagementId, EngagementState, Terms, Transition, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Row, Transaction};

pub use seal::DataKey;

use rows::{fmt_date, fmt_ts, parse_ts, row_agreement, row_client_base, row_engagement, row_event, row_user};

/// Everything that can go wrong in storage, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Not there, or not the viewer's to see (the two are not told apart).
    #[error("not found")]
    NotFound,
    /// The viewer may see this but not change it (a supervisor reading a supervisee's case).
    #[error("only the responsible practitioner can change this")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("data key: {0}")]
    Key(String),
    #[error("the database holds a value Endwell cannot read: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A write done together with other requests' (group commit) failed;
    /// nothing of it was stored.
    #[error("{0} (in a write shared with other requests; none of it was stored)")]
    Batch(Arc<StoreError>),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The storage handle: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Write transactions: on SQLite one connection of its own, on
    /// PostgreSQL the same pool as reads.
    writer: AnyPool,
    backend: Backend,
    key: DataKey,
    /// SQLite has one writer; serialising writes in-process avoids
    /// SQLITE_BUSY on read-then-write transactions. Unused on PostgreSQL.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Contacts waiting to be written together (`record_contact`).
    contact_queue: Arc<contacts::ContactQueue>,
    /// Parsed terms by agreement version (versions never change).
    terms_cache: Arc<contacts::TermsCache>,
    closed_terms_cache: Arc<contacts::ClosedTermsCache>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool of up to `max` connections with the per-connection settings.
fn pool_options(backend: Backend, max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // busy_timeout and foreign_keys are per connection.
                    sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
}

/// Turn what a person typed (`endwell.db`, `sqlite:x.db`, `postgres://…`) into a URL.
pub fn normalize_url(database: &str) -> Result<(String, Backend)> {
    let d = database.trim();
    if d.starts_with("postgres://") || d.starts_with("postgresql://") {
        return Ok((d.to_string(), Backend::Postgres));
    }
    let path = d
        .strip_prefix("sqlite://")
        .or_else(|| d.strip_prefix("sqlite:"))
        .unwrap_or(d);
    if path.is_empty() || path.contains("://") {
        return Err(StoreError::Conflict(format!(
            "{d:?} is not a database: give a SQLite file (endwell.db) or a postgres:// URL"
        )));
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut q = query.to_string();
    if !q.contains("mode=") {
        q = if q.is_empty() {
            "mode=rwc".into()
        } else {
            format!("{q}&mode=rwc")
        };
    }
    Ok((format!("sqlite://{path}?{q}"), Backend::Sqlite))
}

impl Store {
    /// Open the database (creating a SQLite file on first start) without migrating.
    pub async fn connect(database: &str, key: DataKey) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (url, backend) = normalize_url(database)?;
        if backend == Backend::Sqlite {
            // WAL is a property of the file: set it once, with the typed options.
            use sqlx::ConnectOptions;
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
            let opts: SqliteConnectOptions = url.parse()?;
            let conn = opts
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await?;
            sqlx::Connection::close(conn).await.ok();
        }
        let (pool, writer) = match backend {
            // Readers share a small pool (WAL lets them run beside the
            // writer); writes have a connection of their own, so a write
            // holding the writer lock never queues behind readers for one.
            Backend::Sqlite => (
                pool_options(backend, 4).connect(&url).await?,
                Some(pool_options(backend, 1).connect(&url).await?),
            ),
            Backend::Postgres => (pool_options(backend, 10).connect(&url).await?, None),
        };
        Ok(Store {
            writer: writer.unwrap_or_else(|| pool.clone()),
            pool,
            backend,
            key,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            contact_queue: Arc::default(),
            terms_cache: Arc::default(),
            closed_terms_cache: Arc::default(),
        })
    }

    /// Open and bring the schema up to date.
    pub async fn open(database: &str, key: DataKey) -> Result<Store> {
        let store = Store::connect(database, key).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// A cheap query, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Begin a write: on SQLite, take the in-process writer lock first.
    async fn begin_write(&self) -> Result<(Option<tokio::sync::MutexGuard<'_, ()>>, Transaction<'static, Any>)> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        };
        let tx = self.writer.begin().await?;
        Ok((guard, tx))
    }

    /// A write of one statement, which commits by itself: the writer lock
    /// (on SQLite) and a writer connection, without BEGIN and COMMIT.
    async fn write_connection(
        &self,
    ) -> Result<(Option<tokio::sync::MutexGuard<'_, ()>>, sqlx::pool::PoolConnection<Any>)> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        };
        let conn = self.writer.acquire().await?;
        Ok((guard, conn))
    }

    /// Append an event to the chain inside `tx`. On PostgreSQL an advisory
    /// transaction lock orders appends across instances; on SQLite the writer
    /// lock already does.
    async fn append_event(&self, tx: &mut Transaction<'static, Any>, ev: NewEvent) -> Result<Event> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7346001)")
                .execute(&mut **tx)
                .await?;
        }
        let last = sqlx::query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        let prev: Option<(i64, String)> = match last {
            Some(r) => Some((r.try_get("seq")?, r.try_get("hash")?)),
            None => None,
        };
        let event = ev.seal(prev.as_ref().map(|(s, h)| (*s, h.as_str())), now());
        insert_event(tx, &event).await?;
        Ok(event)
    }

    // ---------------------------------------------------------------- users

    /// Create a user; `password_hash` is an argon2id PHC string made by the caller.
    pub async fn create_user(&self, new: NewUser, password_hash: Option<String>) -> Result<User> {
        let new = new.validate()?;
        let user = User {
            id: UserId::new(),
            email: new.email,
            display_name: new.display_name,
            role: new.role,
            profession: new.profession,
            timezone: new.timezone,
            supervisor_id: new.supervisor_id,
            created_at: now(),
        };
        let (_g, mut tx) = self.begin_write().await?;
        // The unique index on lower(email) decides, also between instances.
        insert_user(&mut tx, &user, password_hash.as_deref())
            .await
            .map_err(on_unique(&format!("there is already an account for {}", user.email)))?;
        self.append_event(&mut tx, NewEvent::user_created(&user)).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn set_password(&self, user: UserId, password_hash: &str) -> Result<()> {
        let (_g, mut tx) = self.begin_write().await?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // A new password ends every session.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// The user and their password hash, for logging in.
    pub async fn user_for_login(&self, email: &str) -> Result<Option<(User, Option<String>)>> {
        let email = email.trim();
        let row = sqlx::query("SELECT * FROM users WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((row_user(&r)?, r.try_get::<Option<String>, _>("password_hash")?)))
            .transpose()
    }

    pub async fn user(&self, id: UserId) -> Result<User> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        row_user(&row)
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY display_name, email")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_user).collect()
    }

    async fn readable(&self, viewer: Viewer) -> Result<Vec<UserId>> {
        let supervisees = if viewer.role == endwell_core::model::Role::Supervisor {
            let rows = sqlx::query("SELECT id FROM users WHERE supervisor_id = $1")
                .bind(viewer.id.to_string())
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|r| rows::id_col(r, "id"))
                .collect::<Result<Vec<UserId>>>()?
        } else {
            Vec::new()
        };
        Ok(access::readable_caseloads(viewer, &supervisees))
    }

    async fn check_readable(&self, viewer: Viewer, owner: UserId) -> Result<()> {
        if owner == viewer.id || self.readable(viewer).await?.contains(&owner) {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    // ------------------------------------------------------------- sessions

    pub async fn create_session(&self, user: UserId, token_hash: &str, csrf: &str, expires: Timestamp) -> Result<()> {
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(fmt_ts(now()))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(user.to_string())
            .bind(csrf)
            .bind(fmt_ts(now()))
            .bind(fmt_ts(expires))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session's user and CSRF token, if the session exists and has not
    /// expired, with how many crisis contacts wait for them to acknowledge
    /// (shown on every page).
    pub async fn session(&self, token_hash: &str) -> Result<Option<(User, String, i64)>> {
        let row = sqlx::query(
            "SELECT u.*, s.csrf_token AS csrf_token, s.expires_at AS expires_at, \
             (SELECT COUNT(*) FROM contacts c WHERE c.practitioner_id = u.id AND c.action = 'crisis' AND c.acknowledged_at IS NULL) AS crisis_alerts \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        if parse_ts(&r.try_get::<String, _>("expires_at")?)? < now() {
            return Ok(None);
        }
        Ok(Some((
            row_user(&r)?,
            r.try_get("csrf_token")?,
            r.try_get("crisis_alerts")?,
        )))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----------------------------------------------------------- API tokens

    pub async fn create_api_token(&self, user: UserId, token_hash: &str, label: &str) -> Result<()> {
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user.to_string())
            .bind(label)
            .bind(fmt_ts(now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn user_by_api_token(&self, token_hash: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_user).transpose()
    }

    // -------------------------------------------------------------- clients

    pub async fn create_client(&self, viewer: Viewer, fields: ClientFields) -> Result<Client> {
        let f = fields.validate()?;
        let at = now();
        let client = Client {
            id: ClientId::new(),
            practitioner_id: viewer.id,
            given_name: f.given_name,
            family_name: f.family_name,
            preferred_name: f.preferred_name,
            emails: f.emails,
            phones: f.phones,
            vulnerability_notes: f.vulnerability_notes,
            created_at: at,
            updated_at: at,
        };
        let (_g, mut tx) = self.begin_write().await?;
        self.insert_client(&mut tx, &client).await?;
        self.append_event(&mut tx, NewEvent::client_created(viewer.id, &client))
            .await?;
        tx.commit().await?;
        Ok(client)
    }

    async fn insert_client(&self, tx: &mut Transaction<'static, Any>, c: &Client) -> Result<()> {
        sqlx::query(
            "INSERT INTO clients (id, practitioner_id, given_name, family_name, preferred_name, vulnerability_notes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id.to_string())
        .bind(c.practitioner_id.to_string())
        .bind(&c.given_name)
        .bind(&c.family_name)
        .bind(&c.preferred_name)
        .bind(self.key.seal(&c.vulnerability_notes))
        .bind(fmt_ts(c.created_at))
        .bind(fmt_ts(c.updated_at))
        .execute(&mut **tx)
        .await?;
        insert_addresses(tx, c).await
    }

    pub async fn update_client(&self, viewer: Viewer, id: ClientId, fields: ClientFields) -> Result<Client> {
        let f = fields.validate()?;
        let old = self.client(viewer, id).await?;
        if !access::can_change(viewer, old.practitioner_id) {
            return Err(StoreError::Forbidden);
        }
        let client = Client {
            given_name: f.given_name,
            family_name: f.family_name,
            preferred_name: f.preferred_name,
            emails: f.emails,
            phones: f.phones,
            vulnerability_notes: f.vulnerability_notes,
            updated_at: now(),
            ..old.clone()
        };
        // The log names what changed; sensitive values stay out of it.
        let changed = client.changed_fields(&old);
        if changed.is_empty() {
            return Ok(old);
        }
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query(
            "UPDATE clients SET given_name = $1, family_name = $2, preferred_name = $3, vulnerability_notes = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&client.given_name)
        .bind(&client.family_name)
        .bind(&client.preferred_name)
        .bind(self.key.seal(&client.vulnerability_notes))
        .bind(fmt_ts(client.updated_at))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM client_addresses WHERE client_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_addresses(&mut tx, &client).await?;
        self.append_event(&mut tx, NewEvent::client_updated(viewer.id, id, &changed))
            .await?;
        tx.commit().await?;
        Ok(client)
    }

    pub async fn client(&self, viewer: Viewer, id: ClientId) -> Result<Client> {
        let row = sqlx::query("SELECT * FROM clients WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut c = row_client_base(&row, &self.key)?;
        self.check_readable(viewer, c.practitioner_id).await?;
        self.fill_addresses(std::slice::from_mut(&mut c)).await?;
        Ok(c)
    }

    /// The clients the viewer may see, by name, a page at a time, optionally
    /// only those whose name contains `query.search`.
    pub async fn clients(&self, viewer: Viewer, query: ClientQuery) -> Result<ClientPage> {
        let owners = self.readable(viewer).await?;
        let per_page = query.per_page.clamp(1, 500) as usize;
        let mut sql = format!(
            "SELECT * FROM clients WHERE practitioner_id IN ({})",
            placeholders(1, owners.len())
        );
        let mut n = owners.len();
        let search = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        if search.is_some() {
            n += 1;
            sql.push_str(&format!(
                " AND (lower(given_name) LIKE ${n} ESCAPE '\\' OR lower(family_name) LIKE ${n} ESCAPE '\\' OR lower(preferred_name) LIKE ${n} ESCAPE '\\')"
            ));
        }
        if query.after.is_some() {
            n += 1;
            sql.push_str(&format!(
                " AND (family_name, given_name, id) > (SELECT family_name, given_name, id FROM clients WHERE id = ${n})"
            ));
        }
        sql.push_str(&format!(" ORDER BY family_name, given_name, id LIMIT {}", per_page + 1));
        let mut q = sqlx::query(&sql);
        for o in &owners {
            q = q.bind(o.to_string());
        }
        if let Some(pattern) = search {
            q = q.bind(pattern);
        }
        if let Some(after) = query.after {
            q = q.bind(after.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .take(per_page)
            .map(|r| row_client_base(r, &self.key))
            .collect::<Result<Vec<_>>>()?;
        self.fill_addresses(&mut items).await?;
        let next_after = (rows.len() > per_page).then(|| items.last().map(|c| c.id)).flatten();
        Ok(ClientPage { items, next_after })
    }

    async fn fill_addresses(&self, clients: &mut [Client]) -> Result<()> {
        for chunk in clients.chunks_mut(200) {
            if chunk.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT client_id, kind, address FROM client_addresses WHERE client_id IN ({}) ORDER BY client_id, kind, position",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for c in chunk.iter() {
                q = q.bind(c.id.to_string());
            }
            for r in q.fetch_all(&self.pool).await? {
                let cid: ClientId = rows::id_col(&r, "client_id")?;
                let kind: String = r.try_get("kind")?;
                let address: String = r.try_get("address")?;
                if let Some(c) = chunk.iter_mut().find(|c| c.id == cid) {
                    if kind == "email" {
                        c.emails.push(address)
                    } else {
                        c.phones.push(address)
                    }
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------- engagements

    pub async fn create_engagement(
        &self,
        viewer: Viewer,
        client: ClientId,
        fields: EngagementFields,
    ) -> Result<Engagement> {
        let f = fields.validate()?;
        let c = self.client(viewer, client).await?;
        if !access::can_change(viewer, c.practitioner_id) {
            return Err(StoreError::Forbidden);
        }
        let at = now();
        let e = Engagement {
            id: EngagementId::new(),
            client_id: client,
            practitioner_id: viewer.id,
            state: EngagementState::Proposed,
            title: f.title,
            started_on: f.started_on,
            planned_end: f.planned_end,
            next_review: f.next_review,
            created_at: at,
            updated_at: at,
        };
        let (_g, mut tx) = self.begin_write().await?;
        insert_engagement(&mut tx, &e).await?;
        self.append_event(&mut tx, NewEvent::engagement_created(viewer.id, &e))
            .await?;
        tx.commit().await?;
        Ok(e)
    }

    pub async fn engagement(&self, viewer: Viewer, id: EngagementId) -> Result<Engagement> {
        let row = sqlx::query("SELECT * FROM engagements WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let e = row_engagement(&row)?;
        self.check_readable(viewer, e.practitioner_id).await?;
        Ok(e)
    }

    async fn engagement_for_change(&self, viewer: Viewer, id: EngagementId) -> Result<Engagement> {
        let e = self.engagement(viewer, id).await?;
        if !access::can_change(viewer, e.practitioner_id) {
            return Err(StoreError::Forbidden);
        }
        Ok(e)
    }

    pub async fn update_engagement(
        &self,
        viewer: Viewer,
        id: EngagementId,
        fields: EngagementFields,
    ) -> Result<Engagement> {
        let f = fields.validate()?;
        let old = self.engagement_for_change(viewer, id).await?;
        let e = Engagement {
            title: f.title,
            started_on: f.started_on,
            planned_end: f.planned_end,
            next_review: f.next_review,
            updated_at: now(),
            ..old.clone()
        };
        let (_g, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE engagements SET title = $1, started_on = $2, planned_end = $3, next_review = $4, updated_at = $5 WHERE id = $6")
            .bind(&e.title)
            .bind(e.started_on.map(fmt_date))
            .bind(e.planned_end.map(fmt_date))
            .bind(e.next_review.map(fmt_date))
            .bind(fmt_ts(e.updated_at))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        self.append_event(&mut tx, NewEvent::engagement_updated(viewer.id, &e))
            .await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Take a lifecycle step. The domain decides whether it is allowed.
    pub async fn transition(&self, viewer: Viewer, id: EngagementId, t: Transition, note: &str) -> Result<Engagement> {
        self.transition_to(viewer, id, t, note, None).await
    }

    /// Take a lifecycle step; a transfer may name the practitioner in this
    /// Endwell who takes the work on, and the engagement's contacts are then
    /// forwarded to them.
    pub async fn transition_to(
        &self,
        viewer: Viewer,
        id: EngagementId,
        t: Transition,
        note: &str,
        receiver: Option<UserId>,
    ) -> Result<Engagement> {
        let note = note.trim();
        if note.chars().count() > 2000 {
            return Err(DomainError::invalid("note", "is longer than 2000 characters").into());
        }
        let e = self.engagement_for_change(viewer, id).await?;
        let receiver = match receiver {
            None => None,
            Some(_) if t != Transition::Transfer => {
                return Err(DomainError::invalid("to", "only a transfer goes to another practitioner").into());
            }
            Some(r) if r == e.practitioner_id => {
                return Err(DomainError::invalid("to", "the work is already yours; choose who takes it on").into());
            }
            Some(r) => match self.user(r).await {
                Ok(u) if u.role != endwell_core::model::Role::Admin => Some(u),
                Ok(_) | Err(StoreError::NotFound) => {
                    return Err(DomainError::invalid("to", "there is no practitioner with that account here").into());
                }
                Err(other) => return Err(other),
            },
        };
        let note = match &receiver {
            Some(u) if note.is_empty() => format!("Transferred to {}.", u.display_name),
            Some(u) => format!("Transferred to {}. {note}", u.display_name),
            None => note.to_string(),
        };
        let note = note.as_str();
        // The start date is the practitioner's local date, not UTC's.
        let tz =
            jiff::tz::TimeZone::get(&self.user(e.practitioner_id).await?.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let (_g, mut tx) = self.begin_write().await?;
        let consented =
            sqlx::query("SELECT consent_at FROM agreements WHERE engagement_id = $1 ORDER BY version DESC LIMIT 1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get::<Option<String>, _>("consent_at"))
                .transpose()?
                .flatten()
                .is_some();
        let to = lifecycle::apply(
            e.state,
            t,
            TransitionContext {
                has_consented_agreement: consented,
            },
        )?;
        let at = now();
        let started_on = match (t, e.started_on) {
            (Transition::Activate, None) => Some(at.to_zoned(tz).date()),
            (_, s) => s,
        };
        // Compare-and-set on the state: a concurrent step on PostgreSQL loses cleanly.
        let n = sqlx::query(
            "UPDATE engagements SET state = $1, started_on = $2, updated_at = $3, transferred_to = $6 WHERE id = $4 AND state = $5",
        )
        .bind(to.as_str())
        .bind(started_on.map(fmt_date))
        .bind(fmt_ts(at))
        .bind(id.to_string())
        .bind(e.state.as_str())
        .bind(receiver.as_ref().map(|u| u.id.to_string()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the engagement was changed at the same time; reload and try again".into(),
            ));
        }
        self.append_event(&mut tx, NewEvent::engagement_transitioned(viewer.id, &e, t, to, note))
            .await?;
        tx.commit().await?;
        Ok(Engagement {
            state: to,
            started_on,
            updated_at: at,
            ..e
        })
    }

    /// One page of the viewer's caseload in one state, newest first, with
    /// the client's name and the count in every state (for tabs).
    pub async fn caseload(&self, viewer: Viewer, q: CaseloadQuery) -> Result<CaseloadPage> {
        let owners = self.readable(viewer).await?;
        let per_page = q.per_page.clamp(1, 200);
        let owner_ph = placeholders(1, owners.len());
        let mut sql = format!(
            "SELECT e.*, c.given_name AS c_given, c.family_name AS c_family, c.preferred_name AS c_preferred \
             FROM engagements e JOIN clients c ON c.id = e.client_id \
             WHERE e.practitioner_id IN ({owner_ph}) AND e.state = ${}",
            owners.len() + 1
        );
        if q.after.is_some() {
            sql.push_str(&format!(" AND e.id < ${}", owners.len() + 2));
        }
        sql.push_str(&format!(" ORDER BY e.id DESC LIMIT {}", per_page + 1));
        let mut query = sqlx::query(&sql);
        for o in &owners {
            query = query.bind(o.to_string());
        }
        query = query.bind(q.state.as_str());
        if let Some(after) = q.after {
            query = query.bind(after.to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows.iter().take(per_page as usize) {
            let e = row_engagement(r)?;
            let preferred: String = r.try_get("c_preferred")?;
            let given: String = r.try_get("c_given")?;
            let family: String = r.try_get("c_family")?;
            let first = if preferred.is_empty() { given } else { preferred };
            let client_name = if family.is_empty() {
                first
            } else {
                format!("{first} {family}")
            };
            items.push(CaseloadItem {
                engagement: e,
                client_name,
            });
        }
        let next_after = (rows.len() > per_page as usize)
            .then(|| items.last().map(|i| i.engagement.id))
            .flatten();

        let count_sql = format!(
            "SELECT state, COUNT(*) AS n FROM engagements WHERE practitioner_id IN ({owner_ph}) GROUP BY state"
        );
        let mut cq = sqlx::query(&count_sql);
        for o in &owners {
            cq = cq.bind(o.to_string());
        }
        let mut counts = Vec::new();
        for r in cq.fetch_all(&self.pool).await? {
            let s: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            counts.push((s.parse::<EngagementState>()?, n));
        }
        let counts = EngagementState::ALL
            .iter()
            .map(|s| (*s, counts.iter().find(|(k, _)| k == s).map(|(_, n)| *n).unwrap_or(0)))
            .collect();
        Ok(CaseloadPage {
            state: q.state,
            items,
            next_after,
            counts,
        })
    }

    /// The engagements of one client the viewer may see.
    pub async fn engagements_of_client(&self, viewer: Viewer, client: ClientId) -> Result<Vec<Engagement>> {
        let c = self.client(viewer, client).await?;
        let rows = sqlx::query("SELECT * FROM engagements WHERE client_id = $1 ORDER BY id DESC")
            .bind(c.id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_engagement).collect()
    }

    // ----------------------------------------------------------- agreements

    /// Add a new version of the terms. Earlier versions stay as they were.
    pub async fn add_agreement(
        &self,
        viewer: Viewer,
        engagement: EngagementId,
        terms: Terms,
        note: &str,
    ) -> Result<Agreement> {
        let e = self.engagement_for_change(viewer, engagement).await?;
        if e.state.is_closed() {
            return Err(DomainError::invalid(
                "terms",
                format!("the engagement is {}; its terms can no longer change", e.state),
            )
            .into());
        }
        let note = note.trim();
        let (_g, mut tx) = self.begin_write().await?;
        let latest: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM agreements WHERE engagement_id = $1")
            .bind(engagement.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")?;
        let a = Agreement {
            id: AgreementId::new(),
            engagement_id: engagement,
            version: endwell_core::model::next_version(latest),
            terms,
            note: if note.is_empty() {
                "New terms".into()
            } else {
                note.to_string()
            },
            created_by: viewer.id,
            created_at: now(),
            consent: None,
        };
        insert_agreement(&mut tx, &a).await.map_err(on_unique(
            "another version was saved at the same time; reload and try again",
        ))?;
        if let Some(end) = a.terms.engagement.ends_on {
            // The agreed end date becomes the planned end shown in the caseload.
            sqlx::query("UPDATE engagements SET planned_end = $1, updated_at = $2 WHERE id = $3")
                .bind(fmt_date(end))
                .bind(fmt_ts(a.created_at))
                .bind(engagement.to_string())
                .execute(&mut *tx)
                .await?;
        }
        self.append_event(&mut tx, NewEvent::agreement_versioned(viewer.id, e.client_id, &a))
            .await?;
        tx.commit().await?;
        Ok(a)
    }

    /// Every version, newest first.
    pub async fn agreements(&self, viewer: Viewer, engagement: EngagementId) -> Result<Vec<Agreement>> {
        self.engagement(viewer, engagement).await?;
        self.agreements_of(engagement).await
    }

    /// Every version, newest first, for a caller that has already checked access.
    async fn agreements_of(&self, engagement: EngagementId) -> Result<Vec<Agreement>> {
        let rows = sqlx::query("SELECT * FROM agreements WHERE engagement_id = $1 ORDER BY version DESC")
            .bind(engagement.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_agreement).collect()
    }

    /// Record that the client agreed to one version.
    pub async fn record_consent(
        &self,
        viewer: Viewer,
        engagement: EngagementId,
        version: i64,
        given_by: &str,
        method: ConsentMethod,
    ) -> Result<Agreement> {
        let e = self.engagement_for_change(viewer, engagement).await?;
        let given_by = given_by.trim();
        if given_by.is_empty() {
            return Err(DomainError::invalid("given_by", "say who gave consent").into());
        }
        let (_g, mut tx) = self.begin_write().await?;
        let row = sqlx::query("SELECT * FROM agreements WHERE engagement_id = $1 AND version = $2")
            .bind(engagement.to_string())
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut a = row_agreement(&row)?;
        if a.consent.is_some() {
            return Err(StoreError::Conflict(format!(
                "version {version} already has a consent record"
            )));
        }
        let consent = Consent {
            given_by: given_by.to_string(),
            at: now(),
            method,
            recorded_by: viewer.id,
        };
        sqlx::query("UPDATE agreements SET consent_given_by = $1, consent_at = $2, consent_method = $3, consent_recorded_by = $4 WHERE id = $5")
            .bind(&consent.given_by)
            .bind(fmt_ts(consent.at))
            .bind(consent.method.as_str())
            .bind(viewer.id.to_string())
            .bind(a.id.to_string())
            .execute(&mut *tx)
            .await?;
        self.append_event(
            &mut tx,
            NewEvent::agreement_consented(viewer.id, e.client_id, engagement, version, &consent),
        )
        .await?;
        tx.commit().await?;
        a.consent = Some(consent);
        Ok(a)
    }

    // --------------------------------------------------------------- events

    /// An engagement's history, newest first, `limit` at a time before `before_seq`.
    pub async fn engagement_events(
        &self,
        viewer: Viewer,
        engagement: EngagementId,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Event>> {
        self.engagement(viewer, engagement).await?;
        let rows = sqlx::query("SELECT * FROM events WHERE engagement_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3")
            .bind(engagement.to_string())
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(i64::from(limit.clamp(1, 500)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_event).collect()
    }

    /// Check the whole chain; `Ok(n)` is the number of events checked.
    pub async fn verify_events(&self) -> Result<u64> {
        let mut prev: Option<(i64, String)> = None;
        let mut n = 0;
        loop {
            let rows = sqlx::query("SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT 5000")
                .bind(prev.as_ref().map(|p| p.0).unwrap_or(0))
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                return Ok(n);
            }
            let events = rows.iter().map(row_event).collect::<Result<Vec<_>>>()?;
            endwell_core::event::verify_chain(prev.as_ref().map(|(s, h)| (*s, h.as_str())), &events)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            n += events.len() as u64;
            let last = events.last().expect("non-empty");
            prev = Some((last.seq, last.hash.clone()));
        }
    }

    // ------------------------------------------------------- export, import

    /// Everything, for backup and moving between databases. Sealed fields are
    /// opened: protect the file. Sessions and API tokens are not exported.
    pub async fn export(&self) -> Result<Export> {
        let users = sqlx::query("SELECT * FROM users ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let users = users
            .iter()
            .map(|r| {
                Ok(ExportedUser {
                    user: row_user(r)?,
                    password_hash: r.try_get("password_hash")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query("SELECT * FROM clients ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut clients = rows
            .iter()
            .map(|r| row_client_base(r, &self.key))
            .collect::<Result<Vec<_>>>()?;
        self.fill_addresses(&mut clients).await?;
        let engagements = sqlx::query("SELECT * FROM engagements ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let engagements = engagements.iter().map(row_engagement).collect::<Result<Vec<_>>>()?;
        let agreements = sqlx::query("SELECT * FROM agreements ORDER BY engagement_id, version")
            .fetch_all(&self.pool)
            .await?;
        let agreements = agreements.iter().map(row_agreement).collect::<Result<Vec<_>>>()?;
        let events = sqlx::query("SELECT * FROM events ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let events = events.iter().map(row_event).collect::<Result<Vec<_>>>()?;
        Ok(Export {
            format: EXPORT_FORMAT.into(),
            version: 1,
            users,
            clients,
            engagements,
            agreements,
            events,
            office: self.export_office().await?,
        })
    }

    /// Load an export into an empty database, exactly as it was. The event
    /// chain is checked first; nothing is written if anything is wrong.
    pub async fn import(&self, data: &Export) -> Result<ImportCounts> {
        if data.format != EXPORT_FORMAT || data.version != 1 {
            return Err(StoreError::Conflict(format!(
                "this is not an Endwell export (format {:?}, version {}); expected {EXPORT_FORMAT:?} version 1",
                data.format, data.version
            )));
        }
        endwell_core::event::verify_chain(None, &data.events)
            .map_err(|e| StoreError::Conflict(format!("the export's event log is damaged: {e}")))?;
        let (_g, mut tx) = self.begin_write().await?;
        for table in ["users", "clients", "engagements", "events"] {
            let n: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            if n > 0 {
                return Err(StoreError::Conflict(format!(
                    "the database already holds {table}; import goes into an empty database (run `endwell migrate --database NEW` and import there)"
                )));
            }
        }
        // Users first without supervisors, then supervisors, so order does not matter.
        for u in &data.users {
            insert_user(
                &mut tx,
                &User {
                    supervisor_id: None,
                    ..u.user.clone()
                },
                u.password_hash.as_deref(),
            )
            .await?;
        }
        for u in data.users.iter().filter(|u| u.user.supervisor_id.is_some()) {
            sqlx::query("UPDATE users SET supervisor_id = $1 WHERE id = $2")
                .bind(u.user.supervisor_id.map(|s| s.to_string()))
                .bind(u.user.id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        for c in &data.clients {
            self.insert_client(&mut tx, c).await?;
        }
        for e in &data.engagements {
            insert_engagement(&mut tx, e).await?;
        }
        for a in &data.agreements {
            insert_agreement(&mut tx, a).await?;
        }
        for ev in &data.events {
            insert_event(&mut tx, ev).await?;
        }
        self.import_office(&mut tx, &data.office).await?;
        tx.commit().await?;
        Ok(ImportCounts {
            users: data.users.len(),
            clients: data.clients.len(),
            engagements: data.engagements.len(),
            agreements: data.agreements.len(),
            events: data.events.len(),
            contacts: data.office.contacts.len(),
            calendars: data.office.calendars.len(),
        })
    }
}

pub const EXPORT_FORMAT: &str = "endwell-export";

/// The whole database as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    pub format: String,
    pub version: u32,
    pub users: Vec<ExportedUser>,
    pub clients: Vec<Client>,
    pub engagements: Vec<Engagement>,
    pub agreements: Vec<Agreement>,
    pub events: Vec<Event>,
    /// Contacts, digests, the release queue, calendars, feed links and
    /// transfer receivers; absent from exports made before they existed.
    #[serde(default)]
    pub office: backup::OfficeData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedUser {
    #[serde(flatten)]
    pub user: User,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub users: usize,
    pub clients: usize,
    pub engagements: usize,
    pub agreements: usize,
    pub events: usize,
    pub contacts: usize,
    pub calendars: usize,
}

/// Which clients to list.
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    /// Part of a given, family or preferred name (case-insensitive).
    pub search: Option<String>,
    /// Keyset pagination: clients after this one in name order.
    pub after: Option<ClientId>,
    pub per_page: u32,
}

#[derive(Debug, Clone)]
pub struct ClientPage {
    pub items: Vec<Client>,
    /// Pass as `after` for the next page.
    pub next_after: Option<ClientId>,
}

/// A LIKE pattern matching `text` anywhere, with LIKE's wildcards escaped.
fn like_pattern(text: &str) -> String {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '\\' | '%' | '_' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

/// Which page of the caseload to show.
#[derive(Debug, Clone, Copy)]
pub struct CaseloadQuery {
    pub state: EngagementState,
    /// Keyset pagination: engagements older than this one.
    pub after: Option<EngagementId>,
    pub per_page: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseloadItem {
    pub engagement: Engagement,
    pub client_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseloadPage {
    pub state: EngagementState,
    pub items: Vec<CaseloadItem>,
    /// Pass as `after` for the next page.
    pub next_after: Option<EngagementId>,
    pub counts: Vec<(EngagementState, i64)>,
}

/// Now, at the microsecond precision the database keeps.
pub fn now() -> Timestamp {
    Timestamp::from_microsecond(Timestamp::now().as_microsecond()).expect("now is in range")
}

/// Turn a unique-constraint violation into a conflict a person can act on.
pub(crate) fn on_unique(message: &str) -> impl FnOnce(StoreError) -> StoreError + '_ {
    move |e| match e {
        StoreError::Database(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            StoreError::Conflict(message.to_string())
        }
        other => other,
    }
}

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn insert_user(tx: &mut Transaction<'static, Any>, u: &User, password_hash: Option<&str>) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, display_name, role, profession, timezone, supervisor_id, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(u.id.to_string())
    .bind(&u.email)
    .bind(&u.display_name)
    .bind(u.role.as_str())
    .bind(&u.profession)
    .bind(&u.timezone)
    .bind(u.supervisor_id.map(|s| s.to_string()))
    .bind(password_hash.map(str::to_string))
    .bind(fmt_ts(u.created_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_addresses(tx: &mut Transaction<'static, Any>, c: &Client) -> Result<()> {
    let all = c
        .emails
        .iter()
        .map(|a| ("email", a))
        .chain(c.phones.iter().map(|a| ("phone", a)));
    for (i, (kind, address)) in all.enumerate() {
        sqlx::query("INSERT INTO client_addresses (client_id, kind, address, position) VALUES ($1, $2, $3, $4)")
            .bind(c.id.to_string())
            .bind(kind)
            .bind(address)
            .bind(i as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn insert_engagement(tx: &mut Transaction<'static, Any>, e: &Engagement) -> Result<()> {
    sqlx::query(
        "INSERT INTO engagements (id, client_id, practitioner_id, state, title, started_on, planned_end, next_review, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(e.id.to_string())
    .bind(e.client_id.to_string())
    .bind(e.practitioner_id.to_string())
    .bind(e.state.as_str())
    .bind(&e.title)
    .bind(e.started_on.map(fmt_date))
    .bind(e.planned_end.map(fmt_date))
    .bind(e.next_review.map(fmt_date))
    .bind(fmt_ts(e.created_at))
    .bind(fmt_ts(e.updated_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_agreement(tx: &mut Transaction<'static, Any>, a: &Agreement) -> Result<()> {
    let terms = serde_json::to_string(&a.terms).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO agreements (id, engagement_id, version, terms, note, created_by, created_at, consent_given_by, consent_at, consent_method, consent_recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(a.id.to_string())
    .bind(a.engagement_id.to_string())
    .bind(a.version)
    .bind(terms)
    .bind(&a.note)
    .bind(a.created_by.to_string())
    .bind(fmt_ts(a.created_at))
    .bind(a.consent.as_ref().map(|c| c.given_by.clone()))
    .bind(a.consent.as_ref().map(|c| fmt_ts(c.at)))
    .bind(a.consent.as_ref().map(|c| c.method.as_str().to_string()))
    .bind(a.consent.as_ref().map(|c| c.recorded_by.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_event(tx: &mut Transaction<'static, Any>, e: &Event) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (seq, id, at, actor, kind, client_id, engagement_id, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(e.seq)
    .bind(e.id.to_string())
    .bind(fmt_ts(e.at))
    .bind(e.actor.to_string())
    .bind(e.kind.as_str())
    .bind(e.client_id.map(|c| c.to_string()))
    .bind(e.engagement_id.map(|c| c.to_string()))
    .bind(e.data.to_string())
    .bind(&e.prev_hash)
    .bind(&e.hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
