-- Held contacts not yet released, across practitioners: the scheduler looks
-- for overdue ones every few seconds (Store::reschedule_overdue).
CREATE INDEX contacts_waiting ON contacts (released_at, release_at);
