-- One schema for SQLite and PostgreSQL: portable types only (TEXT, BIGINT),
-- ids made by the application (UUIDv7 text), times as fixed-width RFC 3339
-- UTC text (sortable), dates as YYYY-MM-DD.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    profession TEXT NOT NULL,
    timezone TEXT NOT NULL,
    supervisor_id TEXT REFERENCES users (id),
    password_hash TEXT,
    created_at TEXT NOT NULL
);
-- Logins match email addresses whatever their case, so uniqueness does too.
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_supervisor ON users (supervisor_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    practitioner_id TEXT NOT NULL REFERENCES users (id),
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    preferred_name TEXT NOT NULL,
    -- sealed with the data key (XChaCha20-Poly1305)
    vulnerability_notes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX clients_practitioner ON clients (practitioner_id, family_name, given_name, id);

CREATE TABLE client_addresses (
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (client_id, kind, address)
);
CREATE INDEX client_addresses_address ON client_addresses (address);

CREATE TABLE engagements (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients (id),
    practitioner_id TEXT NOT NULL REFERENCES users (id),
    state TEXT NOT NULL,
    title TEXT NOT NULL,
    started_on TEXT,
    planned_end TEXT,
    next_review TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX engagements_caseload ON engagements (practitioner_id, state, id);
CREATE INDEX engagements_client ON engagements (client_id);

CREATE TABLE agreements (
    id TEXT PRIMARY KEY,
    engagement_id TEXT NOT NULL REFERENCES engagements (id),
    version BIGINT NOT NULL,
    terms TEXT NOT NULL,
    note TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    consent_given_by TEXT,
    consent_at TEXT,
    consent_method TEXT,
    consent_recorded_by TEXT REFERENCES users (id),
    UNIQUE (engagement_id, version)
);

-- Append-only and hash-chained: never updated, never deleted.
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_id TEXT,
    engagement_id TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX events_engagement ON events (engagement_id, seq);
CREATE INDEX events_client ON events (client_id, seq);
