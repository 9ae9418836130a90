-- The first release's schema.
CREATE TABLE store_info (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    store_id TEXT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE TABLE resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    generation BIGINT NOT NULL,
    labels JSONB NOT NULL,
    annotations JSONB NOT NULL,
    spec JSONB NOT NULL,
    status JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, name)
);

CREATE TABLE audit_log (
    revision BIGINT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    plan_digest TEXT NOT NULL,
    changes JSONB NOT NULL,
    secrets JSONB NOT NULL
);
