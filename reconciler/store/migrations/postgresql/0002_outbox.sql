-- The delivery outbox: jobs, their attachments (copied in at enqueue time) and attempts.
CREATE TABLE outbox_jobs (
    id BIGSERIAL PRIMARY KEY,
    purpose TEXT NOT NULL,
    settings_name TEXT,
    template_name TEXT,
    recipients JSONB NOT NULL,
    subject TEXT,
    body TEXT,
    variables JSONB NOT NULL,
    account TEXT,
    invoice TEXT,
    status TEXT NOT NULL,
    invoice_status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_by TEXT,
    claimed_until TIMESTAMPTZ,
    message_id TEXT,
    last_code INTEGER,
    last_reply TEXT,
    failure TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);

CREATE INDEX outbox_jobs_due ON outbox_jobs (status, next_attempt_at);
CREATE INDEX outbox_jobs_account ON outbox_jobs (account);

CREATE TABLE outbox_attachments (
    job_id BIGINT NOT NULL REFERENCES outbox_jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (job_id, position)
);

CREATE TABLE outbox_attempts (
    job_id BIGINT NOT NULL REFERENCES outbox_jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    runner TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    outcome TEXT NOT NULL,
    code INTEGER,
    reply TEXT,
    PRIMARY KEY (job_id, attempt)
);
