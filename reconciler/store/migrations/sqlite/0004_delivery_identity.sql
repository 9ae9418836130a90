-- Per-recipient outcomes and a stable message identity per job (issue 9).
-- A job's Message-ID and Date are fixed at its first attempt and reused on every retry;
-- each attempt records the Message-ID it sent, so duplicates can be recognised.
ALTER TABLE outbox_jobs ADD COLUMN message_date TEXT;
ALTER TABLE outbox_attempts ADD COLUMN message_id TEXT;

-- The last reply each recipient got. No row yet: the recipient is still pending.
CREATE TABLE outbox_recipients (
    job_id INTEGER NOT NULL REFERENCES outbox_jobs (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    status TEXT NOT NULL,
    code INTEGER,
    reply TEXT,
    attempt INTEGER NOT NULL,
    PRIMARY KEY (job_id, address)
);
