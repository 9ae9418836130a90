-- Scopes: several repositories share one store, each owning its own resources.
-- Everything applied before scopes existed belongs to the scope "default".
ALTER TABLE resources ADD COLUMN scope TEXT NOT NULL DEFAULT 'default';
ALTER TABLE audit_log ADD COLUMN scope TEXT NOT NULL DEFAULT 'default';
CREATE INDEX resources_scope ON resources (scope);
