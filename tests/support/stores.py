"""Store backends for tests: a SQLite file per test, or a PostgreSQL schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: The PostgreSQL server the suite uses; CI and this machine run one here.
POSTGRES_URL = os.environ.get("SMTPCFG_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def initialised(url: str) -> str:
    """`url`, after creating the store there as `smtpcfg init` does."""
    from reconciler.store.open import open_store

    open_store(url, create=True).close()
    return url


@contextmanager
def postgres_schema(*, initialise: bool = True, create: bool = True) -> Iterator[str]:
    """A fresh schema, dropped afterwards; yields a store URL confined to it.

    The store is initialised unless `initialise` is false; with `create` false, not even
    the schema exists (until `smtpcfg init` makes it).
    """
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    url = f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        if create:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield initialised(url) if initialise else url
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sqlite_url(folder: Path, name: str = "store.db") -> str:
    """The URL of a SQLite store file in `folder`, which does not exist until initialised."""
    return f"sqlite:///{folder / name}"


def backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def execute(url: str, statements: Sequence[str], params: Sequence[Any] = ()) -> list[Any]:
    """Run raw SQL on the store's database (tests' way to break or inspect it)."""
    if backend(url) == "sqlite":
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            rows: list[Any] = []
            for statement in statements:
                rows = db.execute(statement, params).fetchall()
            return rows
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        rows = []
        for statement in statements:
            cursor = db.execute(statement.replace("?", "%s"), params)
            rows = cursor.fetchall() if cursor.description else []
        return rows


def snapshot(url: str) -> list[Any]:
    """Everything an apply writes, in a stable order, to compare before and after."""
    return [
        execute(url, [f"SELECT * FROM {table} ORDER BY 1, 2"])
        for table in ("resources", "audit_log", "store_info")
    ]


def is_empty(url: str) -> bool:
    """True when nothing was ever applied: no store at all, or no resources and no history."""
    if backend(url) == "sqlite":
        if not Path(url.removeprefix("sqlite:///")).exists():
            return True
    elif execute(url, ["SELECT to_regclass('resources')"]) == [(None,)]:
        return True
    return execute(url, ["SELECT COUNT(*) FROM resources"]) == [(0,)] and execute(
        url, ["SELECT COUNT(*) FROM audit_log"]
    ) == [(0,)]


def older_store(url: str, version: int, store_id: str = "old-store") -> str:
    """The store at `url` as an smtpcfg that knew migrations up to `version` left it (for
    PostgreSQL, in the URL's schema, which must exist)."""
    from reconciler.store.migrations import migrations

    dialect = backend(url)
    known = [migration for migration in migrations(dialect) if migration.version <= version]
    info = f"INSERT INTO store_info (singleton, store_id, revision) VALUES (1, '{store_id}', 0)"
    if dialect == "sqlite":
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            db.execute(
                "CREATE TABLE schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            for migration in known:
                db.executescript(migration.sql)
                db.execute(
                    "INSERT INTO schema_migrations VALUES (?, '2026-01-01T00:00:00Z')",
                    (migration.version,),
                )
            db.execute(info)
        return url
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "CREATE TABLE schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
        )
        for migration in known:
            db.execute(migration.sql.encode())
            db.execute(
                "INSERT INTO schema_migrations VALUES (%s, '2026-01-01T00:00:00Z')",
                (migration.version,),
            )
        db.execute(info.encode())
    return url
