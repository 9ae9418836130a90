"""The embedded store: one SQLite file, created with mode 0600."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler.model import ResourceKey, StoredResource
from reconciler.store.audit_chain import seal
from reconciler.store.base import (
    AuditEntry,
    ChainState,
    PrepareApply,
    StoreError,
    StoreMissingError,
    StoreState,
    Write,
)
from reconciler.store.faults import R
from reconciler.store.identity import new_store_id, new_write_id
from reconciler.store.migrations import pending
from reconciler.store.open import INIT_HINT
from reconciler.store.rows import (
    AUDIT_COLUMNS,
    CHAIN_STATE_QUERY,
    RESOURCE_COLUMNS,
    WriteBatches,
    audit_entry_from_row,
    audit_values,
    resource_from_row,
)
from reconciler.store.sqlite_outbox import SqliteOutbox
from reconciler.store.stale import ensure_current
from reconciler.timeutil import utc_now

#: How long a writer waits for another writer's lock before giving up, in seconds.
LOCK_TIMEOUT = 10.0


class SqliteStore(SqliteOutbox):
    """A store in one SQLite file. Writers serialize on SQLite's own write lock."""

    def __init__(self, url: str, path: Path, connection: sqlite3.Connection) -> None:
        self.url = url
        self.path = path
        self.migrated: tuple[int, ...] = ()
        self._db = connection

    @classmethod
    def open(cls, url: str, path: Path, *, create: bool) -> SqliteStore:
        """Open (and migrate) the store at `path`; with `create`, make it if need be.

        Without `create`, a missing file is refused and not created: only `smtpcfg init`
        makes stores, so a mistyped path never becomes a new, empty one.
        """
        if not path.exists():
            if not create:
                raise StoreMissingError(f"store {url} does not exist: {INIT_HINT}")
            try:
                _create_private_file(path)
            except OSError as error:
                raise StoreError(f"cannot create store {url}: {error.strerror}") from None
        try:
            connection = sqlite3.connect(str(path), timeout=LOCK_TIMEOUT, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open store {url}: {sqlite_fault(error)}") from None
        store = cls(url, path, connection)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            store._migrate(create=create)
        except sqlite3.Error as error:
            connection.close()
            raise StoreError(f"cannot open store {url}: {sqlite_fault(error)}") from None
        except BaseException:
            connection.close()
            raise
        return store

    def _guard(self, call: Callable[[], R]) -> R:
        try:
            return call()
        except sqlite3.Error as error:
            raise StoreError(f"store {self.url}: {sqlite_fault(error)}") from None

    def state(self) -> StoreState:
        row = self._db.execute("SELECT store_id, revision, write_id FROM store_info").fetchone()
        return StoreState(store_id=row[0], revision=row[1], write_id=row[2])

    def resources(self, kind: str | None = None, scope: str | None = None) -> list[StoredResource]:
        rows = self._db.execute(
            f"SELECT {RESOURCE_COLUMNS} FROM resources WHERE (? IS NULL OR kind = ?)"
            " AND (? IS NULL OR scope = ?) ORDER BY kind, name",
            (kind, kind, scope, scope),
        )
        return [_resource(row) for row in rows]

    def resource(self, key: ResourceKey) -> StoredResource | None:
        row = self._db.execute(
            f"SELECT {RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND name = ?",
            (key.kind, key.name),
        ).fetchone()
        return _resource(row) if row else None

    def apply(self, expected: StoreState, prepare: PrepareApply) -> int:
        try:
            return self._apply(expected, prepare)
        except sqlite3.Error as error:
            raise StoreError(
                f"apply failed and was rolled back; nothing changed: store {self.url}: "
                f"{sqlite_fault(error)}"
            ) from None

    def _apply(self, expected: StoreState, prepare: PrepareApply) -> int:
        with self._write_transaction():
            current = self.state()
            ensure_current(expected, current)
            writes, audit = prepare(self.resources())
            now = utc_now()
            self._write_resources(writes, now)
            revision = current.revision + 1
            entry = seal(audit, revision, now, self.chain_state())
            self._db.execute(
                "UPDATE store_info SET revision = ?, write_id = ?, audit_head = ?",
                (revision, new_write_id(), entry.record_hash),
            )
            self._db.execute(
                f"INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                audit_values(entry, _dump),
            )
        return revision

    def history(self, scope: str | None = None) -> list[AuditEntry]:
        rows = self._db.execute(
            f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE (? IS NULL OR scope = ?)"
            " ORDER BY revision",
            (scope, scope),
        )
        return [audit_entry_from_row(row, json.loads, str) for row in rows]

    def chain_state(self) -> ChainState:
        return ChainState(*self._db.execute(CHAIN_STATE_QUERY).fetchone())

    def close(self) -> None:
        self._db.close()

    def _write_resources(self, writes: list[Write], now: str) -> None:
        batches = WriteBatches.of(writes, _dump)
        self._db.executemany("DELETE FROM resources WHERE kind = ? AND name = ?", batches.deletes)
        self._db.executemany(
            f"INSERT INTO resources ({RESOURCE_COLUMNS}) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
            [
                (kind, name, str(uuid.uuid4()), *rest, now, now)
                for kind, name, *rest in batches.creates
            ],
        )
        self._db.executemany(
            "UPDATE resources SET generation = generation + 1, labels = ?, annotations = ?,"
            " spec = ?, status = ?, scope = ?, updated_at = ? WHERE kind = ? AND name = ?",
            [(*rest, now, kind, name) for kind, name, *rest in batches.updates],
        )
        self._db.executemany(
            "UPDATE resources SET status = ? WHERE kind = ? AND name = ?", batches.statuses
        )

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes SQLite's write lock up front: one writer at a time."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorname not in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                raise  # e.g. a read-only file: the guard names it
            raise StoreError(f"store {self.url} is locked by another writer: {error}") from None
        try:
            yield
        except BaseException:
            # After some errors (a full disk, I/O) SQLite has rolled back already; a
            # second ROLLBACK would fail and hide the error that matters.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self, *, create: bool) -> None:
        """Create or migrate the schema once, however many processes open it at once.

        The version is read again inside the write lock (BEGIN IMMEDIATE), and every
        pending migration runs in that one transaction: whoever gets the lock first
        migrates, the others find nothing left to do.
        """
        applied = self._applied_migrations()
        if applied is None and not create:
            raise StoreMissingError(f"store {self.url} holds no smtpcfg store: {INIT_HINT}")
        if applied is not None and not pending("sqlite", applied, self.url) and self._has_info():
            return
        with self._write_transaction():
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            todo = pending("sqlite", self._applied_migrations() or set(), self.url)
            for migration in todo:
                for statement in _statements(migration.sql):
                    self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (migration.version, utc_now()),
                )
            if not self._has_info():
                self._db.execute(
                    "INSERT INTO store_info (singleton, store_id, revision, write_id)"
                    " VALUES (1, ?, 0, ?)",
                    (new_store_id(), new_write_id()),
                )
        self.migrated = tuple(migration.version for migration in todo)

    def _applied_migrations(self) -> set[int] | None:
        """The migration numbers the store has had; None when it has no schema at all."""
        if (
            self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchone()
            is None
        ):
            return None
        return {row[0] for row in self._db.execute("SELECT version FROM schema_migrations")}

    def _has_info(self) -> bool:
        return bool(self._db.execute("SELECT COUNT(*) FROM store_info").fetchone()[0])


#: What an operator needs to know about SQLite's primary result codes.
_FAULTS = {
    "SQLITE_READONLY": "the store is read-only (file, folder or file system)",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_CORRUPT": "the file is corrupted",
    "SQLITE_NOTADB": "the file is corrupted or not an SQLite database",
    "SQLITE_CANTOPEN": "the file cannot be opened",
    "SQLITE_IOERR": "the disk reported an I/O error",
    "SQLITE_PERM": "permission denied",
}


def sqlite_fault(error: sqlite3.Error) -> str:
    """The cause of a SQLite error in words, with SQLite's own message."""
    code = getattr(error, "sqlite_errorname", None) or ""
    cause = _FAULTS.get("_".join(code.split("_")[:2]))  # SQLITE_IOERR_WRITE is an IOERR
    return f"{cause} ({error})" if cause else str(error)


def _create_private_file(path: Path) -> None:
    """Create the database file owner-only before SQLite does, so it never exists wider.

    SQLite gives its journal and WAL files the main file's permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (migrations hold no `;` inside literals)."""
    return [part.strip() for part in sql.split(";") if part.strip()]


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _dump(value: Any) -> str:
    # One encoder for all rows (json.dumps with options builds one per call); most
    # labels, annotations and statuses are empty.
    return "{}" if value == {} else _ENCODER.encode(value)


def _resource(row: tuple[Any, ...]) -> StoredResource:
    return resource_from_row(row, json.loads, str)
