"""Stores are made on purpose: `smtpcfg init` creates and migrates them, every other
command refuses one that does not exist, and concurrent first opens migrate once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from reconciler.store.migrations import migrations
from tests.support.cli import Cli, clean_environment
from tests.support.manifests import user, write_manifests
from tests.support.stores import POSTGRES_URL, backend, execute, older_store, postgres_schema

PROCESSES = 20


def schema_of(url: str) -> str:
    return url.rsplit("search_path%3D", 1)[1]


def test_init_creates_then_is_idempotent(bare_cli: Cli, new_store_url: str) -> None:
    created = bare_cli("init", "--store", new_store_url)
    assert created.code == 0, created.output
    assert created.stdout.startswith("Created store ")
    [(store_id, revision, write_id)] = execute(
        new_store_url, ["SELECT store_id, revision, write_id FROM store_info"]
    )
    assert len(store_id) == 36 and revision == 0 and write_id
    again = bare_cli("init", "--store", new_store_url)
    assert again.code == 0, again.output
    assert "is up to date; nothing to do" in again.stdout and store_id in again.stdout
    assert execute(new_store_url, ["SELECT store_id, revision, write_id FROM store_info"]) == [
        (store_id, revision, write_id)
    ]
    write_manifests(bare_cli.cwd / "m.yaml", [user("ops")])
    applied = bare_cli("apply", "-f", "m.yaml", "--auto-approve", "--store", new_store_url)
    assert applied.code == 0, applied.output


def test_every_command_refuses_a_missing_store(
    bare_cli: Cli, new_store_url: str, tmp_path: Path
) -> None:
    write_manifests(tmp_path / "m.yaml", [user("ops")])
    (tmp_path / "p.json").write_text("{}", encoding="utf-8")
    if backend(new_store_url) == "sqlite":
        where = f"store sqlite:///{tmp_path / 'stores' / 'store.db'} does not exist"
    else:
        where = f"(database test, schema {schema_of(new_store_url)}) does not exist"
    commands = [
        ["plan", "-f", "m.yaml"],
        ["apply", "-f", "m.yaml", "--auto-approve"],
        ["get"],
        ["export"],
        ["history"],
        ["outbox", "list"],
        ["outbox", "show", "1"],
        [
            "outbox",
            "add",
            "--purpose",
            "notification",
            "--settings",
            "s",
            "--to",
            "a@example.com",
            "--subject",
            "s",
            "--body",
            "b",
        ],
        ["deliver", "--once"],
        ["test-email", "primary", "--to", "a@example.com"],
    ]
    for command in commands:
        result = bare_cli(*command, "--store", new_store_url)
        assert result.code == 1, (command, result.output)
        assert where in result.stderr, (command, result)
        assert "create it with `smtpcfg init` (given the same --store or SMTPCFG_STORE)" in (
            result.stderr
        ), (command, result)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "stores").exists()
    if backend(new_store_url) == "postgresql":
        assert execute(
            POSTGRES_URL,
            ["SELECT count(*) FROM pg_namespace WHERE nspname = ?"],
            [schema_of(new_store_url)],
        ) == [(0,)]


def test_relative_sqlite_url_is_shown_by_its_absolute_path(bare_cli: Cli, tmp_path: Path) -> None:
    # SQLAlchemy's rule: three slashes are relative to the current folder.
    result = bare_cli("init", "--store", "sqlite:///tmp/x/s.db")
    assert result.code == 0, result.output
    absolute = tmp_path / "tmp" / "x" / "s.db"
    assert absolute.exists()
    assert f"sqlite:///{absolute} " in result.stdout
    write_manifests(tmp_path / "m.yaml", [user("ops")])
    planned = bare_cli("plan", "-f", "m.yaml", "--store", "sqlite:///tmp/x/s.db")
    assert f"Store: sqlite:///{absolute} (revision 0)" in planned.stdout


def test_an_empty_store_url_is_an_error(bare_cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user("ops")])
    for args, env in (
        (["--store", ""], {}),
        ([], {"SMTPCFG_STORE": ""}),
        ([], {"SMTPCFG_STORE": "  "}),
    ):
        for command in (
            ["init"],
            ["plan", "-f", "m.yaml"],
            ["apply", "-f", "m.yaml", "--auto-approve"],
        ):
            result = bare_cli(*command, *args, env=env)
            assert result.code == 1, (command, args, env)
            where = "--store" if args else "SMTPCFG_STORE"
            assert f"Error: {where} is empty" in result.stderr, result.stderr
    assert list(tmp_path.glob("*.db")) == []


def test_readme_postgresql_url_works_after_init(bare_cli: Cli) -> None:
    """The README's URL form, `options=-csearch_path%3D<schema>`: init makes the schema."""
    with postgres_schema(initialise=False, create=False) as url:
        assert "?options=-csearch_path%3D" in url
        write_manifests(bare_cli.cwd / "m.yaml", [user("ops")])
        refused = bare_cli("apply", "-f", "m.yaml", "--auto-approve", "--store", url)
        assert refused.code == 1 and "smtpcfg init" in refused.stderr
        assert bare_cli("init", "--store", url).code == 0
        applied = bare_cli("apply", "-f", "m.yaml", "--auto-approve", "--store", url)
        assert applied.code == 0, applied.output
        assert execute(url, ["SELECT current_schema(), count(*) FROM resources"]) == [
            (schema_of(url), 1)
        ]


def test_init_needs_no_create_right_where_the_schema_exists(tmp_path: Path) -> None:
    """A role that may not create schemas can still init a store in one made for it."""
    role = f"smtpcfg_init_{tmp_path.name[-8:].replace('-', '_')}".lower()
    with (
        postgres_schema(initialise=False) as url,
        psycopg.connect(POSTGRES_URL, autocommit=True) as admin,
    ):
        admin.execute(f"CREATE ROLE {role} LOGIN")
        try:
            admin.execute(f"ALTER SCHEMA {schema_of(url)} OWNER TO {role}")
            home = tmp_path / "home"
            home.mkdir()
            cli = Cli(tmp_path, clean_environment(home))
            own = url.replace("postgres@", f"{role}@", 1)
            result = cli("init", "--store", own)
            assert result.code == 0, result.output
            missing = own.replace(schema_of(url), f"{schema_of(url)}_other")
            refused = cli("init", "--store", missing)
            assert refused.code == 1 and "permission denied" in refused.stderr
        finally:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def run_at_once(cli: Cli, *args: str) -> list[subprocess.CompletedProcess[str]]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=cli.cwd,
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results


def assert_migrated_once(url: str, store_ids: set[str]) -> None:
    versions = [
        row[0] for row in execute(url, ["SELECT version FROM schema_migrations ORDER BY version"])
    ]
    assert versions == [migration.version for migration in migrations(backend(url))]
    assert {row[0] for row in execute(url, ["SELECT store_id FROM store_info"])} == store_ids


def test_concurrent_first_inits_create_one_store(bare_cli: Cli, new_store_url: str) -> None:
    results = run_at_once(bare_cli, "init", "--store", new_store_url)
    assert [result.stderr for result in results if result.returncode] == []
    assert sum(result.stdout.startswith("Created store ") for result in results) == 1
    [(store_id,)] = execute(new_store_url, ["SELECT store_id FROM store_info"])
    assert all(store_id in result.stdout for result in results)
    assert_migrated_once(new_store_url, {store_id})


def older_sqlite_store(path: Path, version: int) -> str:
    """A store as an smtpcfg that knew migrations up to `version` left it."""
    return older_store(f"sqlite:///{path}", version)


def test_concurrent_opens_of_an_older_sqlite_store_migrate_once(
    bare_cli: Cli, tmp_path: Path
) -> None:
    url = older_sqlite_store(tmp_path / "old.db", 3)
    results = run_at_once(bare_cli, "get", "--store", url)
    assert [result.stderr for result in results if result.returncode] == []
    assert_migrated_once(url, {"old-store"})
    [(write_id,)] = execute(url, ["SELECT write_id FROM store_info"])
    assert len(write_id) == 32  # 0006 gives an older store a random write id


def test_init_migrates_an_older_store(bare_cli: Cli, tmp_path: Path) -> None:
    url = older_sqlite_store(tmp_path / "old.db", 2)
    result = bare_cli("init", "--store", url)
    assert result.code == 0, result.output
    later = ", ".join(str(m.version) for m in migrations("sqlite") if m.version > 2)
    assert f"applied schema migrations {later}" in result.stdout
    assert_migrated_once(url, {"old-store"})
