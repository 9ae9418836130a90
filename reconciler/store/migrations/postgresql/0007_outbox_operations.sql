-- Outbox operations by a person (issue 13): retry, cancel and resolve, each recorded with
-- who, when and why. A retry gives the job a fresh attempt budget: the attempts made
-- before it are kept (and numbered on) but no longer count against --max-attempts.
ALTER TABLE outbox_jobs ADD COLUMN attempts_before_retry INTEGER NOT NULL DEFAULT 0;
-- An HTML alternative of the body (the Max Size alert is text/plain + text/html).
ALTER TABLE outbox_jobs ADD COLUMN body_html TEXT;

CREATE TABLE outbox_operations (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES outbox_jobs (id) ON DELETE CASCADE,
    operation TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    reason TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL
);
CREATE INDEX outbox_operations_job ON outbox_operations (job_id);
CREATE INDEX outbox_jobs_updated ON outbox_jobs (updated_at);
