-- A random id of the store's last write, new on every apply: a plan names it, so a plan
-- made against a copy of the store is refused once either copy has been written since.
ALTER TABLE store_info ADD COLUMN write_id TEXT NOT NULL DEFAULT '';
UPDATE store_info SET write_id = lower(hex(randomblob(16)));
