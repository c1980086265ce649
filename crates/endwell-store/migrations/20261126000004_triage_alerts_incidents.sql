-- Issue 4. A contact triaged as a crisis is an alert until the practitioner
-- says they have seen it and acted.
ALTER TABLE contacts ADD COLUMN acknowledged_at TEXT;
CREATE INDEX contacts_alerts ON contacts (practitioner_id, action, acknowledged_at);

-- The boundary log begins: incidents the practitioner confirmed from a
-- contact's triage (proposals are computed from the contact's labels and
-- never stored as incidents until confirmed).
CREATE TABLE boundary_incidents (
    id TEXT PRIMARY KEY,
    engagement_id TEXT NOT NULL REFERENCES engagements(id),
    practitioner_id TEXT NOT NULL REFERENCES users(id),
    category TEXT NOT NULL,
    -- client, practitioner or other
    initiated_by TEXT NOT NULL,
    -- Sealed: what happened, and the response.
    what_happened TEXT NOT NULL,
    response TEXT NOT NULL,
    contact_id TEXT REFERENCES contacts(id),
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX boundary_incidents_engagement ON boundary_incidents (engagement_id, created_at);
CREATE UNIQUE INDEX boundary_incidents_contact ON boundary_incidents (contact_id, category);

-- Proposals the practitioner said were not a crossing.
CREATE TABLE proposal_dismissals (
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    category TEXT NOT NULL,
    dismissed_by TEXT NOT NULL REFERENCES users(id),
    dismissed_at TEXT NOT NULL,
    PRIMARY KEY (contact_id, category)
);
