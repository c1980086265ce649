-- The practitioner a transferred engagement went to, when they work in this
-- Endwell: contacts for the engagement are forwarded to them.
ALTER TABLE engagements ADD COLUMN transferred_to TEXT REFERENCES users(id);
