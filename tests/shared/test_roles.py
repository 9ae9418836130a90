"""The README's least-privilege roles for a shared PostgreSQL store actually suffice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from tests.support.cli import Cli, clean_environment
from tests.support.manifests import settings, user, write_manifests
from tests.support.stores import POSTGRES_URL

# Kept in step with README.md, "Shared deployment".
APPLY_GRANTS = """
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT ON {schema}.schema_migrations TO {role};
GRANT SELECT, UPDATE ON {schema}.store_info TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.resources TO {role};
GRANT SELECT, INSERT ON {schema}.audit_log TO {role};
"""
RUNNER_GRANTS = """
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT ON {schema}.schema_migrations, {schema}.store_info, {schema}.resources TO {role};
GRANT SELECT, INSERT, UPDATE ON {schema}.outbox_jobs, {schema}.outbox_attachments,
      {schema}.outbox_attempts, {schema}.outbox_recipients TO {role};
GRANT USAGE ON SEQUENCE {schema}.outbox_jobs_id_seq TO {role};
-- outbox retry, cancel and resolve, by whoever operates the runners
GRANT SELECT, INSERT ON {schema}.outbox_operations TO {role};
GRANT USAGE ON SEQUENCE {schema}.outbox_operations_id_seq TO {role};
"""


@pytest.fixture
def roles(tmp_path: Path) -> Iterator[dict[str, Cli]]:
    suffix = uuid.uuid4().hex[:8]
    schema, names = (
        f"roles_{suffix}",
        {k: f"smtpcfg_{k}_{suffix}" for k in ("owner", "apply", "runner")},
    )
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        for name in names.values():
            admin.execute(f"CREATE ROLE {name} LOGIN")
        admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {names['owner']}")
        try:
            clis = {}
            for kind, name in names.items():
                home = tmp_path / kind
                home.mkdir()
                env = clean_environment(home)
                base = POSTGRES_URL.replace("postgres@", f"{name}@", 1)
                env["SMTPCFG_STORE"] = f"{base}?options={quote(f'-csearch_path={schema}')}"
                clis[kind] = Cli(tmp_path, env)
            yield {"schema": schema, "names": names, **clis}  # type: ignore[dict-item]
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
            for name in names.values():
                admin.execute(f"DROP OWNED BY {name}")
                admin.execute(f"DROP ROLE {name}")


def test_owner_migrates_ci_applies_runner_delivers(roles: dict, tmp_path: Path) -> None:
    owner, apply_, runner = roles["owner"], roles["apply"], roles["runner"]
    assert owner("init").code == 0  # the owner creates the store in its schema
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"SET ROLE {roles['names']['owner']}")
        admin.execute(APPLY_GRANTS.format(schema=roles["schema"], role=roles["names"]["apply"]))
        admin.execute(RUNNER_GRANTS.format(schema=roles["schema"], role=roles["names"]["runner"]))
    write_manifests(tmp_path / "m.yaml", [user("ops"), settings("relay", port=2525)])
    applied = apply_("apply", "-f", "m.yaml", "--auto-approve")
    assert applied.code == 0, applied.output
    assert apply_("history").code == 0
    queued = runner(
        "outbox",
        "add",
        "--purpose",
        "notification",
        "--settings",
        "relay",
        "--to",
        "ops@example.com",
        "--subject",
        "s",
        "--body",
        "b",
    )
    assert queued.code == 0, queued.output
    assert runner("outbox", "list").code == 0
    cancelled = runner("outbox", "cancel", queued.stdout.strip(), "--reason", "test")
    assert cancelled.code == 0, cancelled.output
    assert runner("outbox", "show", queued.stdout.strip()).code == 0
    # And no more than that: a runner cannot change what was applied.
    write_manifests(tmp_path / "m.yaml", [user("ops"), settings("relay", port=2626)])
    refused = runner("apply", "-f", "m.yaml", "--auto-approve")
    assert refused.code == 1
    assert "permission denied" in refused.stderr
