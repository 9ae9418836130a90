"""Migrations are tracked as a set: a store migrated past a gap (0008 without 0007, as
branches merge in any order) gets the lower migration when it arrives later. The late
one here is the real 0007 (the outbox operations), which did arrive after 0008."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.store import migrations as migrations_module
from reconciler.store.migrations import migrations
from tests.support.cli import Cli
from tests.support.manifests import user, write_manifests
from tests.support.stores import backend, execute

LATE = 7
#: The real migrations, which the fixture hides behind a copy.
REAL = migrations_module._HERE


@pytest.fixture
def migration_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the real migrations without 0007, which smtpcfg reads instead."""
    folder = tmp_path / "migrations"
    for dialect in ("sqlite", "postgresql"):
        (folder / dialect).mkdir(parents=True)
        for migration in migrations(dialect):
            if migration.version == LATE:
                continue
            shutil.copy(
                migrations_module._HERE / dialect / f"{migration.name}.sql", folder / dialect
            )
    monkeypatch.setattr(migrations_module, "_HERE", folder)
    return folder


def test_a_migration_that_arrives_later_is_applied(
    bare_cli: Cli, new_store_url: str, tmp_path: Path, migration_folder: Path
) -> None:
    assert bare_cli("init", "--store", new_store_url).code == 0
    cli = Cli(tmp_path, {**bare_cli.env, "SMTPCFG_STORE": new_store_url})
    write_manifests(tmp_path / "m.yaml", [user("ann")])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    dialect = backend(new_store_url)
    [late] = (REAL / dialect).glob(f"{LATE:04d}_*.sql")
    shutil.copy(late, migration_folder / dialect)
    result = cli("init")
    assert result.code == 0, result.output
    assert "applied schema migrations 7" in result.stdout
    versions = [
        row[0]
        for row in execute(
            new_store_url, ["SELECT version FROM schema_migrations ORDER BY version"]
        )
    ]
    assert versions == [m.version for m in migrations(dialect)]
    assert LATE in versions and max(versions) > LATE
    assert execute(new_store_url, ["SELECT COUNT(*) FROM outbox_operations"]) == [(0,)]
    assert "up to date" in cli("init").stdout
    assert cli("history", "--verify").code == 0
