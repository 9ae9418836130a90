-- Issue 14: where each apply came from, and a hash chain over the audit log.
-- apply_commit, ci_run and approved_by: the apply's own context (the plan's commit stays
-- in source). record_hash: SHA-256 over the record and previous_hash, the record before.
-- The chain starts here: records of an older store (revision <= audit_chain_start) are
-- not covered, and history --verify says so. audit_head: the hash of the last record.
ALTER TABLE audit_log ADD COLUMN apply_commit TEXT;
ALTER TABLE audit_log ADD COLUMN ci_run TEXT;
ALTER TABLE audit_log ADD COLUMN approved_by TEXT;
ALTER TABLE audit_log ADD COLUMN previous_hash TEXT;
ALTER TABLE audit_log ADD COLUMN record_hash TEXT;
ALTER TABLE store_info ADD COLUMN audit_chain_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE store_info ADD COLUMN audit_head TEXT;
UPDATE store_info SET audit_chain_start = revision;
