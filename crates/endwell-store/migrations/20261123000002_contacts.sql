-- Contacts (inbound messages and calls) with the decision taken, and the
-- durable job queue that releases held contacts as one digest per
-- practitioner at the start of the next open spell.

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    practitioner_id TEXT NOT NULL REFERENCES users(id),
    engagement_id TEXT REFERENCES engagements(id),
    channel TEXT NOT NULL,
    -- Sealed: the sender's address or number.
    sender TEXT NOT NULL,
    -- Keyed fingerprint of the lower-cased sender, for "when was this sender last answered".
    sender_key TEXT NOT NULL,
    -- Sealed: subject and text.
    subject TEXT,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    action TEXT NOT NULL,
    reasons TEXT NOT NULL,
    labels TEXT NOT NULL,
    -- Sealed JSON of the automatic reply, when one was composed.
    reply TEXT,
    replied BIGINT NOT NULL DEFAULT 0,
    release_at TEXT,
    released_at TEXT,
    digest_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX contacts_inbox ON contacts (practitioner_id, received_at, id);
CREATE INDEX contacts_held ON contacts (practitioner_id, released_at, release_at);
CREATE INDEX contacts_sender ON contacts (practitioner_id, sender_key, replied, received_at);
CREATE INDEX contacts_engagement ON contacts (engagement_id, received_at);

CREATE TABLE digests (
    id TEXT PRIMARY KEY,
    practitioner_id TEXT NOT NULL REFERENCES users(id),
    released_at TEXT NOT NULL,
    contact_count BIGINT NOT NULL,
    -- The job that released it: one digest per job at most.
    job_id TEXT NOT NULL UNIQUE
);
CREATE INDEX digests_practitioner ON digests (practitioner_id, released_at);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    practitioner_id TEXT NOT NULL REFERENCES users(id),
    run_at TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX jobs_once ON jobs (kind, practitioner_id, run_at);
CREATE INDEX jobs_due ON jobs (state, run_at);
