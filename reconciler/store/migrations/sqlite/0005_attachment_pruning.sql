-- Attachment bytes can be pruned from finished jobs. The audit keeps each attachment's
-- name, size and SHA-256 (kept from enqueue on, and computed when pruned for older rows).
ALTER TABLE outbox_attachments ADD COLUMN sha256 TEXT;
ALTER TABLE outbox_jobs ADD COLUMN attachments_pruned_at TEXT;
CREATE INDEX outbox_jobs_finished ON outbox_jobs (finished_at);
