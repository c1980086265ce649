-- A practitioner's own calendars (leave, holidays, training) whose busy
-- events close office hours in every engagement, and the secret link of
-- their private iCalendar feed.

CREATE TABLE calendars (
    id TEXT PRIMARY KEY,
    practitioner_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    -- Sealed: a subscribed calendar's address (it often holds a secret); NULL for an uploaded file.
    url TEXT,
    -- Sealed: the last good iCalendar text, re-read as the import window moves on.
    source TEXT NOT NULL,
    -- The zone the closures' local times are in (the practitioner's, when read).
    zone TEXT NOT NULL,
    -- Sealed JSON: {"closures": [...], "notes": [...]}.
    closures TEXT NOT NULL,
    refreshed_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX calendars_practitioner ON calendars (practitioner_id, created_at);
CREATE INDEX calendars_refresh ON calendars (refreshed_at);

CREATE TABLE calendar_feeds (
    practitioner_id TEXT PRIMARY KEY REFERENCES users(id),
    -- Keyed fingerprint of the token, to find the feed from its link.
    token_key TEXT NOT NULL UNIQUE,
    -- Sealed token, so the page can show the link again.
    token TEXT NOT NULL,
    created_at TEXT NOT NULL
);
