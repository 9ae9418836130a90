-- The delivery outbox: jobs, their attachments (copied in at enqueue time) and attempts.
CREATE TABLE outbox_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose TEXT NOT NULL,
    settings_name TEXT,
    template_name TEXT,
    recipients TEXT NOT NULL,
    subject TEXT,
    body TEXT,
    variables TEXT NOT NULL,
    account TEXT,
    invoice TEXT,
    status TEXT NOT NULL,
    invoice_status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_by TEXT,
    claimed_until TEXT,
    message_id TEXT,
    last_code INTEGER,
    last_reply TEXT,
    failure TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);

CREATE INDEX outbox_jobs_due ON outbox_jobs (status, next_attempt_at);
CREATE INDEX outbox_jobs_account ON outbox_jobs (account);

CREATE TABLE outbox_attachments (
    job_id INTEGER NOT NULL REFERENCES outbox_jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, position)
);

CREATE TABLE outbox_attempts (
    job_id INTEGER NOT NULL REFERENCES outbox_jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    runner TEXT NOT NULL,
    started_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    code INTEGER,
    reply TEXT,
    PRIMARY KEY (job_id, attempt)
);
