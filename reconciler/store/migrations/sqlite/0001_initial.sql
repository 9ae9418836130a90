-- The first release's schema.
CREATE TABLE store_info (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    store_id TEXT NOT NULL,
    revision INTEGER NOT NULL
);

CREATE TABLE resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    generation INTEGER NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);

CREATE TABLE audit_log (
    revision INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    plan_digest TEXT NOT NULL,
    changes TEXT NOT NULL,
    secrets TEXT NOT NULL
);
