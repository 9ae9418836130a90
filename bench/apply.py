"""Apply: N creates into an empty store, and N/10 updates of a store holding N.

What is timed is the apply itself, as `smtpcfg apply` runs it once the plan is made:
`reconciler.apply.apply_plan` (the plan's digest, the audit record, the writes) and the
store's one transaction. Opening the store and making the plan happen before the clock
starts; `bench plan` measures making plans.

Resources: N/2 Users and N/2 SmtpSettings (with a Vault password reference); the
updates change the port of N/20 settings and the display name of N/20 users.

Baseline: the same rows (the store's columns, JSON already encoded) written with one
`executemany` into a bare table (same columns and primary key, no other index) in one
transaction: INSERT for the creates, UPDATE ... WHERE kind AND name for the updates.
On PostgreSQL the same through psycopg.

Stores: `--store sqlite` (a new file per run) and `--store postgresql://...` (a server:
each run gets a new schema through `options=-csearch_path=...`, dropped afterwards).
A PostgreSQL server that cannot be reached, or a smtpcfg without the PostgreSQL
backend, skips that store with a note.

Target: <= 3 x the baseline at N = 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.common import Result, emit, interleaved_medians, note, workdir

N = 10_000
SMOKE_N = 40
TARGET = 3.0
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SCOPE = "default"

_BARE_TABLE = (
    "CREATE TABLE resources (kind TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL,"
    " generation INTEGER NOT NULL, labels TEXT NOT NULL, annotations TEXT NOT NULL,"
    " spec TEXT NOT NULL, status TEXT NOT NULL, scope TEXT NOT NULL,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (kind, name))"
)
_INSERT = (
    "INSERT INTO resources (kind, name, uid, generation, labels, annotations, spec,"
    " status, scope, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE = (
    "UPDATE resources SET generation = generation + 1, labels = ?, annotations = ?,"
    " spec = ?, status = ?, scope = ?, updated_at = ? WHERE kind = ? AND name = ?"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--apply-n",
        type=int,
        default=None,
        metavar="N",
        help=f"resources created (default {N}); N/10 are updated",
    )
    parser.add_argument(
        "--store",
        dest="stores",
        action="append",
        metavar="URL",
        help="'sqlite' (a new file per run) or a postgresql:// server URL; "
        "repeatable (default: sqlite and $SMTPCFG_BENCH_POSTGRES or "
        f"{DEFAULT_POSTGRES})",
    )


def run(args: argparse.Namespace) -> list[Result]:
    n = args.apply_n or (SMOKE_N if args.smoke else N)
    runs = args.runs or (1 if args.smoke else 5)
    stores = args.stores or ["sqlite", os.environ.get("SMTPCFG_BENCH_POSTGRES", DEFAULT_POSTGRES)]
    results = []
    with workdir("apply") as root:
        for url in stores:
            backend = _backend(url, root)
            if backend is None:
                continue
            try:
                results.extend(_measure(backend, n, runs))
            finally:
                backend.cleanup()
    return results


# --- what is applied ---------------------------------------------------------------------


def resources(n: int, changed: bool = False) -> dict[Any, Any]:
    """N/2 Users and N/2 SmtpSettings, normalized; with `changed`, a tenth of each differ."""
    from reconciler.model import Resource, ResourceKey

    half = max(1, n // 2)
    found: dict[Any, Any] = {}
    for i in range(half):
        touched = changed and i % 10 == 0
        user = Resource(
            ResourceKey("User", f"user-{i:05d}"),
            {
                "email": f"user-{i}@example.com",
                "displayName": f"User {i}{' (renamed)' if touched else ''}",
            },
        )
        settings = Resource(
            ResourceKey("SmtpSettings", f"smtp-{i:05d}"),
            {
                "host": f"smtp-{i % 50}.example.com",
                "port": 2525 if touched else 587,
                "startTlsOnly": True,
                "from": {"name": f"Billing {i}", "address": f"billing-{i}@example.com"},
                "username": f"mailer-{i}",
                "password": {"vault": {"path": f"secret/bench/smtp-{i % 100}", "key": "password"}},
                "maxAttachmentSize": 10 * 1024 * 1024,
                "notifyUser": f"user-{i:05d}",
            },
            labels={"team": f"team-{i // 100}"},
        )
        found[user.key] = user
        found[settings.key] = settings
    return found


def make_plan(store: Any, declared: dict[Any, Any]) -> Any:
    """The plan `smtpcfg plan` would make. Vault is a stand-in here that answers every
    reference with KV version 1, as a KV v2 server would: the real one is the plan and
    vault benches' part, and the apply records those versions as `smtpcfg apply` does."""
    from reconciler.manifests.load import Manifests
    from reconciler.plan.build import make_plan as build

    return build(
        Manifests(resources=declared),
        store,
        scope=SCOPE,
        take_over=False,
        source="bench",
        threshold=100.0,
        resolver=_StandInVault,
    )


class _StandInVault:
    """Answers every reference with version 1 and a dummy value, without a server."""

    def resolve_all(self, references: Any, concurrency: int = 8) -> dict[Any, Any]:
        from reconciler.vault.resolver import ResolvedSecret
        from reconciler.vault.secret import SecretValue

        return {ref: ResolvedSecret(ref, 1, SecretValue("dummy")) for ref in references}


def apply_plan(plan: Any, store: Any) -> int:
    from reconciler.apply import apply_plan as apply

    return apply(plan, store, actor="bench", threshold=100.0, force=True)


def rows(declared: dict[Any, Any], now: str) -> list[tuple[Any, ...]]:
    """The rows the store writes for `declared`, JSON encoded as it encodes them (with the
    password's KV version in `status`, as an apply records it)."""
    return [
        (
            key.kind,
            key.name,
            str(uuid.uuid4()),
            _dump(r.labels),
            _dump(r.annotations),
            _dump(r.spec),
            _dump(_status(r)),
            SCOPE,
            now,
            now,
        )
        for key, r in declared.items()
    ]


def update_rows(declared: dict[Any, Any], keys: list[Any], now: str) -> list[tuple[Any, ...]]:
    return [
        (
            _dump(declared[k].labels),
            _dump(declared[k].annotations),
            _dump(declared[k].spec),
            _dump(_status(declared[k])),
            SCOPE,
            now,
            k.kind,
            k.name,
        )
        for k in keys
    ]


def _status(resource: Any) -> dict[str, Any]:
    return {"passwordVersion": 1} if "password" in resource.spec else {}


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# --- the measurement -----------------------------------------------------------------------


def _measure(backend: _Backend, n: int, runs: int) -> list[Result]:
    from reconciler.timeutil import utc_now

    first = resources(n)
    second = resources(n, changed=True)
    updated = [
        key
        for key in second
        if second[key].spec != first[key].spec or second[key].labels != first[key].labels
    ]
    now = utc_now()
    create_rows = rows(first, now)
    change_rows = update_rows(second, updated, now)
    results = []
    for action, count in (("create", len(first)), ("update", len(updated))):
        state: dict[str, Any] = {}

        def setup(
            name: str, action: str = action, count: int = count, state: dict[str, Any] = state
        ) -> None:
            if name == "smtpcfg":
                store = backend.fresh_store()
                if action == "update":
                    apply_plan(make_plan(store, first), store)
                state["store"] = store
                state["plan"] = make_plan(store, first if action == "create" else second)
                if len(state["plan"].changes) != count:
                    raise RuntimeError(
                        f"expected {count} changes, the plan has {len(state['plan'].changes)}"
                    )
            else:
                state["bare"] = backend.fresh_bare(create_rows if action == "update" else [])

        def work_smtpcfg(state: dict[str, Any] = state) -> None:
            try:
                apply_plan(state["plan"], state["store"])
            finally:
                state["store"].close()

        def work_baseline(action: str = action, state: dict[str, Any] = state) -> None:
            # The rows are encoded from the resources inside the clock: smtpcfg has to.
            if action == "create":
                state["bare"].write(_INSERT, rows(first, utc_now()))
            else:
                state["bare"].write(_UPDATE, update_rows(second, updated, utc_now()))

        def work_encoded(action: str = action, state: dict[str, Any] = state) -> None:
            state["bare"].write(
                _INSERT if action == "create" else _UPDATE,
                create_rows if action == "create" else change_rows,
            )

        medians = interleaved_medians(
            {"smtpcfg": work_smtpcfg, "baseline": work_baseline, "encoded": work_encoded},
            runs,
            setup,
        )
        ratio = medians["smtpcfg"] / medians["baseline"]
        results.append(
            emit(
                Result(
                    case=f"apply-{action}-{backend.name}",
                    n=count,
                    seconds=medians["smtpcfg"],
                    baseline_seconds=medians["baseline"],
                    ratio=ratio,
                    target=f"<= {TARGET:g} x baseline at N=10,000",
                    met=ratio <= TARGET if len(first) >= N else None,
                    runs=runs,
                    extra={
                        "store_resources": len(first) if action == "update" else 0,
                        "baseline": f"rows encoded, then one executemany into a bare "
                        f"{backend.name} table",
                        "executemany_only_seconds": round(medians["encoded"], 4),
                        "ratio_to_executemany_only": round(
                            medians["smtpcfg"] / medians["encoded"], 2
                        ),
                    },
                )
            )
        )
    return results


# --- stores ----------------------------------------------------------------------------------


@dataclass
class _Bare:
    """A baseline connection: one executemany in one transaction."""

    write: Callable[[str, list[tuple[Any, ...]]], None]


class _Backend:
    name: str

    def fresh_store(self) -> Any: ...

    def fresh_bare(self, rows: list[tuple[Any, ...]]) -> _Bare: ...

    def cleanup(self) -> None: ...


class _Sqlite(_Backend):
    name = "sqlite"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def _path(self, stem: str) -> Path:
        self.count += 1
        return self.root / f"{stem}-{self.count}.db"

    def fresh_store(self) -> Any:
        from reconciler.store.open import open_store

        return open_store(f"sqlite:///{self._path('store')}", create=True)

    def fresh_bare(self, rows: list[tuple[Any, ...]]) -> _Bare:
        db = sqlite3.connect(self._path("bare"), isolation_level=None)
        db.execute(_BARE_TABLE)
        if rows:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(_INSERT, rows)
            db.execute("COMMIT")

        def write(sql: str, values: list[tuple[Any, ...]]) -> None:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(sql, values)
            db.execute("COMMIT")
            db.close()

        return _Bare(write)


class _Postgres(_Backend):
    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.schemas: list[str] = []

    @contextmanager
    def _admin(self) -> Iterator[Any]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            yield connection

    def _schema(self) -> str:
        name = f"smtpcfg_bench_{secrets.token_hex(4)}"
        with self._admin() as connection:
            connection.execute(f'CREATE SCHEMA "{name}"')
        self.schemas.append(name)
        return name

    def fresh_store(self) -> Any:
        from reconciler.store.open import open_store

        separator = "&" if "?" in self.url else "?"
        url = f"{self.url}{separator}options={quote(f'-csearch_path={self._schema()}')}"
        return open_store(url, create=True)

    def fresh_bare(self, rows: list[tuple[Any, ...]]) -> _Bare:
        import psycopg

        schema = self._schema()
        connection = psycopg.connect(self.url, options=f"-csearch_path={schema}")
        insert = _INSERT.replace("?", "%s")
        with connection.transaction():
            connection.execute(_BARE_TABLE)
            if rows:
                connection.cursor().executemany(insert, rows)

        def write(sql: str, values: list[tuple[Any, ...]]) -> None:
            with connection.transaction():
                connection.cursor().executemany(sql.replace("?", "%s"), values)
            connection.close()

        return _Bare(write)

    def cleanup(self) -> None:
        if not self.schemas:
            return
        with self._admin() as connection:
            for name in self.schemas:
                connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _backend(url: str, root: Path) -> _Backend | None:
    if url == "sqlite":
        return _Sqlite(root)
    if not url.startswith(("postgresql://", "postgres://")):
        raise SystemExit(f"--store takes 'sqlite' or a postgresql:// URL, not {url!r}")
    from reconciler.store.open import redact_url

    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5):
            pass
    except Exception as error:  # any failure: skip this store
        note(f"skipping PostgreSQL apply: cannot connect to {redact_url(url)}: {error}")
        return None
    backend = _Postgres(url)
    try:
        backend.fresh_store().close()
    except Exception as error:  # e.g. no backend yet
        backend.cleanup()
        note(f"skipping PostgreSQL apply: smtpcfg cannot open a postgresql:// store: {error}")
        return None
    return backend
