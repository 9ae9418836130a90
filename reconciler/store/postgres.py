"""The shared store: PostgreSQL, for many runners and many repositories' pipelines.

Applies serialize on a transaction-scoped advisory lock and re-check the revision
inside it, so two concurrent applies never interleave: the second waits, then finds
the revision moved and is refused as stale (or times out with a clear error).
psycopg is imported only when a postgresql:// store is opened.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

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
from reconciler.store.faults import R, Reconnect, StoreUnavailable
from reconciler.store.identity import new_store_id, new_write_id
from reconciler.store.migrations import pending
from reconciler.store.open import INIT_HINT
from reconciler.store.postgres_outbox import PostgresOutbox
from reconciler.store.rows import (
    AUDIT_COLUMNS,
    CHAIN_STATE_QUERY,
    RESOURCE_COLUMNS,
    WriteBatches,
    audit_entry_from_row,
    audit_values,
    resource_from_row,
)
from reconciler.store.stale import ensure_current
from reconciler.timeutil import format_utc

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

#: Advisory lock keys (any 64-bit numbers; these spell "smtpcfg" and "migrate").
APPLY_LOCK = 0x736D74706366
MIGRATE_LOCK = 0x6D696772617465
#: How long an apply waits for another apply's lock, in seconds.
LOCK_TIMEOUT = 30


class PostgresStore(PostgresOutbox):
    def __init__(self, url: str, connect: Callable[[], psycopg.Connection[TupleRow]]) -> None:
        self.url = url
        self.migrated: tuple[int, ...] = ()
        self._connect = connect
        self._db = connect()
        self._reconnect: Reconnect | None = None

    @classmethod
    def open(cls, url: str, display_url: str, *, create: bool) -> PostgresStore:
        """Connect and bring the schema up to date; with `create`, make the store (and its
        schema) if need be, else refuse a store that is not there."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        # A URL's own application_name wins: operators (and tests) tell runners apart by it.
        # psycopg drops a parameter passed as None, so the URL's value stays.
        name = None if "application_name" in conninfo_to_dict(url) else "smtpcfg"

        def connect() -> psycopg.Connection[TupleRow]:
            return psycopg.connect(url, autocommit=True, connect_timeout=10, application_name=name)

        try:
            store = cls(display_url, connect)
        except psycopg.Error as error:
            raise StoreError(f"cannot open store {display_url}: {_reason(error)}") from None
        try:
            store._migrate(create=create)
        except BaseException:
            store._db.close()
            raise
        return store

    def keep_connected(self, reconnect: Reconnect) -> None:
        self._reconnect = reconnect

    def _guard(self, call: Callable[[], R]) -> R:
        """Driver errors become StoreErrors; a lost connection is made again first when
        `keep_connected` asked for it, and the whole call repeated.

        Repeating is safe for reads, claims and releases; `finish_attempt` records an
        attempt at most once, however often it is repeated.
        """
        import psycopg

        while True:
            try:
                return call()
            except psycopg.Error as error:
                if not (self._db.broken or self._db.closed):
                    raise StoreError(f"store {self.url}: {_reason(error)}") from None
                if self._reconnect is None:
                    raise StoreUnavailable(
                        f"lost the connection to store {self.url}: {_reason(error)}"
                    ) from None
                self._reconnect_after(_reason(error), self._reconnect)

    def _reconnect_after(self, reason: str, policy: Reconnect) -> None:
        """Connect again with exponential backoff, telling `policy.log` of every try."""
        import psycopg

        self._db.close()
        delay, attempt = policy.first_delay, 0
        while True:
            attempt += 1
            policy.log(
                f"lost the connection to store {self.url} ({reason}); "
                f"reconnecting in {delay:g} s (try {attempt})"
            )
            if not policy.wait(delay):
                raise StoreUnavailable(
                    f"lost the connection to store {self.url}: {reason}; stopped while reconnecting"
                )
            try:
                self._db = self._connect()
            except psycopg.Error as error:
                reason = _reason(error)
                delay = min(delay * 2, policy.max_delay)
                continue
            policy.log(f"reconnected to store {self.url} after {attempt} tries")
            return

    def state(self) -> StoreState:
        row = self._one("SELECT store_id, revision, write_id FROM store_info")
        return StoreState(store_id=row[0], revision=row[1], write_id=row[2])

    def resources(self, kind: str | None = None, scope: str | None = None) -> list[StoredResource]:
        rows = self._db.execute(
            f"SELECT {RESOURCE_COLUMNS} FROM resources"
            " WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)"
            " AND (%(scope)s::text IS NULL OR scope = %(scope)s) ORDER BY kind, name",
            {"kind": kind, "scope": scope},
        ).fetchall()
        return [_resource(row) for row in rows]

    def resource(self, key: ResourceKey) -> StoredResource | None:
        row = self._db.execute(
            f"SELECT {RESOURCE_COLUMNS} FROM resources WHERE kind = %s AND name = %s",
            (key.kind, key.name),
        ).fetchone()
        return _resource(row) if row else None

    def apply(self, expected: StoreState, prepare: PrepareApply) -> int:
        import psycopg

        try:
            with self._locked_transaction(APPLY_LOCK):
                current = self.state()
                ensure_current(expected, current)
                writes, audit = prepare(self.resources())
                revision = current.revision + 1
                now = format_utc(self._one("SELECT now()")[0])
                entry = seal(audit, revision, now, self.chain_state())
                # One pipeline: every write goes out before the first reply is awaited.
                with self._db.pipeline():
                    self._write_resources(writes)
                    self._db.execute(
                        "UPDATE store_info SET revision = %s, write_id = %s, audit_head = %s",
                        (revision, new_write_id(), entry.record_hash),
                    )
                    self._db.execute(
                        f"INSERT INTO audit_log ({AUDIT_COLUMNS})"
                        f" VALUES ({', '.join(['%s'] * 13)})",
                        audit_values(entry, _json),
                    )
        except psycopg.errors.LockNotAvailable:
            raise StoreError(
                f"another apply has held the store's lock for over {LOCK_TIMEOUT} s; "
                "nothing was changed, try again"
            ) from None
        except psycopg.Error as error:
            raise StoreError(
                f"apply failed and was rolled back; nothing changed: {_reason(error)}"
            ) from None
        return revision

    def history(self, scope: str | None = None) -> list[AuditEntry]:
        rows = self._db.execute(
            f"SELECT {AUDIT_COLUMNS} FROM audit_log"
            " WHERE (%(scope)s::text IS NULL OR scope = %(scope)s) ORDER BY revision",
            {"scope": scope},
        ).fetchall()
        return [audit_entry_from_row(row, lambda value: value, format_utc) for row in rows]

    def chain_state(self) -> ChainState:
        store_id, revision, start, head, started_at = self._one(CHAIN_STATE_QUERY)
        return ChainState(store_id, revision, start, head, format_utc(started_at))

    def close(self) -> None:
        self._db.close()

    def _write_resources(self, writes: list[Write]) -> None:
        cursor = self._db.cursor()
        batches = WriteBatches.of(writes, _json)
        statements = [
            ("DELETE FROM resources WHERE kind = %s AND name = %s", batches.deletes),
            (
                f"INSERT INTO resources ({RESOURCE_COLUMNS})"
                " VALUES (%s, %s, %s, 1, %s, %s, %s, %s, %s, now(), now())",
                [(kind, name, str(uuid.uuid4()), *rest) for kind, name, *rest in batches.creates],
            ),
            (
                "UPDATE resources SET generation = generation + 1, labels = %s, annotations = %s,"
                " spec = %s, status = %s, scope = %s, updated_at = now()"
                " WHERE kind = %s AND name = %s",
                [(*rest, kind, name) for kind, name, *rest in batches.updates],
            ),
            ("UPDATE resources SET status = %s WHERE kind = %s AND name = %s", batches.statuses),
        ]
        for statement, rows in statements:
            if rows:  # an empty executemany still costs a pipeline round trip
                cursor.executemany(statement, rows)

    @contextmanager
    def _locked_transaction(self, lock: int) -> Iterator[None]:
        with self._db.transaction():
            self._db.execute(
                "SELECT set_config('lock_timeout', %s, true), pg_advisory_xact_lock(%s)",
                (f"{LOCK_TIMEOUT}s", lock),
            )
            yield

    def _one(self, query: str) -> tuple[Any, ...]:
        row = self._db.execute(query).fetchone()
        assert row is not None
        return row

    def _migrate(self, *, create: bool) -> None:
        """Bring the schema up to date, once, whoever opens the store first.

        Roles that may only read and write rows (runners, CI) never reach the DDL: it
        runs only when a migration is pending. Migrations (and `init`'s CREATE SCHEMA)
        run under a transaction-scoped advisory lock, and the version is read again
        inside it, so concurrent first opens migrate once.
        """
        import psycopg

        try:
            applied = self._applied_migrations()
            if applied is None and not create:
                raise StoreMissingError(
                    f"store {self.url} ({self._where()}) does not exist: {INIT_HINT}"
                )
            if applied is not None and not pending("postgresql", applied, self.url):
                return
            with self._locked_transaction(MIGRATE_LOCK):
                if create:
                    self._create_schema()
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
                )
                todo = pending("postgresql", self._applied_migrations() or set(), self.url)
                for migration in todo:
                    self._db.execute(migration.sql.encode())
                    self._db.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, now())",
                        (migration.version,),
                    )
                self._db.execute(
                    "INSERT INTO store_info (singleton, store_id, revision, write_id)"
                    " VALUES (1, %s, 0, %s) ON CONFLICT (singleton) DO NOTHING",
                    (new_store_id(), new_write_id()),
                )
        except psycopg.Error as error:
            raise StoreError(f"cannot prepare store {self.url}: {_reason(error)}") from None
        self.migrated = tuple(migration.version for migration in todo)

    def _applied_migrations(self) -> set[int] | None:
        """The migration numbers the store has had; None when it has no schema at all."""
        if self._one("SELECT to_regclass('schema_migrations')")[0] is None:
            return None
        rows = self._db.execute("SELECT version FROM schema_migrations").fetchall()
        return {row[0] for row in rows}

    def _target_schema(self) -> str | None:
        """The schema the store lives in: the first of the connection's search_path when
        the URL (or the role or database) sets one, else the server's current schema."""
        setting, source, current, user = self._one(
            "SELECT setting, source, current_schema(), current_user FROM pg_settings"
            " WHERE name = 'search_path'"
        )
        if source == "default":
            return str(current) if current is not None else None
        first = str(setting).split(",")[0].strip().strip('"')
        return str(user) if first == "$user" else first or None

    def _where(self) -> str:
        database = self._one("SELECT current_database()")[0]
        return f"database {database}, schema {self._target_schema() or '(none)'}"

    def _create_schema(self) -> None:
        """CREATE SCHEMA for `init`, only when it is missing: a role that may not create
        schemas can still init a store in one made for it."""
        from psycopg import sql

        schema = self._target_schema()
        if schema is None:
            raise StoreError(
                f"store {self.url} names no schema: add options=-csearch_path%3DNAME to its URL"
            )
        exists = self._db.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
        if exists is None:
            self._db.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _json(value: Any) -> str:
    """JSON text for a JSONB parameter. psycopg sends str as 'unknown', which PostgreSQL
    casts to the column's type; cheaper than its Jsonb wrapper for thousands of rows."""
    return "{}" if value == {} else _ENCODER.encode(value)


def _reason(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _resource(row: tuple[Any, ...]) -> StoredResource:
    # psycopg hands JSONB back as Python values already.
    return resource_from_row(row, lambda value: value, format_utc)
